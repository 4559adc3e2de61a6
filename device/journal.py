"""The crash-safe ballot journal: append-only, length + CRC framed, replayed at start-up.

File format (docs/device.md gives it byte by byte)::

    magic     8 bytes  b"PCOSJNL1"
    record*   length  uint32 big-endian, bytes of the payload
              crc     uint32 big-endian, CRC-32 (zlib) of the 4 length bytes + payload
              payload UTF-8 JSON object, keys sorted, no spaces

A record is *torn* -- the power failed while it was being written -- when it is the last
thing in the file and the file ends before its header or payload does (and no whole
record can be found after its start, which would mean a damaged length), or its payload
reaches exactly to the end of the file but the checksum fails, or every byte from its
start to the end of the file is zero (a file system that extended the file but never
wrote the data).  A torn record was never reported accepted: the unit only says
"accepted" after the record is durable.  Anything else that fails is corruption: the
unit refuses to go on and leaves the file as it is.

In ``fsync`` mode every committed record is synced before the unit reports it; in group
commit mode the unit syncs every ``group`` records (and at every operator action), with
the same file format.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device.errors import JournalCorrupt
from device.storage import Storage

MAGIC = b"PCOSJNL1"
HEADER = struct.Struct(">II")
MAX_RECORD = 1 << 24
"""16 MiB: far above any record (a takeover import of a whole DEC is well under 1 MiB);
a larger length can only be damage."""
RECORD_TYPES = frozenset({"unit", "ballot", "return", "report", "event", "import"})


def encode(record: Mapping[str, Any]) -> bytes:
    """One framed record."""
    payload = canonical(record)
    length = struct.pack(">I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(length))
    return length + struct.pack(">I", crc) + payload


def canonical(data: Mapping[str, Any]) -> bytes:
    """The one JSON text of a record: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Scan:
    """What a journal file holds.

    ``offsets`` are where the records start; ``good`` is the byte length of the magic
    and every valid record; ``torn`` the bytes after it when the last record is torn
    (empty otherwise).
    """

    records: tuple[dict[str, Any], ...]
    offsets: tuple[int, ...]
    good: int
    torn: bytes

    def sha256(self, data: bytes) -> str:
        """SHA-256 of the valid part of ``data`` (the file this scan came from)."""
        return hashlib.sha256(data[: self.good]).hexdigest()


def scan(data: bytes) -> Scan:
    """Parse a whole journal file; raises JournalCorrupt on anything but a torn tail.

    An empty file, or one holding only part of the magic, is a journal whose creation
    was cut short: no records, all of it torn.
    """
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        return Scan((), (), 0, data)
    if not data.startswith(MAGIC):
        raise JournalCorrupt(0, 0, "not a PCOS journal (bad magic)")
    records: list[dict[str, Any]] = []
    offsets: list[int] = []
    pos = len(MAGIC)
    end = len(data)
    while pos < end:
        index = len(records) + 1
        rest = end - pos
        if rest < HEADER.size:
            return Scan(tuple(records), tuple(offsets), pos, data[pos:])
        length, crc = HEADER.unpack_from(data, pos)
        if length > MAX_RECORD:
            raise JournalCorrupt(pos, index, f"impossible record length {length}")
        stop = pos + HEADER.size + length
        if stop > end:
            if _whole_record_after(data, pos + HEADER.size):
                raise JournalCorrupt(
                    pos,
                    index,
                    "its length runs past the end of the file, yet whole records follow it "
                    "(a damaged length)",
                )
            return Scan(tuple(records), tuple(offsets), pos, data[pos:])
        payload = data[pos + HEADER.size : stop]
        if zlib.crc32(payload, zlib.crc32(data[pos : pos + 4])) != crc:
            if stop == end or not any(data[pos:]):
                return Scan(tuple(records), tuple(offsets), pos, data[pos:])
            raise JournalCorrupt(pos, index, "checksum mismatch with records after it")
        records.append(_decode(payload, pos, index))
        offsets.append(pos)
        pos = stop
    return Scan(tuple(records), tuple(offsets), pos, b"")


def _whole_record_after(data: bytes, start: int) -> bool:
    """Whether a checksum-valid record starts anywhere after ``start``: a torn record is
    the last thing written, so finding one means the length was damaged instead."""
    for pos in range(start, len(data) - HEADER.size + 1):
        length, crc = HEADER.unpack_from(data, pos)
        stop = pos + HEADER.size + length
        payload = data[pos + HEADER.size : stop]
        if (
            length > 0
            and stop <= len(data)
            and zlib.crc32(payload, zlib.crc32(data[pos : pos + 4])) == crc
        ):
            return True
    return False


def _decode(payload: bytes, pos: int, index: int) -> dict[str, Any]:
    try:
        record = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise JournalCorrupt(pos, index, "checksum matches but the payload is not JSON") from None
    if not isinstance(record, dict) or record.get("t") not in RECORD_TYPES:
        raise JournalCorrupt(pos, index, "checksum matches but the record type is unknown")
    return record


class Journal:
    """Appends records to one file of a :class:`Storage` and decides when to sync.

    ``group`` is the commit interval: 1 syncs every committed record (fsync mode); N
    syncs every N-th and whenever :meth:`sync` is called.  ``durable`` counts the
    records known to be on stable storage.
    """

    def __init__(self, storage: Storage, name: str, group: int = 1) -> None:
        if group < 1:
            raise ValueError("group commit interval must be at least 1")
        self.storage = storage
        self.name = name
        self.group = group
        self.records = 0
        self.durable = 0
        self._hash = hashlib.sha256()
        self._data = b""

    def read(self) -> Scan:
        """Scan the file without changing it; raises JournalCorrupt when it is damaged."""
        self._data = self.storage.read(self.name)
        return scan(self._data)

    def start(self, found: Scan) -> None:
        """Go on from what :meth:`read` found: move a torn tail to quarantine and cut it
        off, or write the magic of a new journal."""
        if found.torn:
            self.storage.replace(f"quarantine/{self.name}.{found.good}.torn", found.torn)
            self.storage.truncate(self.name, found.good)
        data = self._data[: found.good]
        if found.good == 0:
            self.storage.append(self.name, MAGIC)
            self.storage.sync(self.name)
            data = MAGIC
        self.records = self.durable = len(found.records)
        self._hash = hashlib.sha256(data)
        self._data = b""

    def append(self, record: Mapping[str, Any], *, commit: bool = False) -> bool:
        """Write one record; with ``commit``, sync when the group is full.

        Returns True when every record so far is durable.
        """
        framed = encode(record)
        self.storage.append(self.name, framed)
        self._hash.update(framed)
        self.records += 1
        if commit and self.records - self.durable >= self.group:
            self.sync()
        return self.durable == self.records

    def sync(self) -> None:
        if self.durable != self.records:
            self.storage.sync(self.name)
            self.durable = self.records

    def sha256(self) -> str:
        """SHA-256 of the journal file as written so far."""
        return self._hash.hexdigest()
