"""Packet format v1: a signed header and body, encrypted when a unit sends.

A packet is the deterministic CBOR array ``[header, body, signature]`` of three byte
strings.  ``header`` holds the encoded header map, so the signature and the AEAD cover
exact bytes and never a re-encoding.  A unit's body is the ChaCha20-Poly1305 ciphertext of
its payload map under a key only the server can derive; the server's body (ACK, NACK) is
the plaintext map, since it holds no secret but must not be forged.

Encrypt-then-sign, with the header as AEAD associated data: the signature covers the
header and the ciphertext, so no field, ciphertext or tag can be swapped between packets
without breaking it, and the server can refuse a forgery without decrypting.  The usual
objection to encrypt-then-sign (a third party strips the signature and signs the
ciphertext as its own) fails here: the unit id sits in the AEAD-authenticated header, so
a re-signed packet no longer decrypts.  Because each packet has its own ephemeral key,
the server can later hand an auditor a single packet's AEAD key to prove what that signed
ciphertext said, without exposing any other packet.

See docs/PROTOCOL.md for the byte-level specification.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

import cbor2

from transport import canonical
from transport.crypto import (
    KEY_LEN,
    NONCE_LEN,
    SIG_LEN,
    AgreementKey,
    SigningKey,
    VerifyKey,
    aead_open,
    aead_seal,
    hkdf_sha256,
    random_bytes,
)
from transport.errors import (
    BadReply,
    BadType,
    Malformed,
    Oversized,
    Tampered,
    Truncated,
    UnsupportedVersion,
)

VERSION = 1
PACKET_MAX = 65536
SIGNATURE_CONTEXT = "pcos-lab/v1/signature"
CONTENT_CONTEXT = "pcos-lab/v1/content"
KEY_INFO = b"pcos-lab/v1/packet-key"
SEQ_MAX = 2**63 - 1
DEC_MAX = 2**32 - 1

_UNIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ELECTION_ID = re.compile(r"[0-9a-f]{16,128}")


class MessageType(enum.IntEnum):
    """Message types; 1-7 are sent by units, 8-15 by the server."""

    ZERO_REPORT = 1
    RESULTS = 2
    AUDIT_HEAD = 3
    HEARTBEAT = 4
    ACK = 8
    NACK = 9

    @property
    def from_unit(self) -> bool:
        return self < 8


def _is_uint(value: Any, top: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top


_SERVER_KEYS = frozenset({"ver", "type", "unit", "election", "dec", "seq", "ts"})
_UNIT_KEYS = _SERVER_KEYS | {"nonce", "epk"}


@dataclass(frozen=True)
class Header:
    """The signed, authenticated fields of every packet.

    ``nonce`` and ``epk`` (the sender's ephemeral X25519 public key) are present exactly
    when a unit sends; :func:`seal` fills them in.
    """

    type: MessageType
    unit: str
    election: str
    dec: int
    seq: int
    ts: int
    nonce: bytes | None = None
    epk: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.unit, str) or not _UNIT_ID.fullmatch(self.unit):
            raise Malformed("unit id must be 1-64 of [A-Za-z0-9._-], starting alphanumeric")
        if not isinstance(self.election, str) or not _ELECTION_ID.fullmatch(self.election):
            raise Malformed("election id must be 16-128 lowercase hex digits", unit=self.unit)
        for name, top in (("dec", DEC_MAX), ("seq", SEQ_MAX), ("ts", SEQ_MAX)):
            if not _is_uint(getattr(self, name), top):
                raise Malformed(f"{name} out of range", unit=self.unit)
        for name, size in (("nonce", NONCE_LEN), ("epk", KEY_LEN)):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, bytes) and len(value) == size):
                raise Malformed(f"{name} must be {size} bytes", unit=self.unit, seq=self.seq)

    def to_map(self) -> dict[str, Any]:
        """The header's fields with their keys already in deterministic order (shorter
        first, then bytewise), so that cbor2's plain encoding of it is the deterministic
        one (every packet and every reply encodes a header)."""
        fields: dict[str, Any] = {"ts": self.ts, "dec": self.dec}
        if self.epk is not None:
            fields["epk"] = self.epk
        fields["seq"] = self.seq
        fields["ver"] = VERSION
        fields["type"] = int(self.type)
        fields["unit"] = self.unit
        if self.nonce is not None:
            fields["nonce"] = self.nonce
        fields["election"] = self.election
        return fields

    def encode(self) -> bytes:
        """The deterministic encoding, without :func:`canonical.dumps`' data-model walk:
        ``__post_init__`` has checked every field's type and range, and :meth:`to_map`
        orders the keys (the tests compare the two encodings on random headers)."""
        return cbor2.dumps(self.to_map())

    @classmethod
    def from_map(cls, fields: Any) -> Header:
        """Validate a decoded header map; the version is checked before anything else."""
        if not isinstance(fields, dict):
            raise Malformed("header is not a map")
        if fields.get("ver") != VERSION or isinstance(fields.get("ver"), bool):
            raise UnsupportedVersion(f"packet version {fields.get('ver')!r} is not {VERSION}")
        kind = fields.get("type")
        types = MessageType._value2member_map_  # the enum's own table: value -> member
        if not _is_uint(kind, 255) or kind not in types:
            raise BadType(f"unknown message type {kind!r}")
        kind = types[kind]
        expected = _UNIT_KEYS if kind.from_unit else _SERVER_KEYS
        if fields.keys() != expected:
            raise Malformed(f"header keys must be {sorted(expected)}")
        if kind.from_unit and not all(isinstance(fields[k], bytes) for k in ("nonce", "epk")):
            raise Malformed("nonce and epk must be byte strings")
        return cls(
            type=kind,
            unit=fields["unit"],
            election=fields["election"],
            dec=fields["dec"],
            seq=fields["seq"],
            ts=fields["ts"],
            nonce=fields.get("nonce"),
            epk=fields.get("epk"),
        )

    def content_map(self) -> dict[str, Any]:
        """The header without its per-encryption fields: what a re-seal keeps."""
        fields = self.to_map()
        fields.pop("nonce", None)
        fields.pop("epk", None)
        return fields


@dataclass(frozen=True)
class Envelope:
    """A structurally valid packet whose signature and body are not yet checked."""

    header: Header
    header_bytes: bytes
    body: bytes
    signature: bytes

    @property
    def signed_bytes(self) -> bytes:
        return signed_bytes(self.header_bytes, self.body)


def signed_bytes(header_bytes: bytes, body: bytes) -> bytes:
    """What Ed25519 signs: the CBOR array [context, header bytes, body bytes].

    Encoded by cbor2 directly, as :meth:`Header.encode` is: an array of a text and
    byte strings has one encoding (the tests compare it with :func:`canonical.dumps`).
    """
    return cbor2.dumps([SIGNATURE_CONTEXT, header_bytes, body])


def packet_key(shared: bytes, epk: bytes, server_public: bytes) -> bytes:
    """The packet's AEAD key: HKDF-SHA256(X25519 secret, salt = epk || server key)."""
    return hkdf_sha256(shared, epk + server_public, KEY_INFO)


