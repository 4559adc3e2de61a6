"""The reader's mark rule and its thresholds, in one place, with the measurements that chose them.

A target is **marked** when its ink is strong (darker than any erasure) and has the form of
a mark a voter makes on purpose: a *filled* area (most of the box) or a *line mark* (a
check or a cross: thin strokes reaching across the box).  Ink that is neither, such as a
dab or a band covering 10–30 % of the box, or pencil as light as an erasure, is
**marginal**: the device returns the ballot instead of deciding for the voter.  Blank
paper is **unmarked**.

Calibrated with ``bench/marks.py`` (mark kind × size × darkness × scan profile × dpi, with
the form measures of every strong mark); the curves and the margins are in docs/reader.md.
Change a value here only together with a new run of that sweep and the table in the docs.
"""

from __future__ import annotations

import numpy as np

from ballot_reader.interpretation import TargetState

# Ink ---------------------------------------------------------------------------------------

INK_LEVEL = 0.06
"""A sample is inked when it is this share of the way from paper to black."""
MARKED = 0.07
"""Inked share of the box interior below which nothing counts (a floor: every filled area
and every line mark across the box inks more than 0.12)."""
MARGINAL = 0.03
"""Inked share from which a box is not blank either (blank paper: at most 0.001)."""
STRONG = 0.255
"""Mean darkness of the inked points a counted mark must reach; lighter ink is as light as
an erasure (at most 0.18 measured), so it is marginal however much of the box it covers."""
RING = 0.12
"""Inked share of the paper ring around the box from which a circled box is marginal."""

# Form --------------------------------------------------------------------------------------
# Measured on the samples at least HALF as dark as the mark's own darkest (99th percentile)
# ones: that outline does not move with blur, pen darkness or pencil grain.

HALF = 0.5
"""Share of the mark's own darkness that outlines it for the form measures."""
FULL = 0.75
"""Share of the interior a filled area must cover when it reaches no whole side: 80 % of
the interior is 42 % of the box (fill ≥ 0.5: ≥ 0.86; fill ≤ 0.3: ≤ 0.72 measured)."""
SIDE = 0.95
"""Inked share of one side of the interior from which the ink is a band that runs on under
the box outline (a box filled from one edge): then its area counts with that hidden rim."""
FILLED = 0.39
"""Share of the box, hidden rim extrapolated, a band must cover (partial fill ≥ 0.5:
≥ 0.49; fill ≤ 0.3 reaching a whole side: ≤ 0.31 measured)."""
EXTENT = 0.25
"""A row or column belongs to the mark's extent when it holds this share of the ink of
its fullest one (so a ragged fringe does not inflate a dab's extent)."""
SOLID = 0.65
"""Compactness below which the ink is strokes, not an area: ink share of its extent box
times the square of its row/column convexity (check and cross: ≤ 0.58; dabs and bands
reaching half the interior: ≥ 0.73 measured)."""
SPAN = 0.36
"""Extent, as a share of the interior's width and of its height, a line mark must reach
in both directions (check and cross of size ≥ 0.5: ≥ 0.56 measured)."""

NO_FORM, FILLED_AREA, LINE_MARK = 0, 1, 2
"""Codes of :func:`forms`."""


def forms(
    body: np.ndarray, cover: np.ndarray, side: np.ndarray, compact: np.ndarray, span: np.ndarray
) -> np.ndarray:
    """Per target: FILLED_AREA, LINE_MARK or NO_FORM, from the form measures of
    :class:`~ballot_reader.targets.TargetScores` (``body``: share of the interior inside
    the mark's outline; ``cover``: estimated share of the box; ``side``: inked share of
    the fullest side of the interior; ``compact``, ``span``: see SOLID and SPAN)."""
    filled = (body >= FULL) | ((side >= SIDE) & (cover >= FILLED))
    line = (compact < SOLID) & (span >= SPAN)
    return np.where(filled, FILLED_AREA, np.where(line, LINE_MARK, NO_FORM)).astype(np.int8)


_STATES = (TargetState.UNMARKED, TargetState.MARGINAL, TargetState.MARKED)


def states(score: np.ndarray, strength: np.ndarray, ring: np.ndarray) -> list[TargetState]:
    """The state of each target from its inked share, its strength and its ring.

    ``strength`` is the darkness of a *countable* mark (0 when the ink has no countable
    form: see :attr:`~ballot_reader.targets.TargetScores.strength`), so the form rule is
    already in it.
    """
    score, strength, ring = (np.asarray(a) for a in (score, strength, ring))
    marked = (score >= MARKED) & (strength >= STRONG)
    marginal = (score >= MARGINAL) | (ring >= RING)
    codes = np.where(marked, 2, np.where(marginal, 1, 0))
    return [_STATES[c] for c in codes.tolist()]
