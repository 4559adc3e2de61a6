"""Journal framing: torn tails at every byte are cut off, damage elsewhere is refused."""

from __future__ import annotations

import pytest

from device import journal
from device.errors import JournalCorrupt
from device.journal import MAGIC, Journal, encode, scan
from device.storage import SimStorage

RECORDS = [{"t": "ballot", "n": i, "s": f"sheet-{i}", "text": "Ынтымак"} for i in range(1, 6)]


def _file(records=RECORDS) -> bytes:
    return MAGIC + b"".join(encode(r) for r in records)


def test_records_round_trip_with_offsets() -> None:
    found = scan(_file())
    assert list(found.records) == RECORDS
    assert found.offsets[0] == len(MAGIC)
    assert found.torn == b"" and found.good == len(_file())


def test_torn_last_record_at_every_byte_offset_is_cut_off() -> None:
    whole = _file()
    last = len(_file(RECORDS[:-1]))
    for cut in range(last, len(whole)):
        found = scan(whole[:cut])
        assert list(found.records) == RECORDS[:-1], cut
        assert found.good == last and found.torn == whole[last:cut]


def test_a_torn_magic_is_a_new_journal() -> None:
    for cut in range(len(MAGIC)):
        assert scan(MAGIC[:cut]).records == ()


def test_last_record_reaching_the_end_with_a_bad_checksum_is_torn() -> None:
    data = bytearray(_file())
    data[-1] ^= 0xFF
    assert list(scan(bytes(data)).records) == RECORDS[:-1]


def test_zero_filled_tail_is_torn() -> None:
    found = scan(_file() + bytes(300))
    assert list(found.records) == RECORDS and len(found.torn) == 300


@pytest.mark.parametrize("where", ["checksum", "payload", "length"])
def test_damage_before_the_last_record_is_corruption_and_named(where: str) -> None:
    data = bytearray(_file())
    second = scan(bytes(data)).offsets[1]
    index = {"length": second + 2, "checksum": second + 5, "payload": second + 12}[where]
    data[index] ^= 0x40
    with pytest.raises(JournalCorrupt) as info:
        scan(bytes(data))
    assert info.value.offset == second and info.value.record == 2


def test_bad_magic_and_valid_checksum_over_nonsense_are_corruption() -> None:
    with pytest.raises(JournalCorrupt, match="bad magic"):
        scan(b"NOTAJRNL" + encode(RECORDS[0]))
    forged = journal.HEADER.pack(2, 0)[:4]
    import zlib

    payload = b"[]"
    crc = zlib.crc32(payload, zlib.crc32(forged)).to_bytes(4, "big")
    with pytest.raises(JournalCorrupt, match="record type"):
        scan(MAGIC + forged + crc + payload + encode(RECORDS[0]))


def test_start_quarantines_the_torn_tail_and_appends_after_it() -> None:
    storage = SimStorage({"j": _file()[:-7]})
    j = Journal(storage, "j")
    found = j.read()
    j.start(found)
    assert storage.read(f"quarantine/j.{found.good}.torn") == found.torn
    j.append({"t": "return", "r": "x", "s": "y"}, commit=True)
    again = scan(storage.read("j"))
    assert [r["t"] for r in again.records] == ["ballot"] * 4 + ["return"]
    assert j.sha256() == again.sha256(storage.read("j"))


def test_group_commit_syncs_every_n_records() -> None:
    storage = SimStorage()
    j = Journal(storage, "j", group=3)
    j.start(j.read())
    durable = [j.append(r, commit=True) for r in RECORDS]
    assert durable == [False, False, True, False, False]
    assert storage.unsynced("j") == len(encode(RECORDS[3])) + len(encode(RECORDS[4]))
    j.sync()
    assert storage.unsynced("j") == 0
