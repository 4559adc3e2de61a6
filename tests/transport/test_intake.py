"""Every hostile input gets its own code, and leaves the replay state as it was."""

from __future__ import annotations

import os
import pickle

import pytest

from tests.transport.conftest import ELECTION, OTHER_ELECTION
from transport import canonical, cobs, crc, errors, frames, intake
from transport.crypto import (
    KEY_LEN,
    NONCE_LEN,
    AgreementKey,
    SigningKey,
    VerifyKey,
    aead_seal,
    random_bytes,
)
from transport.packet import Header, MessageType, packet_key, parse, read_reply, signed_bytes


def repack(
    packet: bytes,
    *,
    header: bytes | None = None,
    body: bytes | None = None,
    signature: bytes | None = None,
) -> bytes:
    h, b, s = canonical.loads(packet)
    return canonical.dumps([header or h, body or b, signature or s])


@pytest.fixture
def world(store):
    return store.registry(), intake.MemoryReplayState(), store.server_keys()


def verify(data: bytes, world, election: str = ELECTION) -> intake.VerifiedPacket:
    registry, replay, server = world
    return intake.verify(data, registry, replay, server=server, election=election)


def accept(data: bytes, world, now: int = 1_638_130_000) -> bytes:
    _, replay, server = world
    return intake.acknowledge(verify(data, world), replay, server, now)


def rejects(data: bytes, world, kind: type[errors.Rejected], election: str = ELECTION) -> None:
    before = world[1].snapshot()
    with pytest.raises(kind) as caught:
        verify(data, world, election)
    assert type(caught.value) is kind
    assert world[1].snapshot() == before


def test_valid_packet_is_verified_and_only_acknowledge_records_it(make_packet, world):
    packet = make_packet(3, payload={"votes": {"P01": 12}})
    verified = verify(packet, world)
    assert (verified.unit, verified.seq, verified.type) == ("PCOS-0001", 3, MessageType.RESULTS)
    assert verified.payload == {"votes": {"P01": 12}} and not verified.duplicate
    assert world[1].snapshot() == intake.MemoryReplayState().snapshot()
    ack = accept(packet, world)
    reply = read_reply(ack, VerifyKey(world[2].sign.public))
    assert reply.header.type is MessageType.ACK and reply.header.seq == 3
    assert reply.body == {"digest": verified.digest}
    assert world[1].highest_seq("PCOS-0001") == 3


def test_single_chunk_frame_is_accepted_like_its_packet(make_packet, world):
    packet = make_packet(1)
    (chunk,) = frames.split(packet)
    assert verify(frames.encode(chunk), world).packet == packet


def test_replay_gets_the_same_ack_byte_for_byte(make_packet, world):
    packet = make_packet(1)
    ack = accept(packet, world, now=100)
    again = verify(packet, world)
    assert again.duplicate and again.ack == ack
    assert accept(packet, world, now=999) == ack


def test_resealed_same_content_is_a_duplicate_too(make_packet, world):
    ack = accept(make_packet(1), world)
    resealed = make_packet(1)  # fresh nonce and ephemeral key, same header and payload
    assert verify(resealed, world).ack == ack


def test_same_seq_with_other_content_is_refused(make_packet, world):
    accept(make_packet(1, payload={"votes": {"P01": 1}}), world)
    rejects(make_packet(1, payload={"votes": {"P01": 2}}), world, errors.SeqReused)


def test_seq_below_the_highest_accepted_is_stale(make_packet, world):
    accept(make_packet(5), world)
    rejects(make_packet(4), world, errors.StaleSeq)
    verify(make_packet(9), world)  # gaps upwards are fine


def test_reused_nonce_is_refused(make_packet, world):
    nonce = bytes(range(12))
    accept(make_packet(1, nonce=nonce), world)
    rejects(make_packet(2, nonce=nonce), world, errors.NonceReused)


def test_forged_signature(make_packet, world):
    rejects(make_packet(1, signer="PCOS-0002"), world, errors.BadSignature)
    packet = make_packet(1)
    signature = bytearray(canonical.loads(packet)[2])
    signature[5] ^= 1
    rejects(repack(packet, signature=bytes(signature)), world, errors.BadSignature)


