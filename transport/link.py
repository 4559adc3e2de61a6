"""The device end of the channel: deliver sealed packets until the server signs an ACK.

Delivery is stop-and-wait per packet with selective repeat of its chunks: send every
chunk, the final one last; the final chunk is a poll, answered by the signed ACK or NACK,
or by a STATUS frame listing missing chunks, which are sent again.  When no answer comes
in time, only the final chunk is sent again (a cheap poll), after a timeout that doubles
each time, with seeded jitter so that units reporting at the same moment spread out.
``NO CARRIER`` from the modem, or a broken port, means redial (again with backoff) and
poll: the gateway kept the chunks it had, so the transfer resumes where it stopped.

The port is any pyserial URL: a device path, a pty, ``socket://host:port`` or
``loop://``.  With a phone number the AT dialogue runs first; without one the port is
the line itself.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import serial

from transport import canonical, frames
from transport.crypto import VerifyKey
from transport.dialer import CARRIER_LOST, Dialer
from transport.errors import (
    REJECTIONS,
    BadReply,
    DeliveryFailed,
    DeliveryRefused,
    ModemError,
    Rejected,
)
from transport.impair import BITS_PER_BYTE
from transport.keys import ServerPublic, UnitKey
from transport.packet import Header, MessageType, Reply, content_digest, read_reply, seal


@dataclass(frozen=True)
class RetryPolicy:
    """Timers of the link.  The defaults suit a 9,600 bps modem line."""

    first_timeout: float = 2.0  # seconds to wait for an answer beyond the sending time
    max_timeout: float = 60.0
    backoff: float = 2.0
    jitter: float = 0.25  # each wait is stretched by a uniform 0..25%
    redial_delay: float = 2.0
    max_redial_delay: float = 60.0
    deadline: float = 3600.0  # give up on one packet after this many seconds
    chunk_size: int = frames.CHUNK_DATA_DEFAULT
    command_timeout: float = 2.0
    dial_timeout: float = 60.0
    guard_time: float = 1.0

    def wait(self, attempt: int, first: float, ceiling: float, rng: random.Random) -> float:
        base = min(ceiling, first * self.backoff**attempt)
        return base * (1.0 + self.jitter * rng.random())


@dataclass(frozen=True)
class Sealed:
    """A packet ready to send and what its ACK must name."""

    packet: bytes
    unit: str
    seq: int
    digest: bytes


@dataclass(frozen=True)
class Receipt:
    """The server's signed acknowledgement of one packet: keep it in the journal."""

    unit: str
    seq: int
    digest: bytes
    accepted_at: int
    ack: bytes


@dataclass(frozen=True)
class Outgoing:
    """One report as the device journals it: the seq and ts are fixed once assigned."""

    type: MessageType
    seq: int
    ts: int
    payload: dict[str, Any]


class _CarrierLost(Exception):
    """Internal: the modem said NO CARRIER or the port broke; redial."""


def seal_outgoing(
    item: Outgoing, unit: UnitKey, server: ServerPublic, election: str, dec: int
) -> Sealed:
    header = Header(item.type, unit.unit, election, dec, item.seq, item.ts)
    packet = seal(header, item.payload, unit.sign, server.kex)
    digest = content_digest(header, canonical.dumps(item.payload))
    return Sealed(packet, unit.unit, item.seq, digest)


