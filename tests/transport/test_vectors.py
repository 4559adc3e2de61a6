"""The committed protocol vectors are what the code computes, and open on the other side."""

from __future__ import annotations

import json

from tests.transport import vectors
from transport import canonical, cobs, frames, intake
from transport.crypto import AgreementKey, SigningKey, VerifyKey
from transport.keys import Registry, ServerKeys
from transport.packet import read_reply


def load() -> dict:
    return json.loads(vectors.PATH.read_text(encoding="utf-8"))


def test_file_is_recomputed_exactly_from_its_inputs():
    committed = load()
    assert vectors.build(committed["inputs"]) == committed


def test_vector_packet_verifies_and_decrypts(tmp_path):
    v = load()
    inputs, p = v["inputs"], v["packet"]
    registry = Registry(tmp_path / "r.json", {})
    registry.add(inputs["unit"], bytes.fromhex(v["keys"]["unit_sign_public"]), now=0)
    server = ServerKeys(
        sign=SigningKey(bytes.fromhex(inputs["server_sign_seed"])),
        kex=AgreementKey(bytes.fromhex(inputs["server_kex_private"])),
    )
    for data in [bytes.fromhex(p["packet"])]:
        verified = intake.verify(
            data,
            registry,
            intake.MemoryReplayState(),
            server=server,
            election=inputs["packet"]["election"],
        )
        assert verified.payload == inputs["packet"]["payload"]
        assert verified.digest.hex() == p["content_digest"]
    reassembler = frames.Reassembler()
    parts = [reassembler.add(frames.decode(bytes.fromhex(w))) for w in p["frames"]]
    assert parts[-1] == bytes.fromhex(p["packet"]) and parts[:-1] == [None] * (len(parts) - 1)


def test_vector_replies_verify_under_the_server_key():
    v = load()
    key = VerifyKey(bytes.fromhex(v["keys"]["server_sign_public"]))
    ack = read_reply(bytes.fromhex(v["ack"]["packet"]), key)
    assert ack.body["digest"].hex() == v["packet"]["content_digest"]
    nack = read_reply(bytes.fromhex(v["nack"]["packet"]), key)
    assert (nack.body["code"], nack.body["name"]) == (49, "stale-seq")
    status = frames.decode(bytes.fromhex(v["status"]["frame"]))
    assert status.missing == (0, 2)


def test_cobs_vectors_decode_back():
    for case in load()["cobs"]:
        assert cobs.decode(bytes.fromhex(case["encoded"])) == bytes.fromhex(case["data"])
        assert 0 not in bytes.fromhex(case["encoded"])


def test_every_vector_cbor_is_deterministic():
    p = load()["packet"]
    for name in ("header", "plaintext", "signed_bytes", "packet", "content_digest_input"):
        data = bytes.fromhex(p[name])
        assert canonical.dumps(canonical.loads(data)) == data
