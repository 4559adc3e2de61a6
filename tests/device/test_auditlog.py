"""Audit log: a changed byte, a removed record and swapped records are found and named."""

from __future__ import annotations

import json

import pytest

from device.auditlog import AuditLog, verify
from device.storage import SimStorage


def _log(n: int = 12) -> bytes:
    storage = SimStorage()
    log = AuditLog(storage, "a", "2001-PR")
    for i in range(1, n + 1):
        log.append(f"2021-11-28T08:00:{i:02d}+06:00", "accepted", {"n": i, "sheet": f"s{i}"})
    return storage.read("a")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def test_intact_log_verifies() -> None:
    check = verify(_log())
    assert check.ok and check.records == 12 and not check.torn


def test_every_changed_byte_of_a_record_is_located() -> None:
    data = _log()
    lines = _lines(data)
    start = sum(len(x) + 1 for x in lines[:6])
    for offset in range(start, start + len(lines[6])):
        changed = bytearray(data)
        changed[offset] = ord("#") if changed[offset] != ord("#") else ord("$")
        check = verify(bytes(changed))
        assert check.bad == 7, (offset, check)


def test_a_changed_newline_is_located() -> None:
    data = _log()
    end = sum(len(x) + 1 for x in _lines(data)[:3]) - 1
    changed = data[:end] + b" " + data[end + 1 :]
    assert verify(changed).bad == 3


@pytest.mark.parametrize("removed", [0, 5, 10])
def test_a_removed_record_is_located(removed: int) -> None:
    lines = _lines(_log())
    del lines[removed]
    check = verify(b"\n".join(lines) + b"\n")
    assert check.bad == removed + 1
    assert "removed" in check.reason


def test_swapped_records_are_located() -> None:
    lines = _lines(_log())
    lines[4], lines[5] = lines[5], lines[4]
    check = verify(b"\n".join(lines) + b"\n")
    assert check.bad == 5 and "swapped" in check.reason


def test_a_rewritten_record_with_a_fresh_hash_breaks_the_chain() -> None:
    import hashlib

    lines = _lines(_log())
    entry = json.loads(lines[3])
    entry["data"]["sheet"] = "forged"
    del entry["hash"]
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    entry["hash"] = hashlib.sha256(body).hexdigest()
    lines[3] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    assert verify(b"\n".join(lines) + b"\n").bad == 5


def test_removed_tail_is_caught_by_the_reported_head() -> None:
    data = _log()
    lines = _lines(data)
    head = json.loads(lines[-1])["hash"]
    assert verify(data, head[:16]).ok
    shortened = b"\n".join(lines[:-2]) + b"\n"
    assert verify(shortened).ok
    check = verify(shortened, head[:16])
    assert not check.ok and "head" in check.reason


def test_torn_last_line_is_reported_and_cut_at_start_up() -> None:
    data = _log()
    torn = data[:-20]
    check = verify(torn)
    assert check.ok and check.records == 11 and check.torn
    storage = SimStorage({"a": torn})
    log = AuditLog(storage, "a", "2001-PR")
    log.open()
    log.append("2021-11-28T09:00:00+06:00", "power_on")
    assert verify(storage.read("a")).records == 12
    assert storage.read(f"quarantine/a.{check.good}.torn") == check.torn