def test_unknown_and_revoked_units(make_packet, world):
    rejects(make_packet(1, unit="PCOS-9999", signer="PCOS-0001"), world, errors.UnknownUnit)
    rejects(make_packet(1, unit="PCOS-REVOKED"), world, errors.RevokedUnit)


def test_wrong_election(make_packet, world):
    rejects(make_packet(1, election=OTHER_ELECTION), world, errors.WrongElection)


@pytest.mark.parametrize(
    "where", [0, 7, -17, -1], ids=["ct-first", "ct-middle", "tag-first", "tag-last"]
)
def test_tampered_ciphertext_or_tag(make_packet, world, where):
    packet = make_packet(1)
    body = bytearray(canonical.loads(packet)[1])
    body[where] ^= 0x40
    rejects(repack(packet, body=bytes(body)), world, errors.Tampered)


def test_tampered_header_fails_the_aead(make_packet, store, world):
    """Even re-signed by the unit itself, a header changed after sealing does not open."""
    packet = make_packet(1)
    envelope = parse(packet)
    header = {**canonical.loads(envelope.header_bytes), "seq": 2}
    header_bytes = canonical.dumps(header)
    signature = store.unit_key("PCOS-0001").sign.sign(signed_bytes(header_bytes, envelope.body))
    forged = repack(packet, header=header_bytes, signature=signature)
    rejects(forged, world, errors.Tampered)


def test_truncated_packet_and_frame(make_packet, world):
    packet = make_packet(1)
    rejects(packet[:-10], world, errors.Truncated)
    wire = frames.encode(frames.split(packet)[0])
    rejects(wire[:-1], world, errors.Truncated)  # no delimiter
    rejects(wire[:40] + b"\x00", world, errors.Truncated)  # a block runs past the end


def test_oversized_packet_and_frame(make_packet, world):
    rejects(b"\x83" + bytes(70_000), world, errors.Oversized)
    rejects(b"\x03" + b"\x01" * 600 + b"\x00", world, errors.Oversized)


def test_bad_crc(make_packet, world):
    wire = frames.encode(frames.split(make_packet(1))[0])
    raw = bytearray(cobs.decode(wire[:-1]))
    raw[20] ^= 0x01 if raw[20] != 0x01 else 0x02  # keep it non-zero; CRC left as it was
    assert crc.strip(bytes(raw)) is None
    rejects(cobs.encode(bytes(raw)) + b"\x00", world, errors.BadCrc)


def test_bad_frame_structure(world):
    body = bytes([1, 1, 0]) + bytes(8) + (1).to_bytes(2, "big") + (1).to_bytes(2, "big") + b"x"
    rejects(cobs.encode(crc.append(body)) + b"\x00", world, errors.BadFrame)  # index >= count
    body = bytes([2, 1, 0]) + bytes(8) + bytes(4) + b"x"
    rejects(cobs.encode(crc.append(body)) + b"\x00", world, errors.BadFrame)  # version 2


def test_fragment_of_a_chunked_message(make_packet, world):
    first = frames.split(make_packet(1, payload={"pad": "x" * 600}))[0]
    rejects(frames.encode(first), world, errors.Fragment)


@pytest.mark.parametrize(
    "data",
    [
        b"\x83",
        b"\x83\x40\x40\x40",  # right shape, empty byte strings
        b"\x83\x41\x00\x40\x58\x40" + bytes(64),  # header is not a map
        bytes.fromhex("a0"),
        b"\x83\x40\x40\x40\x00",  # trailing byte
        b"\x9f\x40\x40\x40\xff",  # indefinite array
    ],
)
def test_malformed_cbor(world, data):
    with pytest.raises((errors.Malformed, errors.Truncated, errors.BadFrame)):
        verify(data, world)
    assert world[1].snapshot() == intake.MemoryReplayState().snapshot()


def test_non_canonical_header_is_malformed(make_packet, world):
    packet = make_packet(1)
    h = canonical.loads(canonical.loads(packet)[0])
    import cbor2

    unsorted = cbor2.dumps(dict(reversed(list(h.items()))))  # not deterministic key order
    rejects(repack(packet, header=unsorted), world, errors.Malformed)


