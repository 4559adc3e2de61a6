"""The firmware's behaviour: handling per policy, returns, faults, refusals, reports."""

from __future__ import annotations

import dataclasses

import pytest

from device.auditlog import last_entry, verify
from device.clock import FakeClock
from device.errors import IllegalTransition, PollsRefused
from device.hardware import Feed, IntentReader, Sheet
from device.machine import AUDIT, JOURNAL, Status
from device.session import run
from device.states import State
from device.storage import SimStorage
from election.ballots import MarkedBallot
from election.counting import count
from election.definition import fingerprint
from election.model import BallotKind, BallotStyle
from election.rules import InvalidBallotPolicy, RuleSet
from fixtures.scenario import build
from tests.device.helpers import CONFIG, DEC, LATER, election, restart, sheets, unit

PR = BallotStyle(BallotKind.PR, "ky")
RETURN_WITH_WARNING = dataclasses.replace(
    RuleSet.kg2021(),
    validity=dataclasses.replace(
        RuleSet.kg2021().validity, invalid_ballot_policy=InvalidBallotPolicy.RETURN_WITH_WARNING
    ),
)


def _open(storage=None, **kw):
    u = unit(storage or SimStorage(), **kw)
    u.power_on()
    u.print_zero_report()
    u.open_polls()
    return u


def _sheet(label: str, options=(), prefs=(), dec: int = DEC, **kw) -> Sheet:
    return Sheet(label, intent=MarkedBallot(PR, dec, frozenset(options), frozenset(prefs)), **kw)


def test_a_session_counts_exactly_the_ground_truth() -> None:
    box = sheets(200)
    session = run(unit(SimStorage()), box)
    truth = count([s.intent for s in box], election(), RuleSet.kg2021())
    assert session.final.body["counts"]["PR"]["votes"] == dict(sorted(truth["PR"].votes.items()))
    assert session.final.body["counts"]["PR"]["blank"] == truth["PR"].blank
    assert session.final.body["counts"]["PR"]["overvote"] == truth["PR"].overvote
    assert session.final.body["ballots"]["accepted"] == 200


def test_accept_invalid_policy_accepts_blank_and_overvote() -> None:
    u = _open()
    assert u.insert(_sheet("blank")).status is Status.ACCEPTED
    assert u.insert(_sheet("over", ["P01", "P02"])).status is Status.ACCEPTED
    tally = u.counters.tallies()["PR"]
    assert (tally.blank, tally.overvote, u.counters.summary()["cast_after_warning"]) == (1, 1, 0)


def test_return_with_warning_lets_the_voter_cast_or_take_back() -> None:
    u = _open(rules=RETURN_WITH_WARNING)
    held = u.insert(_sheet("blank"))
    assert held.status is Status.NEEDS_REVIEW and u.state is State.NEEDS_REVIEW
    assert "blank" in held.detail
    taken = u.take_back()
    assert taken.status is Status.RETURNED and taken.reason == "taken_back"
    assert u.counters.accepted == 0
    assert u.insert(_sheet("void-pref", ["P01"], [1, 2])).status is Status.NEEDS_REVIEW
    cast = u.cast_anyway()
    assert cast.status is Status.ACCEPTED and u.counters.summary()["cast_after_warning"] == 1
    assert u.insert(_sheet("vote", ["P01"], [2])).status is Status.ACCEPTED
    with pytest.raises(IllegalTransition):
        u.cast_anyway()


def test_wrong_dec_election_contest_and_unreadable_sheets_are_always_returned() -> None:
    u = _open()
    other_smd = Sheet("smd", intent=next(s.intent for s in sheets(4, "SMD-20")))
    cases = {
        "wrong_dec": _sheet("dec", ["P01"], dec=2002),
        "election_mismatch": _sheet("el", ["P01"], election="0" * 64),
        "wrong_contest": other_smd,
        "not_a_ballot": Sheet("paper"),
        "bad_marks": _sheet("bad", ["NOT-A-PARTY"]),
    }
    for reason, sheet in cases.items():
        outcome = u.insert(sheet)
        assert (outcome.status, outcome.reason) == (Status.RETURNED, reason)
    assert u.counters.accepted == 0
    assert u.counters.returned == dict.fromkeys(cases, 1)


def test_marginal_marks_are_counted() -> None:
    u = _open()
    u.insert(_sheet("m", ["P01"], marginal=("PR-P02", "PR-P03")))
    s = u.counters.summary()
    assert (s["marginal_ballots"], s["marginal_marks"]) == (1, 2)


def test_jam_and_double_feed_count_nothing_until_fed_again() -> None:
    u = _open()
    sheet = _sheet("v", ["P01"])
    u.feeder.arm(Feed.JAM)
    assert u.insert(sheet).status is Status.JAMMED and u.state is State.JAMMED
    with pytest.raises(IllegalTransition):
        u.insert(sheet)
    u.clear_jam()
    u.feeder.arm(Feed.DOUBLE)
    assert u.insert(sheet).reason == "double_feed"
    assert u.counters.accepted == 0
    assert u.insert(sheet).status is Status.ACCEPTED


