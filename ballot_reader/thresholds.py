"""The reader's mark thresholds, in one place, with the measurements that chose them.

Calibrated with ``bench/marks.py`` (mark kind × size × darkness × scan profile × dpi); the
curves and the margins are in docs/reader.md.  Change a value here only together with a
new run of that sweep and the table in the docs.
"""

from __future__ import annotations

import numpy as np

from ballot_reader.interpretation import TargetState

INK_LEVEL = 0.06
"""A sample is inked when it is this share of the way from paper to black."""
MARKED = 0.07
"""Inked share of the box interior from which a mark counts."""
MARGINAL = 0.03
"""Inked share from which a box is not blank either: below MARKED it is marginal."""
STRONG = 0.22
"""Mean darkness of the inked points a counted mark must reach; lighter ink is as light as
an erasure, so it is marginal however much of the box it covers."""
RING = 0.12
"""Inked share of the paper ring around the box from which a circled box is marginal."""


def states(score: np.ndarray, strength: np.ndarray, ring: np.ndarray) -> list[TargetState]:
    """The state of each target from its three measures."""
    out = []
    for s, k, r in zip(score.tolist(), strength.tolist(), ring.tolist(), strict=True):
        if s >= MARKED and k >= STRONG:
            out.append(TargetState.MARKED)
        elif s >= MARGINAL or r >= RING:
            out.append(TargetState.MARGINAL)
        else:
            out.append(TargetState.UNMARKED)
    return out
