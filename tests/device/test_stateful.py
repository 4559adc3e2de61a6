"""Stateful property test: operator actions, ballots, jams, double feeds, power cuts
(at any write, with a torn tail) and restarts, in any order hypothesis finds.

Invariants after every step: the counters equal a recount of the journal's ballot
records; no sheet is counted twice; the ballots reported accepted are exactly the
journal's (after a cut, plus at most the one in flight whose record reached the disk);
every state change is one the transition table allows; an illegal action changes
nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from device import journal
from device.clock import FakeClock
from device.counters import Counters
from device.errors import DeviceError, PowerCut
from device.hardware import Feed, Sheet
from device.machine import JOURNAL, Pcos, Status
from device.states import TRANSITIONS, State
from device.storage import SimStorage
from election.rules import InvalidBallotPolicy, RuleSet
from tests.device.helpers import CONFIG, election, sheets, unit

POOL: tuple[Sheet, ...] = (
    *sheets(40),
    *sheets(4, "SMD-20"),
    Sheet("blank-paper"),
)


OPERATOR_CALLS = (
    "power_on",
    "print_zero_report",
    "open_polls",
    "close_polls",
    "print_final_report",
    "transmit",
    "cast_anyway",
    "take_back",
    "clear_jam",
    "retry_self_test",
)


class UnitMachine(RuleBasedStateMachine):
    rules_set = RuleSet.kg2021()

    def __init__(self) -> None:
        super().__init__()
        self.storage = SimStorage()
        self.clock = FakeClock(tick=1)
        self.accepted: list[str] = []
        self.unit = self._new_unit()
        self.cut: tuple[int, float] | None = None

    def _new_unit(self) -> Pcos:
        return unit(self.storage, rules=self.rules_set, clock=self.clock, on_transition=self._seen)

    @staticmethod
    def _seen(old: State, action, new: State) -> None:
        assert new in TRANSITIONS[(old, action)], f"{old} --{action}--> {new}"

    def _do(self, step: Callable[[], object], in_flight: str | None = None) -> object:
        """Run one action; on IllegalTransition check nothing changed; on a power cut
        restart from the crashed memory and check what survived."""
        before = (self.unit.state, self.unit.counters.accepted)
        try:
            return step()
        except DeviceError:
            assert (self.unit.state, self.unit.counters.accepted) == before
        except PowerCut:
            event("power cut")
            self._crash(in_flight)
        return None

    def _crash(self, in_flight: str | None) -> None:
        reported = self.unit.counters.accepted
        # The cut may fall after the unit showed "accepted" but before the call returned.
        assert reported - len(self.accepted) in (0, 1)
        shown = self.accepted + [in_flight] * (reported - len(self.accepted))
        keep = {JOURNAL: int(self.storage.unsynced(JOURNAL) * self.cut[1])}
        self.storage = self.storage.crash(keep)
        self.cut = None
        self.clock.advance(3600)
        self.unit = self._new_unit()
        self.unit.power_on()
        labels = self._journal_labels()
        assert labels[:reported] == shown
        extra = labels[reported:]
        assert extra in ([], [in_flight]), (extra, in_flight)
        event(f"restart after cut: {'in-flight ballot kept' if extra else 'nothing in flight'}")
        self.accepted = labels

    def _journal_labels(self) -> list[str]:
        found = journal.scan(self.storage.read(JOURNAL))
        return [r["s"] for r in found.records if r["t"] == "ballot"]

    # Rules -------------------------------------------------------------------------------

    def _in(*states: State) -> Callable:
        return precondition(lambda self: self.unit.state in states)

    @_in(State.OFF)
    @rule()
    def power_on(self) -> None:
        self._do(self.unit.power_on)

    @_in(State.READY)
    @rule()
    def print_zero(self) -> None:
        self._do(self.unit.print_zero_report)

    @_in(State.ZERO_REPORTED)
    @rule()
    def open_polls(self) -> None:
        self._do(self.unit.open_polls)

    @precondition(lambda self: self.unit.state is State.POLLS_OPEN and len(self.accepted) >= 8)
    @rule()
    def close_polls(self) -> None:
        self._do(self.unit.close_polls)

    @_in(State.POLLS_CLOSED, State.FINAL_REPORTED, State.TRANSMITTED)
    @rule()
    def print_final(self) -> None:
        self._do(self.unit.print_final_report)

    @_in(State.FINAL_REPORTED, State.TRANSMITTED)
    @rule()
    def transmit(self) -> None:
        self._do(lambda: self.unit.transmit(lambda report: None))

    @rule(name=st.sampled_from(OPERATOR_CALLS))
    def any_action(self, name: str) -> None:
        """Whatever the state: an illegal action raises, is logged and changes nothing."""
        if name == "cast_anyway":  # legal in NEEDS_REVIEW, where it counts a ballot
            self.cast_anyway()
            return
        call = getattr(self.unit, name)
        self._do(lambda: call(lambda report: None) if name == "transmit" else call())

    @_in(State.POLLS_OPEN)
    @rule(
        feeds=st.lists(
            st.tuples(st.integers(0, len(POOL) - 1), st.sampled_from(list(Feed))),
            min_size=1,
            max_size=5,
        )
    )
    def insert(self, feeds: list[tuple[int, Feed]]) -> None:
        for index, fault in feeds:
            sheet = POOL[index]
            if self.unit.state is not State.POLLS_OPEN or sheet.label in self.accepted:
                return
            self.unit.feeder.arm(fault)
            outcome = self._do(lambda sheet=sheet: self.unit.insert(sheet), sheet.label)
            self.unit.feeder.armed = None
            if outcome is None:
                return
            event(f"insert: {outcome.status.value}")
            if outcome.status is Status.ACCEPTED:
                self.accepted.append(sheet.label)

    @_in(State.NEEDS_REVIEW)
    @rule()
    def cast_anyway(self) -> None:
        pending = self.unit._pending
        outcome = self._do(self.unit.cast_anyway, pending[0].label if pending else None)
        if outcome is not None and outcome.status is Status.ACCEPTED:
            self.accepted.append(outcome.sheet)

    @_in(State.NEEDS_REVIEW)
    @rule()
    def take_back(self) -> None:
        self._do(self.unit.take_back)

    @_in(State.JAMMED)
    @rule()
    def clear_jam(self) -> None:
        self._do(self.unit.clear_jam)

    @rule(after=st.integers(0, 4), keep=st.sampled_from([0.0, 0.5, 0.99, 1.0]))
    def arm_power_cut(self, after: int, keep: float) -> None:
        if self.unit.state is not State.OFF:
            self.storage.cut_before = self.storage.writes + after
            self.cut = (after, keep)

    @rule()
    def restart(self) -> None:
        if self.unit.state is State.OFF or self.cut is not None:
            return
        self._do(self.unit.power_off)
        self.unit = self._new_unit()
        self._do(self.unit.power_on)
        assert self._journal_labels() == self.accepted

    # Invariants --------------------------------------------------------------------------

    @invariant()
    def counters_equal_the_journal(self) -> None:
        if self.unit.state is State.OFF or self.cut is not None:
            return
        found = journal.scan(self.storage.read(JOURNAL))
        recount = Counters(election(), CONFIG.contests)
        for record in found.records:
            if record["t"] == "ballot":
                recount.add(record)
        assert recount.tallies() == self.unit.counters.tallies()
        labels = self._journal_labels()
        assert labels == self.accepted
        assert len(set(labels)) == len(labels), "a sheet counted twice"


class ReturnWithWarningMachine(UnitMachine):
    rules_set = dataclasses.replace(
        RuleSet.kg2021(),
        validity=dataclasses.replace(
            RuleSet.kg2021().validity,
            invalid_ballot_policy=InvalidBallotPolicy.RETURN_WITH_WARNING,
        ),
    )


_settings = settings(
    max_examples=50,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestUnitMachine = UnitMachine.TestCase
TestUnitMachine.settings = _settings
TestReturnWithWarningMachine = ReturnWithWarningMachine.TestCase
TestReturnWithWarningMachine.settings = _settings