def content_digest(header: Header, plaintext: bytes) -> bytes:
    """SHA-256 identifying a packet's content, the same across re-seals of it.

    The input is the deterministic CBOR of [context, header without nonce and epk,
    payload]; ``plaintext`` is the payload's encoding, spliced in rather than encoded
    again (a definite-length array's encoding is its items' encodings in a row).
    """
    prefix = cbor2.dumps([CONTENT_CONTEXT, header.content_map()])  # see Header.encode
    return hashlib.sha256(bytes([prefix[0] + 1]) + prefix[1:] + plaintext).digest()


def message_id(packet: bytes) -> bytes:
    """The link-layer id of a packet: the first 8 bytes of its SHA-256."""
    return hashlib.sha256(packet).digest()[:8]


def _assemble(header_bytes: bytes, body: bytes, signer: SigningKey) -> bytes:
    signature = signer.sign(signed_bytes(header_bytes, body))
    packet = cbor2.dumps([header_bytes, body, signature])  # byte strings: see signed_bytes
    if len(packet) > PACKET_MAX:
        raise Oversized(f"packet of {len(packet)} bytes is above {PACKET_MAX}")
    return packet


def seal(
    header: Header,
    payload: dict[str, Any],
    unit_key: SigningKey,
    server_public: bytes,
    *,
    ephemeral: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Encrypt ``payload`` to the server's X25519 key and sign the result as the unit.

    ``ephemeral`` (X25519 private key) and ``nonce`` default to fresh CSPRNG bytes;
    fixing them is for test vectors only — a repeated nonce is refused by the server.
    """
    if not header.type.from_unit:
        raise BadType(f"a unit cannot send {header.type.name}")
    if not isinstance(payload, dict):
        raise Malformed("payload must be a map")
    try:
        plaintext = canonical.dumps(payload)
    except canonical.CanonicalError as exc:
        raise Malformed(f"payload: {exc}") from exc
    eph = AgreementKey(ephemeral if ephemeral is not None else random_bytes(KEY_LEN))
    nonce = nonce if nonce is not None else random_bytes(NONCE_LEN)
    header = replace(header, nonce=nonce, epk=eph.public)
    header_bytes = header.encode()
    key = packet_key(eph.exchange(server_public), eph.public, server_public)
    return _assemble(header_bytes, aead_seal(key, nonce, header_bytes, plaintext), unit_key)


def parse(packet: bytes) -> Envelope:
    """Check size and structure; raises the specific :class:`~transport.errors.Rejected`."""
    if len(packet) > PACKET_MAX:
        raise Oversized(f"packet of {len(packet)} bytes is above {PACKET_MAX}")
    try:
        outer = canonical.loads(packet)
    except canonical.CanonicalError as exc:
        raise (Truncated if exc.truncated else Malformed)(f"packet: {exc}") from exc
    if not (
        isinstance(outer, list) and len(outer) == 3 and all(isinstance(x, bytes) for x in outer)
    ):
        raise Malformed("packet must be an array of three byte strings")
    header_bytes, body, signature = outer
    try:
        fields = canonical.loads(header_bytes)
    except canonical.CanonicalError as exc:
        raise Malformed(f"header: {exc}") from exc
    header = Header.from_map(fields)
    if len(signature) != SIG_LEN:
        raise Malformed("signature must be 64 bytes", unit=header.unit, seq=header.seq)
    return Envelope(header, header_bytes, body, signature)


_CBOR_MAP = 5
"""The major type of a CBOR map (the top three bits of its first byte)."""


def open_body(envelope: Envelope, server_key: AgreementKey) -> bytes:
    """Decrypt a unit's body: its payload's encoding, checked to be one deterministic
    CBOR map but not decoded (see :attr:`transport.intake.VerifiedPacket.payload`);
    :class:`Tampered` if the AEAD fails."""
    header = envelope.header
    assert header.epk is not None and header.nonce is not None  # from_map guarantees it
    try:
        shared = server_key.exchange(header.epk)
        key = packet_key(shared, header.epk, server_key.public)
        plaintext = aead_open(key, header.nonce, envelope.header_bytes, envelope.body)
    except ValueError as exc:
        raise Tampered(f"cannot open: {exc}", unit=header.unit, seq=header.seq) from exc
    try:
        canonical.check_encoding(plaintext)
    except canonical.CanonicalError as exc:
        raise Malformed(f"payload: {exc}", unit=header.unit, seq=header.seq) from exc
    if plaintext[0] >> 5 != _CBOR_MAP:  # one whole value, so at least one byte
        raise Malformed("payload must be a map", unit=header.unit, seq=header.seq)
    return plaintext


# Server replies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A verified ACK or NACK from the server."""

    header: Header
    body: dict[str, Any]
    packet: bytes


def sign_reply(header: Header, body: dict[str, Any], server_key: SigningKey) -> bytes:
    """Build an ACK or NACK: plaintext body, signed by the server."""
    if header.type.from_unit:
        raise BadType(f"the server cannot send {header.type.name}")
    return _assemble(header.encode(), canonical.dumps(body), server_key)


def read_reply(packet: bytes, server_key: VerifyKey) -> Reply:
    """Parse and verify a server reply; :class:`BadReply` on any defect."""
    try:
        envelope = parse(packet)
        body = canonical.loads(envelope.body)
    except (canonical.CanonicalError, Malformed, Truncated, Oversized) as exc:
        raise BadReply(f"unreadable reply: {exc}") from exc
    except (UnsupportedVersion, BadType) as exc:
        raise BadReply(f"unexpected reply: {exc}") from exc
    if envelope.header.type.from_unit or not isinstance(body, dict):
        raise BadReply("not an ACK or NACK")
    if not server_key.verify(envelope.signed_bytes, envelope.signature):
        raise BadReply("reply signature does not verify under the server key")
    return Reply(envelope.header, body, packet)
