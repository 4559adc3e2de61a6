"""The receiver's one entry point: bytes in, a verified packet or a typed rejection out.

The server calls :func:`verify` on every packet (or single-chunk frame) and never
re-implements any part of it.  Checks run from cheapest to dearest and each failure has
its own :class:`~transport.errors.Rejected` subclass; no other exception leaves
:func:`verify` on any input, and a rejection never changes the replay state.

Order: size, framing and CRC -> CBOR structure -> version and type -> unit known and not
revoked -> AEAD (the header is its associated data, so a changed field, ciphertext or tag
shows as ``tampered``) -> Ed25519 signature over header and ciphertext -> election ->
sequence and nonce against the replay state.

Exactly-once is the server's duty in two steps: :func:`verify` reports a packet already
accepted as a duplicate carrying the ACK sent the first time; for a new packet the server
stores it durably and only then calls :func:`acknowledge`, which records the (unit, seq)
and returns the ACK to send.  A durable replay state should commit that record in the
same transaction as the stored packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from transport import frames
from transport.errors import (
    BadFrame,
    BadSignature,
    BadType,
    Fragment,
    NonceReused,
    Rejected,
    SeqReused,
    StaleSeq,
    WrongElection,
)
from transport.keys import Registry, ServerKeys
from transport.packet import (
    Header,
    MessageType,
    content_digest,
    message_id,
    open_body,
    parse,
    sign_reply,
)

PACKET_FIRST_BYTE = 0x83  # a CBOR array of three items; a frame starts with 0x03


@dataclass(frozen=True)
class Accepted:
    """What the receiver remembers of an accepted packet."""

    digest: bytes
    ack: bytes


class ReplayState(Protocol):
    """Per-unit memory of accepted sequence numbers and nonces.

    The server provides a durable (SQLite) implementation; :class:`MemoryReplayState`
    is for tests and the in-process gateway.
    """

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        """The record of (unit, seq) if it was accepted."""
        ...

    def highest_seq(self, unit: str) -> int:
        """The highest accepted seq of ``unit``; 0 when none."""
        ...

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        """Whether an accepted packet of ``unit`` carried ``nonce``."""
        ...

    def record(self, unit: str, seq: int, nonce: bytes, accepted: Accepted) -> None:
        """Remember an accepted packet (called by :func:`acknowledge` only)."""
        ...


@dataclass
class MemoryReplayState:
    """:class:`ReplayState` in dictionaries; lost when the process ends."""

    _accepted: dict[tuple[str, int], Accepted] = field(default_factory=dict)
    _highest: dict[str, int] = field(default_factory=dict)
    _nonces: dict[str, set[bytes]] = field(default_factory=dict)

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        return self._accepted.get((unit, seq))

    def highest_seq(self, unit: str) -> int:
        return self._highest.get(unit, 0)

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        return nonce in self._nonces.get(unit, ())

    def record(self, unit: str, seq: int, nonce: bytes, accepted: Accepted) -> None:
        self._accepted[(unit, seq)] = accepted
        self._highest[unit] = max(seq, self._highest.get(unit, 0))
        self._nonces.setdefault(unit, set()).add(nonce)

    def snapshot(self) -> tuple:
        """A comparable copy, so tests can prove a rejection changed nothing."""
        return (
            dict(self._accepted),
            dict(self._highest),
            {unit: frozenset(n) for unit, n in self._nonces.items()},
        )


@dataclass(frozen=True)
class VerifiedPacket:
    """A packet whose signature, encryption, election and sequence all check out.

    ``duplicate`` packets were accepted before: store nothing, send ``ack`` again.
    ``packet`` is the signed bytes as received, the evidence to keep.
    """

    header: Header
    payload: dict[str, Any]
    digest: bytes
    message_id: bytes
    packet: bytes
    duplicate: bool = False
    ack: bytes | None = None

    @property
    def unit(self) -> str:
        return self.header.unit

    @property
    def seq(self) -> int:
        return self.header.seq

    @property
    def type(self) -> MessageType:
        return self.header.type


def unframe(data: bytes) -> bytes:
    """The packet in ``data``: ``data`` itself, or the content of a single-chunk frame."""
    if data[:1] == bytes([PACKET_FIRST_BYTE]):
        return data
    frame = frames.decode(data)
    if not isinstance(frame, frames.Chunk):
        raise Fragment("a status frame carries no packet")
    if frame.count != 1:
        raise Fragment(f"chunk {frame.index} of {frame.count}: reassemble the message first")
    if message_id(frame.data) != frame.message:
        raise BadFrame("chunk does not match its message id")
    return frame.data


def verify(
    data: bytes,
    registry: Registry,
    replay: ReplayState,
    *,
    server: ServerKeys,
    election: str,
) -> VerifiedPacket:
    """Check a packet (or single-chunk frame) from a unit; see the module docstring.

    Raises a :class:`~transport.errors.Rejected` subclass, and nothing else, for any
    input.  Reads ``replay`` but never writes it.
    """
    packet = unframe(data)
    envelope = parse(packet)
    header = envelope.header
    where = {"unit": header.unit, "seq": header.seq}
    if not header.type.from_unit:
        raise BadType(f"a unit cannot send {header.type.name}", **where)
    key = registry.verify_key(header.unit)
    payload, plaintext = open_body(envelope, server.kex)
    if not key.verify(envelope.signed_bytes, envelope.signature):
        raise BadSignature("signature does not verify under the unit's key", **where)
    if header.election != election:
        raise WrongElection(f"packet is for election {header.election[:16]}…", **where)
    digest = content_digest(header, plaintext)
    verified = VerifiedPacket(header, payload, digest, message_id(packet), packet)
    previous = replay.accepted(header.unit, header.seq)
    if previous is not None:
        if previous.digest != digest:
            raise SeqReused(f"seq {header.seq} was accepted with other content", **where)
        return replace(verified, duplicate=True, ack=previous.ack)
    if header.seq <= replay.highest_seq(header.unit):
        raise StaleSeq(f"seq {header.seq} is below the highest accepted", **where)
    assert header.nonce is not None  # every unit header has one
    if replay.nonce_used(header.unit, header.nonce):
        raise NonceReused(f"nonce {header.nonce.hex()} was used before", **where)
    return verified


def acknowledge(packet: VerifiedPacket, replay: ReplayState, server: ServerKeys, now: int) -> bytes:
    """Record an accepted packet and return its signed ACK (call after durable storage).

    For a duplicate, the ACK sent the first time, byte for byte.
    """
    if packet.duplicate:
        assert packet.ack is not None
        return packet.ack
    h = packet.header
    header = Header(MessageType.ACK, h.unit, h.election, h.dec, h.seq, now)
    ack = sign_reply(header, {"digest": packet.digest}, server.sign)
    assert h.nonce is not None
    replay.record(h.unit, h.seq, h.nonce, Accepted(packet.digest, ack))
    return ack


def refuse(error: Rejected, message: bytes, server: ServerKeys, election: str, now: int) -> bytes:
    """A signed NACK telling the sender of ``message`` (link message id) why it failed.

    The header names the unit and seq when the packet got far enough to show them, and
    the server's own election otherwise.
    """
    unit = error.unit or "server"
    header = Header(MessageType.NACK, unit, election, 0, error.seq or 0, now)
    body = {"code": error.wire, "name": error.code, "reason": str(error)[:200], "msg": message}
    return sign_reply(header, body, server.sign)
