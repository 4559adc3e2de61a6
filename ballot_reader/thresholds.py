"""The reader's mark rule and its thresholds, in one place, with the measurements that chose them.

A target is **marked** when its ink is strong (darker than any erasure) and has the form of
a mark a voter makes on purpose: a *filled* area (over half of the box, or a band filled
from one edge over at least ~40 % of it) or a *line mark* (a check or a cross: strokes reaching
across the box).  Ink that is neither, a dab or a band covering 10–30 % of the box, and
ink as light as an erasure whatever its form, is **marginal**: the device returns the
ballot instead of deciding for the voter.  Blank paper is **unmarked**.

Calibrated with ``bench/marks.py``: its margins part reads 2,700 pages (150/200/300 dpi ×
clean/typical/envelope) of the acceptance test's populations (clear marks, marginal
marks, erasures, blanks; a third of the marks on the populations' edges) and reports,
per threshold, the extreme measure on each side.  The figures quoted below are from that
run and from six more seeded runs (216,505 targets, four of them concentrated on the
populations' edges); the tables are in docs/reader.md.  Change a value here only
together with a new run of that sweep and the table in the docs.
"""

from __future__ import annotations

import numpy as np

from ballot_reader.interpretation import TargetState

# Ink ---------------------------------------------------------------------------------------

INK_LEVEL = 0.06
"""A sample is inked when it is this share of the way from paper to black."""
MARKED = 0.07
"""Inked share of the box interior below which nothing counts (a floor: every filled area
and every check or cross of size ≥ 0.5 inks more than 0.11); the form measures are taken
only from here up."""
MARGINAL = 0.03
"""Inked share from which a box is not blank either (blank paper: at most 0.0084 over
153,843 blank targets)."""
STRONG = 0.255
"""Darkness of a mark's darkest samples (``peak``, the 99th percentile) a counted mark must
reach.  Lighter ink is as light as an erasure, so it is marginal however much of the box
it covers.  Measured: erasures ≤ 0.227, pencil at darkness ≤ 0.2 ≤ 0.259; clear marks
≥ 0.255 (pencil at 0.7 on an over-exposed scan is the lightest).  The two touch at their
edges: under the envelope's ±30 % exposure, clipped at white and black, pencil at 0.2
and at 0.7 can scan alike (docs/reader.md)."""
RING = 0.12
"""Inked share of the paper ring around the box from which a circled box is marginal."""

# Form --------------------------------------------------------------------------------------
# Two outlines of the ink: the *strokes* (samples at least HALF as dark as the peak: blur,
# pen darkness and pencil grain do not move it) and the *area* (at least HALF as dark as
# the upper quartile of the inked samples, which pencil speckle does not break up).

HALF = 0.5
"""Share of the mark's own darkness that outlines it for the form measures."""
COVERED = 0.54
"""Share of the box (``cover``) a filled area must cover, wherever it lies.  Measured on
32,667 clear fills and pencil fills at the population's edge (size exactly 0.5 or
0.5–0.6, envelope scans, 150/200/300 dpi): lowest 0.543 (a fill pushed 0.5 mm
off-centre leaves a strip of the interior blank but its hidden rim is counted); on
31,703 dabs of 20–30 % at darkness 0.5–0.95, of which 22,589 at exactly 30 %: 28 reach it
(all at 30 % and darkness ≥ 0.6; blur and clipping grow a dark dab by up to 0.4 mm a
side), highest 0.634.  The share of the interior alone (``body``) separates them worse:
3 of the same clear fills below any value that counts fewer than 41 of the dabs."""
SIDE = 0.95
"""Inked share of one side of the interior from which the ink is a band that runs on under
the box outline (a box filled from one edge): then its area counts with that hidden rim."""
FILLED = 0.39
"""Share of the box, the rim under the outline (0.75 mm) extrapolated from the sides the
ink reaches, a band reaching a whole side must cover.  Measured: partial fills of ≥ 50 %
≥ 0.409; marks of ≤ 30 % reaching a whole side ≤ 0.374."""
EXTENT = 0.25
"""A row or column belongs to the mark's extent when it holds this share of the ink of
its fullest one (so a ragged fringe does not inflate a dab's extent)."""
SOLID = 0.65
"""Compactness below which the ink is strokes, not an area.  Compactness is the inked
share of the mark's extent box times the inked share of its middle row and column (a
cross or a check crosses its own middle only where a stroke passes), the larger of the
two outlines'.  Measured: checks and crosses ≤ 0.52 (99.9 %; 4 of 25,785 above, the
smallest and lightest clear checks at 150 dpi, up to 0.72), dabs and bands reaching
SPAN ≥ 0.64 (1 of 59,562 below)."""
SPAN = 0.36
"""Extent of the strokes, as a share of the interior's width and of its height, a line
mark must reach in both directions (checks and crosses of size ≥ 0.5: ≥ 0.38; the
stroke-like slivers and specks it keeps out: ≤ 0.32, but one of 408)."""