def test_illegal_transition_is_refused_logged_and_changes_nothing() -> None:
    storage = SimStorage()
    u = unit(storage)
    u.power_on()
    with pytest.raises(IllegalTransition, match="open_polls"):
        u.open_polls()
    assert u.state is State.READY
    entry = last_entry(storage.read(AUDIT), "illegal_transition")
    assert entry["data"] == {"state": "ready", "action": "open_polls"}


def test_corrupt_journal_refuses_to_open_polls_and_keeps_the_file() -> None:
    storage = SimStorage()
    run(unit(storage), sheets(20), close=False)
    data = bytearray(storage.read(JOURNAL))
    data[200] ^= 0x01
    damaged = SimStorage({**{n: storage.read(n) for n in storage.files}, JOURNAL: bytes(data)})
    again = restart(damaged)
    assert again.state is State.FAULT
    with pytest.raises(
        PollsRefused, match=r"journal corrupt at byte \d+ .*kept at sim:journal.bin"
    ):
        again.open_polls()
    assert damaged.read(JOURNAL) == bytes(data)


def test_another_election_definition_is_refused() -> None:
    storage = SimStorage()
    unit(storage).power_on()
    other = build("kg2021", "tiny", 1)
    assert fingerprint(other) != fingerprint(election())
    journal_before = storage.read(JOURNAL)
    again = unit(storage, election=other, reader=IntentReader(other, DEC, fingerprint(other)))
    result = again.power_on()
    assert again.state is State.SELF_TEST_FAILED
    assert "definition loaded" in result.failures()
    with pytest.raises(PollsRefused, match="definition"):
        again.print_zero_report()
    assert storage.read(JOURNAL) == journal_before


def test_storage_full_faults_the_unit_and_loses_no_accepted_ballot() -> None:
    storage = SimStorage()
    u = _open(storage)
    storage.capacity = storage.used() + 3000
    outcomes = [u.insert(s) for s in sheets(40)[:30] if u.state is State.POLLS_OPEN]
    assert u.state is State.FAULT and outcomes[-1].reason == "storage_full"
    accepted = sum(o.status is Status.ACCEPTED for o in outcomes)
    storage.capacity = None
    assert restart(storage).counters.accepted == accepted == u.counters.accepted


def test_clock_going_back_is_flagged_and_blocks_a_restart_until_fixed() -> None:
    clock = FakeClock(tick=1)
    storage = SimStorage()
    u = _open(storage, clock=clock)
    u.insert(_sheet("a", ["P01"]))
    clock.advance(-3600)
    u.insert(_sheet("b", ["P02"]))
    u.close_polls()
    report = u.print_final_report()
    assert report.body["clock_warnings"] and "went back" in report.body["clock_warnings"][0]
    u.power_off()
    again = unit(storage, clock=FakeClock("2021-11-28T06:00:00+06:00"))
    assert not again.power_on().ok and again.state is State.SELF_TEST_FAILED
    again.clock.set(LATER)
    assert again.retry_self_test().ok and again.state is State.FINAL_REPORTED


def test_reports_have_sequence_numbers_and_reprints_are_identical() -> None:
    storage = SimStorage()
    session = run(unit(storage), sheets(30))
    assert (session.zero.body["sequence"], session.final.body["sequence"]) == (1, 2)
    assert session.zero.body["ballots"]["accepted"] == 0
    again = restart(storage)
    assert again.state is State.FINAL_REPORTED
    assert again.print_final_report().envelope == session.final.envelope
    sent = []
    assert again.transmit(sent.append) == 2
    assert sent[0]["digest"] == session.final.digest
    later = FakeClock("2021-11-28T23:00:00+06:00")
    assert restart(storage, clock=later).state is State.TRANSMITTED
    assert verify(storage.read(AUDIT)).ok


def test_restart_during_polls_resumes_with_the_same_counts() -> None:
    storage = SimStorage()
    u = _open(storage)
    for sheet in sheets(25):
        u.insert(sheet)
    u.power_off()
    again = restart(storage)
    assert again.state is State.POLLS_OPEN
    assert again.counters.tallies() == u.counters.tallies()
    assert again.counters.returned == u.counters.returned


def test_unit_config_must_match_the_dec() -> None:
    from device.errors import DeviceError
    from device.machine import UnitConfig

    with pytest.raises(DeviceError, match="issues"):
        unit(SimStorage(), UnitConfig("x", 9001, ("SMD-20",)))
    assert CONFIG.contests == ("PR",)


def test_a_stream_of_images_feeds_like_a_folder(tmp_path) -> None:
    import cv2
    import numpy as np

    from device.hardware import folder, stream

    blank = np.full((40, 30), 255, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), blank)
    (tmp_path / "notes.txt").write_text("not a scan")
    from_folder = list(folder(tmp_path))
    from_stream = list(stream([blank, blank]))
    assert [s.label for s in from_folder] == ["a.png"]
    assert [s.label for s in from_stream] == ["frame-000001", "frame-000002"]
    assert all(s.image.shape == (40, 30) for s in from_folder + from_stream)
