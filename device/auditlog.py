"""The hash-chained audit log: every operator action, ballot outcome, error and fault.

One record per line, UTF-8 JSON with sorted keys and no spaces::

    {"data":{...},"event":"polls_open","hash":"<64 hex>","prev":"<64 hex>",
     "seq":7,"time":"2021-11-28T08:00:00+06:00","unit":"2001-PR"}

``hash`` is the SHA-256 of the same line without its ``hash`` field; ``prev`` is the
previous record's ``hash`` (64 zeros for the first), and ``seq`` counts from 1.  So a
changed byte breaks the record's own hash, a removed record breaks ``seq`` and ``prev``
of the next, and swapped records break both -- and :func:`verify` names the first record
where that happens.  Removing records from the *end* leaves a valid shorter chain; the
printed reports carry the head (seq and hash) so that ``verify --head`` catches it.

A last line without its newline is a torn write (the power failed mid-line); the unit
moves it to quarantine at start-up and goes on from the last whole record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device.storage import Storage

GENESIS = "0" * 64
FIELDS = frozenset({"data", "event", "hash", "prev", "seq", "time", "unit"})


def _line(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash a record must carry: SHA-256 of its line without the ``hash`` field."""
    return hashlib.sha256(_line({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class Check:
    """The verdict on an audit log.

    ``bad`` is the 1-based number of the first bad record (its line), None when the
    chain holds; ``reason`` says what is wrong with it.  ``good`` is the byte length of
    the valid records, ``torn`` the bytes of a torn last line.
    """

    records: int
    head_seq: int
    head_hash: str
    good: int
    torn: bytes = b""
    bad: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bad is None

    def describe(self) -> str:
        if self.bad is not None:
            return f"record {self.bad}: {self.reason}"
        tail = f"; torn last line of {len(self.torn)} bytes" if self.torn else ""
        return f"{self.records} records, chain intact, head {self.head_seq}:{self.head_hash}{tail}"


def verify(data: bytes, head: str | None = None) -> Check:
    """Check the whole chain; with ``head`` (a record hash, or its first 16+ hex digits,
    as printed on a report) also require that record to be present."""
    prev, seq, pos = GENESIS, 0, 0
    lines = data.split(b"\n")
    wanted = head.lower() if head else None
    found_head = wanted is None
    for number, raw in enumerate(lines[:-1], start=1):
        entry, fault = _check_line(raw, prev, seq + 1)
        if fault:
            later = _later_seq(lines[number:], seq + 1)
            if later:
                fault += f"; seq {seq + 1} is at record {number + later} (swapped or moved)"
            return Check(seq, seq, prev, pos, bad=number, reason=fault)
        prev, seq = entry["hash"], entry["seq"]
        pos += len(raw) + 1
        if wanted and len(wanted) >= 16 and prev.startswith(wanted):
            found_head = True
    if not found_head:
        reason = f"the reported head {head} is not in the log (records removed from its end)"
        return Check(seq, seq, prev, pos, lines[-1], bad=seq + 1, reason=reason)
    return Check(seq, seq, prev, pos, lines[-1])


def _check_line(raw: bytes, prev: str, expected_seq: int) -> tuple[dict[str, Any], str]:
    """The record on one line, and what is wrong with it ("" when nothing)."""
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}, "not a valid record (changed or damaged)"
    if not isinstance(entry, dict) or set(entry) != FIELDS:
        return {}, "not a valid record (fields changed)"
    stored = entry["hash"]
    if not isinstance(stored, str):
        return {}, "not a valid record (hash changed)"
    # The line without its hash field is exactly what was hashed: keys are sorted and
    # "hash" is never the last, so removing it with its comma restores those bytes.
    hashed = raw.replace(f'"hash":"{stored}",'.encode(), b"", 1)
    if hashlib.sha256(hashed).hexdigest() != stored:
        return entry, "content does not match its hash (changed)"
    if entry["seq"] != expected_seq:
        what = "removed before it" if entry["seq"] > expected_seq else "out of order"
        return entry, f"seq {entry['seq']} where {expected_seq} was expected (records {what})"
    if entry["prev"] != prev:
        return entry, "does not chain to the record before it (a record was replaced)"
    return entry, ""


def _later_seq(lines: list[bytes], wanted: int) -> int | None:
    for offset, raw in enumerate(lines[:-1], start=1):
        try:
            if json.loads(raw).get("seq") == wanted:
                return offset
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            continue
    return None


def last_entry(data: bytes, event: str) -> dict[str, Any] | None:
    """The last whole record of ``event`` in a log, reading from the end."""
    for raw in reversed(data.split(b"\n")[:-1]):
        if f'"event":"{event}"'.encode() in raw:
            return json.loads(raw)
    return None


class AuditLog:
    """Appends chained records for one unit; the clock is read by the caller."""

    def __init__(self, storage: Storage, name: str, unit: str) -> None:
        self.storage = storage
        self.name = name
        self.unit = unit
        self.seq = 0
        self.head = GENESIS

    def open(self) -> Check:
        """Verify the log; cut off (and keep in quarantine) a torn last line.

        A log that fails verification is left untouched and not written to.
        """
        data = self.storage.read(self.name)
        check = verify(data)
        if not check.ok:
            return check
        if check.torn:
            self.storage.replace(f"quarantine/{self.name}.{check.good}.torn", check.torn)
            self.storage.truncate(self.name, check.good)
        self.seq, self.head = check.head_seq, check.head_hash
        return check

    def append(self, time: str, event: str, data: Mapping[str, Any] | None = None) -> str:
        entry = {
            "data": dict(data or {}),
            "event": event,
            "prev": self.head,
            "seq": self.seq + 1,
            "time": time,
            "unit": self.unit,
        }
        entry["hash"] = entry_hash(entry)
        self.storage.append(self.name, _line(entry) + b"\n")
        self.seq, self.head = entry["seq"], entry["hash"]
        return entry["hash"]

    def sync(self) -> None:
        self.storage.sync(self.name)
