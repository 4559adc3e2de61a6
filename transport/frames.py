"""Link-layer frames: chunks of a packet, and the receiver's list of missing chunks.

A frame on the wire is ``COBS(body || CRC-32(body)) || 0x00``.  Its body starts with
version 1, the kind, and a flags byte that must be zero; that zero makes the first wire
byte of every frame 0x03, which is how :func:`transport.intake.verify` tells a frame
from a bare packet (0x83).  Frames are small (at most :data:`FRAME_MAX` bytes) so one
flipped bit on a noisy line costs one short retransmission, not a whole packet.

A packet travels as ``count`` CHUNK frames sharing a message id, the first 8 bytes of
SHA-256 of the packet, so the receiver can check the reassembled bytes end to end and
recognise a retransmission of the same packet across redials.  The final chunk doubles
as a poll: whenever it arrives the receiver answers, with the reply if the packet is
complete, or with a STATUS frame listing the chunks it still lacks.
"""

from __future__ import annotations

import enum
import itertools
import struct
from collections import OrderedDict
from dataclasses import dataclass

from transport import cobs, crc
from transport.errors import BadCrc, BadFrame, Oversized, Truncated
from transport.packet import PACKET_MAX, message_id

VERSION = 1
CHUNK_DATA_MAX = 512
CHUNK_DATA_DEFAULT = 320
COUNT_MAX = 4096
STATUS_MISSING_MAX = 128
FRAME_MAX = 540  # wire bytes, delimiter included
DELIMITER = b"\x00"

_PREFIX = struct.Struct(">BBB8sH")  # version, kind, flags, message id, index | count
_CHUNK_COUNT = struct.Struct(">H")


class Kind(enum.IntEnum):
    CHUNK = 1
    STATUS = 2


@dataclass(frozen=True)
class Chunk:
    """Bytes ``data`` at position ``index`` of ``count`` in message ``message``."""

    message: bytes
    index: int
    count: int
    data: bytes


@dataclass(frozen=True)
class Status:
    """The receiver still lacks the chunks ``missing`` (at most 128, ascending)."""

    message: bytes
    count: int
    missing: tuple[int, ...]


Frame = Chunk | Status


def encode(frame: Frame) -> bytes:
    """Wire bytes of ``frame``: COBS of body and CRC, then the 0x00 delimiter."""
    if isinstance(frame, Chunk):
        body = _PREFIX.pack(VERSION, Kind.CHUNK, 0, frame.message, frame.index)
        body += _CHUNK_COUNT.pack(frame.count) + frame.data
    else:
        body = _PREFIX.pack(VERSION, Kind.STATUS, 0, frame.message, frame.count)
        body += b"".join(i.to_bytes(2, "big") for i in frame.missing)
    return cobs.encode(crc.append(body)) + DELIMITER


def decode(wire: bytes) -> Frame:
    """Parse one wire frame, delimiter included; raises the specific rejection."""
    if len(wire) > FRAME_MAX:
        raise Oversized(f"frame of {len(wire)} bytes is above {FRAME_MAX}")
    if not wire.endswith(DELIMITER):
        raise Truncated("frame has no delimiter")
    try:
        raw = cobs.decode(wire[:-1])
    except cobs.CobsError as exc:
        raise (Truncated if exc.truncated else BadFrame)(str(exc)) from exc
    if len(raw) < _PREFIX.size + 4:
        raise Truncated(f"frame of {len(raw)} bytes is shorter than its header and CRC")
    body = crc.strip(raw)
    if body is None:
        raise BadCrc("CRC-32 mismatch")
    version, kind, flags, message, number = _PREFIX.unpack_from(body)
    if version != VERSION or flags != 0:
        raise BadFrame(f"frame version {version} / flags {flags} not supported")
    rest = body[_PREFIX.size :]
    if kind == Kind.CHUNK:
        return _chunk(message, number, rest)
    if kind == Kind.STATUS:
        return _status(message, number, rest)
    raise BadFrame(f"unknown frame kind {kind}")


def _chunk(message: bytes, index: int, rest: bytes) -> Chunk:
    if len(rest) < _CHUNK_COUNT.size + 1:
        raise Truncated("chunk without data")
    (count,) = _CHUNK_COUNT.unpack_from(rest)
    data = rest[_CHUNK_COUNT.size :]
    if len(data) > CHUNK_DATA_MAX:
        raise Oversized(f"chunk of {len(data)} bytes is above {CHUNK_DATA_MAX}")
    if not 0 <= index < count <= COUNT_MAX:
        raise BadFrame(f"chunk {index} of {count} is out of range")
    return Chunk(message, index, count, data)


