"""What a voter put on one ballot, independent of paper and pixels.

A :class:`MarkedBallot` is the ground truth the fixtures generate and the reading the
scanner produces; the validity rules turn it into a verdict.  Keeping both sides in one
type is what lets the auditor compare them field by field.
"""

from __future__ import annotations

from dataclasses import dataclass

from election.model import BallotStyle


@dataclass(frozen=True, slots=True)
class MarkedBallot:
    """Marked option ids (part 1 of PR, the only part of SMD) and part-2 numbers."""

    style: BallotStyle
    dec: int
    options: frozenset[str] = frozenset()
    preferences: frozenset[int] = frozenset()
