"""Reserve-unit takeover: nothing lost, nothing doubled, wrong journals refused."""

from __future__ import annotations

import pytest

from device.errors import PowerCut, TakeoverRefused
from device.machine import JOURNAL, UnitConfig
from device.session import feed, run
from device.states import State
from device.storage import SimStorage
from election.counting import count
from election.rules import RuleSet
from tests.device.helpers import CONFIG, election, restart, sheets, unit

RESERVE = UnitConfig("2001-PR-R1", CONFIG.dec, CONFIG.contests)


def _failed_unit(n: int) -> SimStorage:
    """A unit that dies with its n-th ballot's record torn on disk."""
    storage = SimStorage()
    run(unit(storage), sheets(n - 1), close=False)
    u = restart(storage)
    storage.cut_before = storage.writes + 1  # the ballot's append happens, its sync not
    with pytest.raises(PowerCut):
        feed(u, sheets(n)[n - 1])
    return storage.crash({JOURNAL: storage.unsynced(JOURNAL) - 5})


def _reserve(storage: SimStorage | None = None, config: UnitConfig = RESERVE):
    r = unit(storage or SimStorage(), config)
    r.power_on()
    r.print_zero_report()
    return r


def test_takeover_loses_nothing_and_doubles_nothing() -> None:
    box = sheets(60)
    failed = _failed_unit(31)
    reserve = _reserve()
    summary = reserve.import_journal(failed.read(JOURNAL))
    assert summary["ballots"] == 30 and summary["torn_bytes"] > 0
    reserve.open_polls()
    for sheet in box[30:]:  # ballot 31 was torn: its voter feeds it again
        feed(reserve, sheet)
    reserve.close_polls()
    report = reserve.print_final_report()
    truth = count([s.intent for s in box], election(), RuleSet.kg2021())["PR"]
    assert report.body["counts"]["PR"]["votes"] == dict(sorted(truth.votes.items()))
    assert report.body["ballots"]["accepted"] == 60
    assert report.body["imported"][0]["unit"] == CONFIG.unit


def test_second_import_own_journal_and_other_dec_are_refused() -> None:
    failed = _failed_unit(10).read(JOURNAL)
    reserve = _reserve()
    reserve.import_journal(failed)
    with pytest.raises(TakeoverRefused, match="already counted"):
        reserve.import_journal(failed)
    own = SimStorage()
    other = _reserve(own)
    with pytest.raises(TakeoverRefused, match="own journal"):
        other.import_journal(own.read(JOURNAL))
    smd = SimStorage()
    run(unit(smd, UnitConfig("2001-SMD", 2001, ("SMD-20",))), sheets(5, "SMD-20"), close=False)
    with pytest.raises(TakeoverRefused, match="counted"):
        _reserve().import_journal(smd.read(JOURNAL))
    with pytest.raises(TakeoverRefused, match="corrupt"):
        _reserve().import_journal(b"PCOSJNL1" + b"\x00\x00\x00\x05abcdefgh" + failed[8:])


def test_a_chain_of_takeovers_cannot_import_the_first_unit_twice() -> None:
    first = _failed_unit(12).read(JOURNAL)
    second_memory = SimStorage()
    second = _reserve(second_memory)
    second.import_journal(first)
    second.open_polls()
    for sheet in sheets(20)[11:]:
        feed(second, sheet)
    third = _reserve(config=UnitConfig("2001-PR-R2", CONFIG.dec, CONFIG.contests))
    third.import_journal(second_memory.read(JOURNAL))
    assert third.counters.accepted == 20
    with pytest.raises(TakeoverRefused, match="already counted"):
        third.import_journal(first)


def test_power_cut_during_import_leaves_it_whole_or_absent() -> None:
    failed = _failed_unit(15).read(JOURNAL)
    for keep in (0, 100, None):
        memory = SimStorage()
        reserve = _reserve(memory)
        memory.cut_before = memory.writes + 1  # the import is written, not yet synced
        with pytest.raises(PowerCut):
            reserve.import_journal(failed)
        crashed = memory.crash({} if keep is None else {JOURNAL: keep})
        again = restart(crashed, RESERVE)
        assert again.state is State.ZERO_REPORTED
        if keep is None:
            assert again.counters.accepted == 14
            with pytest.raises(TakeoverRefused):
                again.import_journal(failed)
        else:
            assert again.counters.accepted == 0
            again.import_journal(failed)
            assert again.counters.accepted == 14
