"""The unit's states and the one table of allowed transitions.

Every state change of :class:`device.machine.Pcos` goes through :func:`target`, so the
table below *is* the state machine: a technician can read it, a test can enumerate it,
and an action it does not list raises :class:`~device.errors.IllegalTransition`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from device.errors import IllegalTransition


class State(enum.StrEnum):
    OFF = "off"
    SELF_TEST_FAILED = "self_test_failed"
    READY = "ready"
    ZERO_REPORTED = "zero_reported"
    POLLS_OPEN = "polls_open"
    SCANNING = "scanning"
    ACCEPTING = "accepting"
    NEEDS_REVIEW = "needs_review"
    JAMMED = "jammed"
    POLLS_CLOSED = "polls_closed"
    FINAL_REPORTED = "final_reported"
    TRANSMITTED = "transmitted"
    FAULT = "fault"


class Action(enum.StrEnum):
    POWER_ON = "power_on"
    SELF_TEST = "self_test"
    PRINT_ZERO = "print_zero_report"
    IMPORT_JOURNAL = "import_journal"
    OPEN_POLLS = "open_polls"
    INSERT = "insert_sheet"
    READ_OK = "read_ok"
    NEEDS_REVIEW = "needs_review"
    RETURN = "return_sheet"
    JAM = "jam"
    COMMITTED = "committed"
    CAST_ANYWAY = "cast_anyway"
    TAKE_BACK = "take_back"
    CLEAR_JAM = "clear_jam"
    CLOSE_POLLS = "close_polls"
    PRINT_FINAL = "print_final_report"
    TRANSMIT = "transmit"
    FAULT = "fault"
    POWER_OFF = "power_off"


OPERATOR = frozenset(
    {
        Action.POWER_ON,
        Action.SELF_TEST,
        Action.PRINT_ZERO,
        Action.IMPORT_JOURNAL,
        Action.OPEN_POLLS,
        Action.INSERT,
        Action.CAST_ANYWAY,
        Action.TAKE_BACK,
        Action.CLEAR_JAM,
        Action.CLOSE_POLLS,
        Action.PRINT_FINAL,
        Action.TRANSMIT,
        Action.POWER_OFF,
    }
)
"""What a person does; the other actions are the firmware's own steps."""

RESUMABLE = frozenset(
    {
        State.READY,
        State.ZERO_REPORTED,
        State.POLLS_OPEN,
        State.POLLS_CLOSED,
        State.FINAL_REPORTED,
        State.TRANSMITTED,
    }
)
"""Where a power-on may land: the stage the journal records.  Transient states
(scanning, accepting, review, jam) are never resumed: the sheet was not accepted unless
its record is complete in the journal, and the voter gets it back."""

_START = RESUMABLE | {State.SELF_TEST_FAILED, State.FAULT}

TRANSITIONS: Mapping[tuple[State, Action], frozenset[State]] = {
    (State.OFF, Action.POWER_ON): _START,
    (State.SELF_TEST_FAILED, Action.SELF_TEST): _START,
    (State.READY, Action.PRINT_ZERO): frozenset({State.ZERO_REPORTED}),
    (State.ZERO_REPORTED, Action.PRINT_ZERO): frozenset({State.ZERO_REPORTED}),
    (State.ZERO_REPORTED, Action.IMPORT_JOURNAL): frozenset({State.ZERO_REPORTED}),
    (State.ZERO_REPORTED, Action.OPEN_POLLS): frozenset({State.POLLS_OPEN}),
    (State.POLLS_OPEN, Action.INSERT): frozenset({State.SCANNING}),
    (State.SCANNING, Action.READ_OK): frozenset({State.ACCEPTING}),
    (State.SCANNING, Action.NEEDS_REVIEW): frozenset({State.NEEDS_REVIEW}),
    (State.SCANNING, Action.RETURN): frozenset({State.POLLS_OPEN}),
    (State.SCANNING, Action.JAM): frozenset({State.JAMMED}),
    (State.NEEDS_REVIEW, Action.CAST_ANYWAY): frozenset({State.ACCEPTING}),
    (State.NEEDS_REVIEW, Action.TAKE_BACK): frozenset({State.POLLS_OPEN}),
    (State.ACCEPTING, Action.COMMITTED): frozenset({State.POLLS_OPEN}),
    (State.JAMMED, Action.CLEAR_JAM): frozenset({State.POLLS_OPEN}),
    (State.POLLS_OPEN, Action.CLOSE_POLLS): frozenset({State.POLLS_CLOSED}),
    (State.POLLS_CLOSED, Action.PRINT_FINAL): frozenset({State.FINAL_REPORTED}),
    (State.FINAL_REPORTED, Action.PRINT_FINAL): frozenset({State.FINAL_REPORTED}),
    (State.FINAL_REPORTED, Action.TRANSMIT): frozenset({State.TRANSMITTED}),
    (State.TRANSMITTED, Action.TRANSMIT): frozenset({State.TRANSMITTED}),
    (State.TRANSMITTED, Action.PRINT_FINAL): frozenset({State.TRANSMITTED}),
    **{(s, Action.FAULT): frozenset({State.FAULT}) for s in State if s is not State.OFF},
    **{(s, Action.POWER_OFF): frozenset({State.OFF}) for s in State if s is not State.OFF},
}


def allowed(state: State) -> tuple[Action, ...]:
    """Operator actions the table allows from ``state`` (what the screen offers)."""
    return tuple(a for (s, a) in TRANSITIONS if s is state and a in OPERATOR)


def require(state: State, action: Action) -> None:
    """Raise IllegalTransition unless the table lists ``action`` from ``state``."""
    if (state, action) not in TRANSITIONS:
        raise IllegalTransition(state.value, action.value)


def target(state: State, action: Action, wanted: State | None = None) -> State:
    """The state ``action`` leads to from ``state``; raises IllegalTransition otherwise.

    ``wanted`` picks among several allowed targets (a power-on resumes the journal's
    stage); without it the action must have exactly one.
    """
    targets = TRANSITIONS.get((state, action))
    if not targets:
        raise IllegalTransition(state.value, action.value)
    if wanted is None:
        if len(targets) != 1:
            raise IllegalTransition(state.value, action.value, "no target state given")
        (wanted,) = targets
    if wanted not in targets:
        raise IllegalTransition(state.value, action.value, f"cannot lead to {wanted.value}")
    return wanted
