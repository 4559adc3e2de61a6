"""COBS, CRC-32, deterministic CBOR and the crypto wrappers against published values."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transport import canonical, cobs, crc
from transport.crypto import (
    AgreementKey,
    SigningKey,
    VerifyKey,
    aead_open,
    aead_seal,
    hkdf_sha256,
)
from transport.errors import Oversized
from transport.packet import (
    CONTENT_CONTEXT,
    DEC_MAX,
    PACKET_MAX,
    SEQ_MAX,
    SIGNATURE_CONTEXT,
    Header,
    MessageType,
    _assemble,
    content_digest,
    signed_bytes,
)

QUICK = settings(max_examples=300, deadline=None, derandomize=True, database=None)


def test_crc_check_value():
    assert crc.crc32(b"123456789") == crc.CHECK_VALUE == 0xCBF43926
    assert crc.strip(crc.append(b"abc")) == b"abc"
    assert crc.strip(b"abc") is None


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        ("", "01"),
        ("00", "0101"),
        ("0000", "010101"),
        ("112200", "03112201"),
        ("11223344", "0511223344"),
        ("1122000033", "031122010233"),
    ],
)
def test_cobs_published_examples(data, encoded):
    assert cobs.encode(bytes.fromhex(data)).hex() == encoded
    assert cobs.decode(bytes.fromhex(encoded)) == bytes.fromhex(data)


@QUICK
@given(st.binary(max_size=1200))
def test_cobs_round_trip_has_no_zero_and_bounded_overhead(data):
    encoded = cobs.encode(data)
    assert 0 not in encoded and cobs.decode(encoded) == data
    assert len(encoded) <= len(data) + 1 + len(data) // 254


def test_cobs_errors():
    with pytest.raises(cobs.CobsError) as caught:
        cobs.decode(b"\x05\x11")
    assert caught.value.truncated
    with pytest.raises(cobs.CobsError):
        cobs.decode(b"\x02\x00")


def test_canonical_sorts_keys_and_uses_shortest_forms():
    assert canonical.dumps({"bb": 1, "a": 2}).hex() == "a2616102626262" + "01"
    assert canonical.dumps(1.5).hex() == "f93e00"


@pytest.mark.parametrize(
    "data",
    [
        "a2626262016161" + "02",  # keys out of order
        "1817",  # 23 in a longer form than needed
        "5f4101ff",  # indefinite byte string
        "c11a514b67b0",  # a tag
        "0102",  # trailing byte
        "a2616101616102",  # duplicate key
        "a10102",  # integer key
        "f97e00",  # NaN
    ],
)
def test_canonical_rejects_other_encodings(data):
    with pytest.raises(canonical.CanonicalError):
        canonical.loads(bytes.fromhex(data))


def test_canonical_truncation_is_named():
    with pytest.raises(canonical.CanonicalError) as caught:
        canonical.loads(bytes.fromhex("83414141"))
    assert caught.value.truncated


def test_x25519_rfc7748():
    alice = AgreementKey(
        bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    )
    bob = AgreementKey(
        bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    )
    assert alice.public.hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert alice.exchange(bob.public).hex() == bob.exchange(alice.public).hex() == shared
    with pytest.raises(ValueError):
        alice.exchange(bytes(32))  # low-order point


def test_ed25519_rfc8032_test_1():
    key = SigningKey(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert key.public.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    signature = key.sign(b"")
    assert signature.hex().startswith(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e0652249"
    )
    assert VerifyKey(key.public).verify(b"", signature)
    assert not VerifyKey(key.public).verify(b"x", signature)
    assert not VerifyKey(key.public).verify(b"", signature[:10])


def test_aead_detects_any_change():
    key, nonce = bytes(32), bytes(12)
    sealed = aead_seal(key, nonce, b"aad", b"secret")
    assert aead_open(key, nonce, b"aad", sealed) == b"secret"
    for bad in (sealed[:-1] + bytes([sealed[-1] ^ 1]), b"x" + sealed[1:]):
        with pytest.raises(ValueError):
            aead_open(key, nonce, b"aad", bad)
    with pytest.raises(ValueError):
        aead_open(key, nonce, b"other", sealed)


def test_hkdf_rfc5869_case_1():
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    expected = (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    assert okm.hex() == expected


_UNIT_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)
_ELECTION_IDS = st.from_regex(r"[0-9a-f]{16,128}", fullmatch=True)
_UINT = st.integers(0, SEQ_MAX)


@QUICK
@given(
    st.sampled_from(MessageType),
    _UNIT_IDS,
    _ELECTION_IDS,
    st.integers(0, DEC_MAX),
    _UINT,
    _UINT,
    st.booleans(),
    st.binary(min_size=12, max_size=12),
    st.binary(min_size=32, max_size=32),
)
def test_header_encoding_is_the_canonical_one(kind, unit, election, dec, seq, ts, sealed, n, epk):
    header = Header(kind, unit, election, dec, seq, ts, *((n, epk) if sealed else ()))
    reference = canonical.dumps(dict(header.to_map()))
    assert header.encode() == reference
    content = canonical.dumps([CONTENT_CONTEXT, dict(header.content_map()), {}])
    assert content_digest(header, canonical.dumps({})) == hashlib.sha256(content).digest()
    assert canonical.loads(reference) == header.to_map()


@QUICK
@given(st.binary(max_size=600), st.binary(max_size=70_000), st.binary(max_size=70))
def test_signed_bytes_and_packets_are_the_canonical_arrays(header_bytes, body, signature):
    """Both are encoded by cbor2 directly, skipping the data-model walk: arrays of a
    text and byte strings (lengths across every head size) have one encoding."""
    reference = canonical.dumps([SIGNATURE_CONTEXT, header_bytes, body])
    assert signed_bytes(header_bytes, body) == reference
    signer = SigningKey(bytes(32))
    expected = canonical.dumps([header_bytes, body, signer.sign(reference)])
    if len(expected) > PACKET_MAX:
        with pytest.raises(Oversized):
            _assemble(header_bytes, body, signer)
    else:
        assert _assemble(header_bytes, body, signer) == expected
