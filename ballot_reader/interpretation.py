"""What the reader says about one page: the contract between reader, scanner and auditor.

A page is either readable, with every target's score and state and the contest verdict,
or unreadable with a reason; there is no third outcome and never a guessed vote.  The
scanner firmware (device/) decides what to do with marginal marks and verdicts; the
reader only reports them, with the evidence a technician needs when a read is disputed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from election.ballots import MarkedBallot
from election.validity import ContestVerdict


class TargetState(enum.StrEnum):
    MARKED = "marked"
    MARGINAL = "marginal"
    UNMARKED = "unmarked"


class Unreadable(enum.StrEnum):
    """Why a page was not read; every one of these is returned to the voter."""

    NOT_A_BALLOT = "not_a_ballot"
    FIDUCIALS_NOT_FOUND = "fiducials_not_found"
    STYLE_CODE_UNREADABLE = "style_code_unreadable"
    ELECTION_MISMATCH = "election_mismatch"
    WRONG_DEC = "wrong_dec"
    UNKNOWN_STYLE = "unknown_style"
    OUTSIDE_ENVELOPE = "outside_envelope"
    STREAK = "streak"


@dataclass(frozen=True, slots=True)
class TargetReading:
    """One target: its stable layout id, normalised fill score and state.

    ``center_px`` is where the target's centre was sampled in the input image, the
    evidence drawn on the debug overlay.
    """

    target: str
    score: float
    state: TargetState
    center_px: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Interpretation:
    """The reader's answer for one page.

    ``ballot`` holds the marked targets only (what counts); marginal targets are listed
    in ``marginal`` and are never silently counted or dropped.
    """

    reason: Unreadable | None = None
    detail: str = ""
    ballot: MarkedBallot | None = None
    verdict: ContestVerdict | None = None
    targets: tuple[TargetReading, ...] = ()
    upside_down: bool = False

    @property
    def readable(self) -> bool:
        return self.reason is None

    @property
    def marginal(self) -> tuple[str, ...]:
        return tuple(t.target for t in self.targets if t.state is TargetState.MARGINAL)