def _status(message: bytes, count: int, rest: bytes) -> Status:
    if len(rest) % 2:
        raise BadFrame("status list has an odd length")
    missing = tuple(int.from_bytes(rest[i : i + 2], "big") for i in range(0, len(rest), 2))
    if len(missing) > STATUS_MISSING_MAX:
        raise Oversized(f"status lists {len(missing)} chunks, above {STATUS_MISSING_MAX}")
    ascending = all(a < b for a, b in itertools.pairwise(missing))
    if not (0 < count <= COUNT_MAX and ascending and (not missing or missing[-1] < count)):
        raise BadFrame("status list is not ascending below the chunk count")
    return Status(message, count, missing)


def split(packet: bytes, size: int = CHUNK_DATA_DEFAULT) -> list[Chunk]:
    """The chunks of ``packet`` (``size`` data bytes each, the last one shorter)."""
    if not 1 <= size <= CHUNK_DATA_MAX:
        raise ValueError(f"chunk size must be 1-{CHUNK_DATA_MAX}")
    if not 0 < len(packet) <= PACKET_MAX:
        raise Oversized(f"packet of {len(packet)} bytes is outside 1-{PACKET_MAX}")
    count = -(-len(packet) // size)
    if count > COUNT_MAX:
        raise Oversized(f"{count} chunks is above {COUNT_MAX}")
    mid = message_id(packet)
    return [Chunk(mid, i, count, packet[i * size : (i + 1) * size]) for i in range(count)]


class FrameReader:
    """Cuts a byte stream into wire frames at each 0x00.

    Bytes that run past :data:`FRAME_MAX` without a delimiter (noise, a modem message,
    a merged frame) are dropped up to the next delimiter, so memory stays bounded and
    the reader resynchronises by itself.  ``dropped`` counts the runs thrown away.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skipping = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        start = 0
        while True:
            end = data.find(0, start)
            if end < 0:
                self._keep(data[start:])
                return frames
            self._keep(data[start : end + 1])
            if not self._skipping and len(self._buffer) > 1:
                frames.append(bytes(self._buffer))
            self._buffer.clear()
            self._skipping = False
            start = end + 1

    def _keep(self, part: bytes) -> None:
        if self._skipping:
            return
        self._buffer += part
        if len(self._buffer) > FRAME_MAX:
            self._buffer.clear()
            self._skipping = True
            self.dropped += 1


@dataclass
class _Partial:
    count: int
    parts: dict[int, bytes]
    size: int = 0


class Reassembler:
    """Collects chunks into packets; keeps at most ``capacity`` partial messages.

    Partial messages survive across connections (the caller keeps one reassembler per
    receiver), which is what lets a transfer resume after a redial.  The oldest partial
    message is forgotten when the capacity is reached.
    """

    def __init__(self, capacity: int = 256):
        self.capacity = capacity
        self._partial: OrderedDict[bytes, _Partial] = OrderedDict()

    def add(self, chunk: Chunk) -> bytes | None:
        """Store ``chunk``; return the packet once all chunks are in.

        Raises :class:`Oversized` or :class:`BadFrame` (and forgets the message) when the
        chunks add up to too much or to bytes that do not match the message id.
        """
        partial = self._partial.get(chunk.message)
        if partial is None or partial.count != chunk.count:
            partial = _Partial(chunk.count, {})
            self._partial[chunk.message] = partial
            while len(self._partial) > self.capacity:
                self._partial.popitem(last=False)
        self._partial.move_to_end(chunk.message)
        old = partial.parts.get(chunk.index)
        partial.size += len(chunk.data) - (len(old) if old is not None else 0)
        partial.parts[chunk.index] = chunk.data
        if partial.size > PACKET_MAX:
            del self._partial[chunk.message]
            raise Oversized(f"message {chunk.message.hex()} is above {PACKET_MAX} bytes")
        if len(partial.parts) < partial.count:
            return None
        del self._partial[chunk.message]
        packet = b"".join(partial.parts[i] for i in range(partial.count))
        if message_id(packet) != chunk.message:
            raise BadFrame(f"message {chunk.message.hex()} does not match its id")
        return packet

    def missing(self, message: bytes, count: int) -> tuple[int, ...]:
        """Indices of ``message`` not yet received, at most 128 (for a STATUS frame)."""
        partial = self._partial.get(message)
        have = partial.parts if partial is not None and partial.count == count else {}
        absent = (i for i in range(count) if i not in have)
        return tuple(i for _, i in zip(range(STATUS_MISSING_MAX), absent, strict=False))