# Folds -------------------------------------------------------------------------------------

FOLD = 0.15
"""Darkness (share of the way from paper to black) of a line crossing a target's paper
ring on both sides at the same rows, from which the target is under a fold's shadow and
cannot be read as marked: it comes back marginal (``targets.fold_darkness``).  A fold is
outside the envelope; its shadow across a box looks like a band of ink.  Measured with
``bench/hostile.py`` (docs/reader.md, "Folds"): the blanks that ``hostile`` pages read
as marked without this check, every one under a fold, measured 0.238–0.530 (7 on 120
pages, seed 2026) and 0.236–0.572 (18 on 300 pages, seed 2027); targets of the same
pages more than 8 mm from any fold (noise σ 12, JPEG q 15, light streaks) at most 0.101
(5,049) and 0.124 (13,100); all 24,449 targets of 360 ``envelope`` pages at most 0.071.
A shadow must be darker than ``STRONG`` (0.255) to pass for ink, and the ring sees the
same shadow less ≤ 10 % (its rows are ≤ 0.34 mm apart, a shadow is ≥ 0.8 mm wide)."""


NO_FORM, FILLED_AREA, LINE_MARK = 0, 1, 2
"""Codes of :func:`forms`."""


def forms(cover: np.ndarray, side: np.ndarray, compact: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Per target: FILLED_AREA, LINE_MARK or NO_FORM, from the form measures of
    :class:`~ballot_reader.targets.TargetScores` (``cover``: estimated share of the box
    inside the mark's outline; ``side``: inked share of the fullest side of the interior;
    ``compact``, ``span``: see SOLID and SPAN)."""
    filled = (cover >= COVERED) | ((side >= SIDE) & (cover >= FILLED))
    line = (compact < SOLID) & (span >= SPAN)
    return np.where(filled, FILLED_AREA, np.where(line, LINE_MARK, NO_FORM)).astype(np.int8)


_STATES = (TargetState.UNMARKED, TargetState.MARGINAL, TargetState.MARKED)


def states(
    score: np.ndarray, strength: np.ndarray, ring: np.ndarray, fold: np.ndarray | None = None
) -> list[TargetState]:
    """The state of each target from its inked share, its strength and its ring.

    ``strength`` is the darkness of a *countable* mark (0 when the ink has no countable
    form: see :attr:`~ballot_reader.targets.TargetScores.strength`), so the form rule is
    already in it.  ``fold`` (see :data:`FOLD`): a target under a fold's shadow that
    would be marked is marginal instead; the shadow alone can look like a filled band.
    """
    score, strength, ring = (np.asarray(a) for a in (score, strength, ring))
    marked = (score >= MARKED) & (strength >= STRONG)
    if fold is not None:
        marked &= np.asarray(fold) < FOLD
    marginal = (score >= MARGINAL) | (ring >= RING)
    codes = np.where(marked, 2, np.where(marginal, 1, 0))
    return [_STATES[c] for c in codes.tolist()]