class Link:
    """A serial line to the gateway, dialled on demand; see the module docstring."""

    def __init__(
        self,
        url: str,
        server: ServerPublic,
        *,
        number: str | None = None,
        policy: RetryPolicy | None = None,
        seed: int = 0,
        baudrate: int = 9600,
    ):
        self.url = url
        self.number = number
        self.policy = policy or RetryPolicy()
        self.baudrate = baudrate
        self._server_key = VerifyKey(server.sign)
        self._rng = random.Random(f"link/{seed}")
        self._port: serial.SerialBase | None = None
        self._rate = baudrate
        self._connected = False
        self._reader = frames.FrameReader()
        self._replies = frames.Reassembler(capacity=16)
        self._tail = b""
        self.stats = {"dials": 0, "dial_failures": 0, "carrier_lost": 0, "timeouts": 0}
        self.stats |= {"frames_sent": 0, "bytes_sent": 0, "status": 0}

    # Connection ---------------------------------------------------------------------------

    def connect(self, give_up_at: float) -> None:
        """Open the port and dial (with backoff) until connected or ``give_up_at``
        (a time.monotonic() value) passes; a no-op when already connected."""
        attempt = 0
        while not self._connected:
            try:
                if self._port is None:
                    self._port = serial.serial_for_url(
                        self.url, baudrate=self.baudrate, timeout=0.1, write_timeout=10
                    )
                if self.number is not None:
                    self.stats["dials"] += 1
                    dialer = Dialer(
                        self._port,
                        self.number,
                        command_timeout=self.policy.command_timeout,
                        dial_timeout=self.policy.dial_timeout,
                        guard_time=self.policy.guard_time,
                    )
                    self._rate = dialer.dial()
                self._connected = True
                self._reader = frames.FrameReader()
                self._tail = b""
            except (ModemError, serial.SerialException, OSError) as exc:
                self.stats["dial_failures"] += 1
                self._drop_port(exc)
                pause = self.policy.wait(
                    attempt, self.policy.redial_delay, self.policy.max_redial_delay, self._rng
                )
                if time.monotonic() + pause > give_up_at:
                    raise DeliveryFailed(f"cannot connect over {self.url}: {exc}") from exc
                time.sleep(pause)
                attempt += 1

    def _drop_port(self, exc: Exception) -> None:
        """After a broken port (not a modem refusal) reopen it on the next attempt."""
        if not isinstance(exc, ModemError) and self._port is not None:
            self._port.close()
            self._port = None

    def close(self) -> None:
        """Hang up (if dialled) and close the port."""
        if self._port is None:
            return
        if self._connected and self.number is not None:
            with contextlib.suppress(ModemError, serial.SerialException, OSError):
                Dialer(self._port, self.number, guard_time=self.policy.guard_time).hangup()
        self._port.close()
        self._port = None
        self._connected = False

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Delivery -----------------------------------------------------------------------------

    def deliver(self, sealed: Sealed) -> Receipt:
        """Send ``sealed`` until the server acknowledges it; see the module docstring.

        Raises :class:`DeliveryRefused` on a permanent NACK and :class:`DeliveryFailed`
        when the policy's deadline passes.
        """
        chunks = frames.split(sealed.packet, self.policy.chunk_size)
        message = chunks[0].message
        last = len(chunks) - 1
        to_send = list(range(len(chunks)))
        give_up_at = time.monotonic() + self.policy.deadline
        timeouts = 0
        while True:
            if time.monotonic() > give_up_at:
                raise DeliveryFailed(f"no acknowledgement of {sealed.unit} seq {sealed.seq}")
            self.connect(give_up_at)
            try:
                sent = self._send([chunks[i] for i in to_send if i != last] + [chunks[last]])
                wait = sent * BITS_PER_BYTE / self._rate
                wait += self.policy.wait(
                    timeouts, self.policy.first_timeout, self.policy.max_timeout, self._rng
                )
                answer = self._await(message, sealed, time.monotonic() + wait)
            except _CarrierLost:
                self.stats["carrier_lost"] += 1
                self._connected = False
                to_send = [last]
                continue
            if isinstance(answer, Receipt):
                return answer
            if isinstance(answer, frames.Status):
                self.stats["status"] += 1
                to_send = list(answer.missing)
                timeouts = 0
                continue
            if answer is not None:  # a NACK that retrying may cure: wait, then send it all
                time.sleep(
                    self.policy.wait(
                        timeouts, self.policy.first_timeout, self.policy.max_timeout, self._rng
                    )
                )
                to_send = list(range(len(chunks)))
            else:
                self.stats["timeouts"] += 1
                to_send = [last]
            timeouts += 1

    def _send(self, chunks: list[frames.Chunk]) -> int:
        assert self._port is not None
        data = b"".join(frames.encode(c) for c in chunks)
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            self._drop_port(exc)
            raise _CarrierLost from exc
        self.stats["frames_sent"] += len(chunks)
        self.stats["bytes_sent"] += len(data)
        return len(data)

    def _await(
        self, message: bytes, sealed: Sealed, until: float
    ) -> Receipt | frames.Status | Reply | None:
        """Read until an answer about ``message``: Receipt, Status, transient NACK or None."""
        assert self._port is not None
        while (remaining := until - time.monotonic()) > 0:
            try:
                self._port.timeout = min(remaining, 0.05)
                data = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                self._drop_port(exc)
                raise _CarrierLost from exc
            if not data:
                continue
            if self.number is not None and CARRIER_LOST in self._tail + data:
                raise _CarrierLost
            self._tail = (self._tail + data)[-len(CARRIER_LOST) :]
            for wire in self._reader.feed(data):
                answer = self._answer(wire, message, sealed)
                if answer is not None:
                    return answer
        return None

    def _answer(
        self, wire: bytes, message: bytes, sealed: Sealed
    ) -> Receipt | frames.Status | Reply | None:
        try:
            frame = frames.decode(wire)
            if isinstance(frame, frames.Status):
                return frame if frame.message == message else None
            packet = self._replies.add(frame)
            if packet is None:
                return None
            reply = read_reply(packet, self._server_key)
        except (Rejected, BadReply):
            return None  # line noise or a stray frame: the timers recover
        h, body = reply.header, reply.body
        if h.type is MessageType.ACK:
            if (h.unit, h.seq, body.get("digest")) == (sealed.unit, sealed.seq, sealed.digest):
                return Receipt(h.unit, h.seq, sealed.digest, h.ts, reply.packet)
            return None
        if body.get("msg") != message:
            return None
        code = body.get("code")
        kind = REJECTIONS.get(code) if isinstance(code, int) else None
        if kind is not None and kind.transient:
            return reply
        raise DeliveryRefused(
            f"server refused {sealed.unit} seq {sealed.seq}: {body.get('name')}: "
            f"{body.get('reason')}",
            reason=str(body.get("name")),
            wire=code if isinstance(code, int) else -1,
        )


def transmit(
    link: Link,
    unit: UnitKey,
    server: ServerPublic,
    election: str,
    dec: int,
    outbox: Iterable[Outgoing],
) -> Iterator[Receipt]:
    """Seal and deliver each journalled report in order, yielding each receipt at once.

    A receipt is yielded as soon as its ACK is verified, so the device can journal it
    before the next packet; delivering a report again after a crash is harmless (the
    server answers a duplicate with the same ACK).
    """
    for item in outbox:
        yield link.deliver(seal_outgoing(item, unit, server, election, dec))
