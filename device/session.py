"""Drive a unit through polling day: the procedure a DEC follows, as code.

Power on, print the zero report, open the polls, feed every sheet (clearing jams,
feeding a double-fed sheet again, and letting the voter cast a ballot returned with a
warning), close the polls and print the final report.  The CLI, the test deck and the
benchmarks all use it, so they exercise the same sequence a technician would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from device.errors import DeviceError, PollsRefused
from device.hardware import Sheet
from device.machine import Outcome, Pcos, Status
from device.reports import Report
from device.states import State

MAX_TRIES = 5
"""Feeds of one sheet before the voter gives up (a feeder that jams every time)."""


@dataclass
class Session:
    """What a session produced: the reports printed and every sheet's last outcome."""

    zero: Report | None = None
    final: Report | None = None
    outcomes: list[Outcome] = field(default_factory=list)


def start(unit: Pcos, session: Session) -> None:
    """Bring the unit from off (or any resumable stage) to polls open."""
    if unit.state is State.OFF:
        result = unit.power_on()
        if not result.ok:
            raise PollsRefused(f"the unit refuses to open the polls: {result.failures()}")
    if unit.state is State.READY:
        session.zero = unit.print_zero_report()
    if unit.state is State.ZERO_REPORTED:
        unit.open_polls()


def feed(unit: Pcos, sheet: Sheet, *, cast_after_warning: bool = True) -> Outcome:
    """Feed one sheet until it is accepted or finally returned."""
    for _ in range(MAX_TRIES):
        outcome = unit.insert(sheet)
        if outcome.status is Status.JAMMED:
            unit.clear_jam()
            continue
        if outcome.status is Status.RETURNED and outcome.reason == "double_feed":
            continue
        if outcome.status is Status.NEEDS_REVIEW:
            return unit.cast_anyway() if cast_after_warning else unit.take_back()
        return outcome
    return outcome


def run(
    unit: Pcos,
    sheets: Iterable[Sheet],
    *,
    close: bool = True,
    cast_after_warning: bool = True,
    on_outcome: Callable[[Pcos, Outcome], None] | None = None,
) -> Session:
    """A whole session; stops feeding if the unit faults (e.g. its memory is full)."""
    session = Session()
    start(unit, session)
    if unit.state is State.POLLS_OPEN:
        for sheet in sheets:
            outcome = feed(unit, sheet, cast_after_warning=cast_after_warning)
            session.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(unit, outcome)
            if unit.state is State.FAULT:
                raise DeviceError(f"unit {unit.config.unit} failed: {unit.fault}")
    if close and unit.state is State.POLLS_OPEN:
        unit.close_polls()
    if unit.state in (State.POLLS_CLOSED, State.FINAL_REPORTED, State.TRANSMITTED):
        session.final = unit.print_final_report()
    return session