def _sealed_plaintext(store, plaintext: bytes) -> bytes:
    """A packet from PCOS-0001 whose encrypted payload is ``plaintext`` as given, signed
    and sealed correctly: what :func:`seal` never makes, since it encodes a map."""
    server = store.server_public().kex
    ephemeral, nonce = AgreementKey(random_bytes(KEY_LEN)), random_bytes(NONCE_LEN)
    header = Header(
        MessageType.RESULTS, "PCOS-0001", ELECTION, 1001, 1, 1_638_129_600, nonce, ephemeral.public
    )
    header_bytes = header.encode()
    key = packet_key(ephemeral.exchange(server), ephemeral.public, server)
    body = aead_seal(key, nonce, header_bytes, plaintext)
    signature = store.unit_key("PCOS-0001").sign.sign(signed_bytes(header_bytes, body))
    return canonical.dumps([header_bytes, body, signature])


@pytest.mark.parametrize(
    ("plaintext", "why"),
    [
        (canonical.dumps([1, 2]), "must be a map"),
        (canonical.dumps("votes"), "must be a map"),
        (b"\xa1\x61a\x18\x01", "payload: "),  # 1 written in two bytes: not deterministic
        (b"\xa1\x61a\x01\x00", "payload: "),  # a trailing byte
        (b"\xa1\x61a", "payload: "),  # cut short
        (b"", "payload: "),
    ],
)
def test_a_payload_that_is_not_one_deterministic_map_is_malformed(store, world, plaintext, why):
    """Checked in the line worker although it is decoded only in the server process."""
    data = _sealed_plaintext(store, plaintext)
    rejects(data, world, errors.Malformed)
    with pytest.raises(errors.Malformed, match=why):
        verify(data, world)


def test_the_payload_is_decoded_only_when_asked_for(store, world):
    """A line worker hands the server the payload's bytes, not a decoded copy."""
    verified = verify(_sealed_plaintext(store, canonical.dumps({"dec": 1001})), world)
    assert "payload" not in vars(verified)
    assert "payload" not in vars(pickle.loads(pickle.dumps(verified)))
    assert verified.payload == {"dec": 1001} and "payload" in vars(verified)


def _with_header(packet: bytes, signer: SigningKey, **changes) -> bytes:
    envelope = parse(packet)
    header = {**canonical.loads(envelope.header_bytes), **changes}
    header_bytes = canonical.dumps(header)
    signature = signer.sign(signed_bytes(header_bytes, envelope.body))
    return canonical.dumps([header_bytes, envelope.body, signature])


def test_unsupported_version_and_bad_type(make_packet, store, world):
    signer = store.unit_key("PCOS-0001").sign
    packet = make_packet(1)
    rejects(_with_header(packet, signer, ver=2), world, errors.UnsupportedVersion)
    rejects(_with_header(packet, signer, type=99), world, errors.BadType)
    ack_like = _with_header(packet, signer, type=int(MessageType.ACK))
    rejects(ack_like, world, errors.Malformed)  # an ACK header has no nonce or epk


def test_random_bytes_are_rejected(world):
    for _ in range(200):
        data = os.urandom(int.from_bytes(os.urandom(1), "big") + 1)
        with pytest.raises(errors.Rejected):
            verify(data, world)
    assert world[1].snapshot() == intake.MemoryReplayState().snapshot()


def test_refusal_is_a_signed_nack_naming_the_packet(make_packet, world):
    _, _, server = world
    packet = make_packet(1, unit="PCOS-REVOKED")
    with pytest.raises(errors.RevokedUnit) as caught:
        verify(packet, world)
    nack = intake.refuse(caught.value, b"12345678", server, ELECTION, now=5)
    reply = read_reply(nack, VerifyKey(server.sign.public))
    assert reply.header.type is MessageType.NACK and reply.header.unit == "PCOS-REVOKED"
    assert reply.body["code"] == errors.RevokedUnit.wire
    assert reply.body["name"] == "revoked-unit" and reply.body["msg"] == b"12345678"


def test_wire_codes_are_unique_and_named():
    assert len(errors.REJECTIONS) == len({c.code for c in errors.REJECTIONS.values()})
    assert errors.REJECTIONS[36] is errors.Tampered
