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

:func:`verify` is three stages, public so that a busy server can spread them: the cheap
:func:`screen` (framing to registry), the costly :func:`unseal` (AEAD, signature,
election), which reads no shared state and so can run in parallel, even in another
process, and :func:`check_replay`, which must see every earlier acceptance.
:func:`settle` runs the last stage for a group of packets and stores the new ones with
one commit (group commit), releasing no ACK before that commit returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from transport import canonical, frames
from transport.crypto import AgreementKey, VerifyKey
from transport.errors import (
    BadFrame,
    BadSignature,
    BadType,
    Fragment,
    NonceReused,
    Rejected,
    SeqReused,
    StaleSeq,
    StoreFailed,
    WrongElection,
)
from transport.keys import Registry, ServerKeys
from transport.packet import (
    Envelope,
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


class ReplayView(Protocol):
    """What the receiver reads of its memory of accepted packets (see :class:`ReplayState`)."""

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        """The record of (unit, seq) if it was accepted."""
        ...

    def highest_seq(self, unit: str) -> int:
        """The highest accepted seq of ``unit``; 0 when none."""
        ...

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        """Whether an accepted packet of ``unit`` carried ``nonce``."""
        ...


@runtime_checkable
class ReplayState(ReplayView, Protocol):
    """Per-unit memory of accepted sequence numbers and nonces that can also record.

    :class:`MemoryReplayState` is for tests and the in-process gateway; the server's
    durable store is a :class:`ReplayView` that records through its commits instead.
    """

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


@dataclass
class Overlay:
    """A group's acceptances staged over a :class:`ReplayView` until they are committed.

    Later packets of the group see the staged ones (a retransmission racing its original
    is a duplicate, not a second acceptance); the view itself changes only when the
    group's commit does.
    """

    base: ReplayView
    _staged: MemoryReplayState = field(default_factory=MemoryReplayState)

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        return self._staged.accepted(unit, seq) or self.base.accepted(unit, seq)

    def highest_seq(self, unit: str) -> int:
        return max(self._staged.highest_seq(unit), self.base.highest_seq(unit))

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        return self._staged.nonce_used(unit, nonce) or self.base.nonce_used(unit, nonce)

    def record(self, unit: str, seq: int, nonce: bytes, accepted: Accepted) -> None:
        self._staged.record(unit, seq, nonce, accepted)

    def touches(self, unit: str) -> bool:
        """Whether the group staged anything of ``unit`` (so a verdict on it depends on
        the group's commit)."""
        return self._staged.highest_seq(unit) > 0


@dataclass(frozen=True)
class VerifiedPacket:
    """A packet whose signature, encryption, election and sequence all check out.

    ``duplicate`` packets were accepted before: store nothing, send ``ack`` again.  A
    new packet's ``ack``, when set, is its ACK signed in advance (:func:`signed_ack`),
    to be sent only once the packet is stored.
    ``packet`` is the signed bytes as received, the evidence to keep; ``plaintext`` is
    the payload's deterministic encoding, checked to be one map, so a store need not
    encode it again.
    """

    header: Header
    digest: bytes
    message_id: bytes
    packet: bytes
    plaintext: bytes
    duplicate: bool = False
    ack: bytes | None = None

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        """The payload map, decoded when first asked for.

        A line worker authenticates the packet and hands it to the server process
        without ever asking, so the payload crosses the pipe once, as the bytes it is
        checked and stored as, and is decoded once, by the process that reads it
        (measured: decoding it in the worker and pickling the map cost about 35 µs a
        packet, decoding the bytes in the server about 20).
        """
        return canonical.loads(self.plaintext)

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


@dataclass(frozen=True)
class Opened:
    """What :func:`unseal` proves of a packet: its payload's encoding (one deterministic
    CBOR map) and the content digest."""

    plaintext: bytes
    digest: bytes


@dataclass(frozen=True)
class Screened:
    """A packet that passed :func:`screen`, with the key its signature must verify under."""

    packet: bytes
    envelope: Envelope
    key: VerifyKey

    def verified(self, opened: Opened) -> VerifiedPacket:
        """The packet once :func:`unseal` has opened it (the replay state not yet asked)."""
        return VerifiedPacket(
            self.envelope.header,
            opened.digest,
            message_id(self.packet),
            self.packet,
            opened.plaintext,
        )


def verify(
    data: bytes,
    registry: Registry,
    replay: ReplayView,
    *,
    server: ServerKeys,
    election: str,
) -> VerifiedPacket:
    """Check a packet (or single-chunk frame) from a unit; see the module docstring.

    Raises a :class:`~transport.errors.Rejected` subclass, and nothing else, for any
    input.  Reads ``replay`` but never writes it.
    """
    return check_replay(authenticate(data, registry, server=server, election=election), replay)


def authenticate(
    data: bytes, registry: Registry, *, server: ServerKeys, election: str
) -> VerifiedPacket:
    """Every check of :func:`verify` except the replay state's."""
    screened = screen(data, registry)
    return screened.verified(unseal(screened.envelope, screened.key, server.kex, election))


def screen(data: bytes, registry: Registry) -> Screened:
    """The cheap checks, in order: framing, packet structure, version, type, and a
    registered, unrevoked unit (whose key :func:`unseal` then needs)."""
    packet = unframe(data)
    envelope = parse(packet)
    header = envelope.header
    if not header.type.from_unit:
        raise BadType(f"a unit cannot send {header.type.name}", unit=header.unit, seq=header.seq)
    return Screened(packet, envelope, registry.verify_key(header.unit))


def unseal(envelope: Envelope, key: VerifyKey, server_kex: AgreementKey, election: str) -> Opened:
    """The costly checks, in order: AEAD and payload, signature, election.

    Reads no state but its arguments, so packets can be unsealed in parallel.
    """
    header = envelope.header
    plaintext = open_body(envelope, server_kex)
    if not key.verify(envelope.signed_bytes, envelope.signature):
        raise BadSignature(
            "signature does not verify under the unit's key", unit=header.unit, seq=header.seq
        )
    if header.election != election:
        raise WrongElection(
            f"packet is for election {header.election[:16]}…", unit=header.unit, seq=header.seq
        )
    return Opened(plaintext, content_digest(header, plaintext))


def check_replay(packet: VerifiedPacket, replay: ReplayView) -> VerifiedPacket:
    """The last check: a duplicate (with the first ACK), a new packet, or a refusal."""
    header = packet.header
    where = {"unit": header.unit, "seq": header.seq}
    previous = replay.accepted(header.unit, header.seq)
    if previous is not None:
        if previous.digest != packet.digest:
            raise SeqReused(f"seq {header.seq} was accepted with other content", **where)
        return replace(packet, duplicate=True, ack=previous.ack)
    if header.seq <= replay.highest_seq(header.unit):
        raise StaleSeq(f"seq {header.seq} is below the highest accepted", **where)
    assert header.nonce is not None  # every unit header has one
    if replay.nonce_used(header.unit, header.nonce):
        raise NonceReused(f"nonce {header.nonce.hex()} was used before", **where)
    return packet


def acknowledge(packet: VerifiedPacket, replay: ReplayState, server: ServerKeys, now: int) -> bytes:
    """Record an accepted packet and return its signed ACK (call after durable storage).

    For a duplicate, the ACK sent the first time, byte for byte; for a packet that
    carries an ACK signed in advance (:func:`signed_ack`), that one.
    """
    if packet.duplicate:
        assert packet.ack is not None
        return packet.ack
    ack = packet.ack if packet.ack is not None else signed_ack(packet, server, now)
    h = packet.header
    assert h.nonce is not None
    replay.record(h.unit, h.seq, h.nonce, Accepted(packet.digest, ack))
    return ack


def signed_ack(packet: VerifiedPacket, server: ServerKeys, now: int) -> bytes:
    """The ACK of ``packet``: its unit, seq and content digest, signed by the server.

    Signing it before the packet is settled (where the packet was authenticated) spares
    the process that settles; it must still not leave before the packet is stored.
    """
    h = packet.header
    header = Header(MessageType.ACK, h.unit, h.election, h.dec, h.seq, now)
    return sign_reply(header, {"digest": packet.digest}, server.sign)


def refuse(error: Rejected, message: bytes, server: ServerKeys, election: str, now: int) -> bytes:
    """A signed NACK telling the sender of ``message`` (link message id) why it failed.

    The header names the unit and seq when the packet got far enough to show them, and
    the server's own election otherwise.
    """
    unit = error.unit or "server"
    header = Header(MessageType.NACK, unit, election, 0, error.seq or 0, now)
    body = {"code": error.wire, "name": error.code, "reason": str(error)[:200], "msg": message}
    return sign_reply(header, body, server.sign)


# Group commit ------------------------------------------------------------------------------

Staged = tuple[VerifiedPacket, Accepted]
Commit = Callable[[Sequence[Staged]], None]


@dataclass(frozen=True)
class Verdict:
    """The answer to one packet of a group: the reply to send and what it says.

    ``status`` is ``accepted``, ``duplicate`` or the refusal's code (``error``).
    """

    reply: bytes
    status: str
    error: Rejected | None = None

    @property
    def transient(self) -> bool:
        return self.error is not None and self.error.transient


def settle(
    group: Sequence[tuple[bytes, VerifiedPacket | Rejected]],
    replay: ReplayView,
    commit: Commit,
    server: ServerKeys,
    election: str,
    now: int,
) -> list[Verdict]:
    """Check a group of (message id, authenticated packet or its refusal) against the
    replay state in order, store the new packets with one ``commit``, then answer each.

    ``commit`` stores every packet with its replay record (ACK bytes included) durably,
    all or nothing, or raises.  No ACK is released before it returns.  If it raises,
    every new packet gets a transient ``store-failed`` NACK, and so does every verdict
    that leaned on the group's own staged acceptances (a duplicate of one, or a seq
    made stale by one): without them it could have been an acceptance.
    """
    overlay = Overlay(replay)
    answers: dict[int, Verdict] = {}
    fresh: list[tuple[int, VerifiedPacket, Accepted]] = []
    leaning: list[tuple[int, VerifiedPacket]] = []
    for index, (message, item) in enumerate(group):
        if isinstance(item, Rejected):
            answers[index] = _refusal(item, message, server, election, now)
            continue
        if overlay.touches(item.unit):
            leaning.append((index, item))
        try:
            packet = check_replay(item, overlay)
        except Rejected as exc:
            answers[index] = _refusal(exc, message, server, election, now)
            continue
        if packet.duplicate:
            assert packet.ack is not None
            answers[index] = Verdict(packet.ack, "duplicate")
        else:
            ack = acknowledge(packet, overlay, server, now)
            fresh.append((index, packet, Accepted(packet.digest, ack)))
    try:
        if fresh:
            commit([(packet, accepted) for _, packet, accepted in fresh])
    except Exception as exc:  # any failure to store is the sender's cue to retry later
        for index, packet in [(i, p) for i, p, _ in fresh] + leaning:
            error = StoreFailed(f"store failed: {exc}", unit=packet.unit, seq=packet.seq)
            answers[index] = _refusal(error, group[index][0], server, election, now)
    else:
        for index, _, accepted in fresh:
            answers[index] = Verdict(accepted.ack, "accepted")
    return [answers[index] for index in range(len(group))]


def _refusal(
    error: Rejected, message: bytes, server: ServerKeys, election: str, now: int
) -> Verdict:
    return Verdict(refuse(error, message, server, election, now), error.code, error)
