"""Folded ballots: a fold's shadow across a box is never read as a vote.

A fold (fixtures.scan.Fold: a soft dark line across the sheet) is outside the reader's
envelope.  Where it crosses a box it looks like a band of ink; the reader sees it in the
paper on both sides of the box at the same rows and returns the box as marginal instead
of marked (docs/reader.md, "Folds").  The fold is drawn here through chosen page rows:
Fold's random draws are replaced by fixed ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballot_reader.interpret import reader_for
from ballot_reader.interpretation import TargetState
from ballot_reader.thresholds import FOLD
from election.model import BallotKind
from fixtures.marks import MarkSpec
from fixtures.render import render
from fixtures.scan import Fold, scan
from tests.ballot_reader.pages import HOME_DEC, layout, national

PR_ROWS = sorted({t.box.cy for t in layout(BallotKind.PR).targets})
GAP_MM = (245.0, 250.0)
"""Page rows between the PR ballot's candidate rows (to 235.7 mm) and its last party
rows (from 259.5 mm): a fold there crosses no target's clear area."""


class _Fixed:
    """Stands in for the generator Fold draws from: it always draws a fold, at
    ``y_mm`` from the page top (at its left edge) and tilted by ``tilt`` degrees."""

    def __init__(self, y_fraction: float, tilt: float) -> None:
        self._values = [y_fraction, tilt]

    def random(self) -> float:
        return 0.0

    def uniform(self, low: float, high: float) -> float:
        return self._values.pop(0)


def _folded(
    page: np.ndarray, dpi: int, y_mm: float, tilt: float, darkness: float, width: float
) -> np.ndarray:
    page = page.copy()
    scale = dpi / 25.4
    fold = Fold(1.0, (darkness, darkness), (width, width))
    record = fold.draw(page, scale, _Fixed(y_mm * scale / page.shape[0], tilt), 255)
    assert record is not None and abs(record["y_mm"] - y_mm) < 0.01
    return page


def _read(page: np.ndarray, dpi: int, seed: int, profile: str = "typical"):
    image = scan(page, dpi, profile, np.random.default_rng(seed)).image
    return reader_for(national()).read(image, dec=HOME_DEC, dpi_hint=dpi)


def _crossed(y_mm: float, tilt: float, reach: float) -> set[str]:
    """PR targets whose box the fold's centre line passes within ``reach`` mm of."""
    slope = np.tan(np.radians(tilt))
    return {
        t.id
        for t in layout(BallotKind.PR).targets
        if abs(t.box.cy - (y_mm + slope * t.box.cx)) < t.box.h / 2 + reach
    }


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    row=st.sampled_from(PR_ROWS),
    offset=st.floats(-2.5, 2.5),
    tilt=st.floats(-1.5, 1.5),
    darkness=st.floats(0.2, 0.5),
    width=st.floats(0.8, 2.0),
    dpi=st.sampled_from([150, 200, 300]),
    seed=st.integers(0, 1000),
)
def test_a_fold_across_blank_targets_is_never_read_as_a_mark(
    row, offset, tilt, darkness, width, dpi, seed
):
    lay = layout(BallotKind.PR)
    page = render(lay, "ky", dpi, [], seed=seed)
    # The fold passes through the chosen row at the middle of the page's targets.
    y_mm = row + offset - np.tan(np.radians(tilt)) * 107.5
    page = _folded(page, dpi, y_mm, tilt, darkness, width)
    reading = _read(page, dpi, seed)
    it = reading.interpretation
    if not it.readable:
        return  # refusing a folded page is allowed; reading a vote into it is not
    marked = [t.target for t in it.targets if t.state is TargetState.MARKED]
    assert marked == [], (marked, it.ballot)
    assert it.ballot is not None and not it.ballot.options and not it.ballot.preferences


@pytest.mark.parametrize(
    ("dpi", "darkness", "width", "offset"),
    [(150, 0.45, 1.5, 0.0), (200, 0.5, 2.0, 1.2), (300, 0.35, 1.0, -1.0), (200, 0.3, 0.8, 0.5)],
)
def test_a_fold_across_blank_targets_is_seen_in_their_paper(dpi, darkness, width, offset):
    """The detector itself, not only its outcome: every box the shadow's core crosses
    measures a fold darker than FOLD, and no box clear of it does."""
    lay = layout(BallotKind.PR)
    row = PR_ROWS[8]
    page = _folded(render(lay, "ky", dpi, [], seed=5), dpi, row + offset, 0.0, darkness, width)
    reading = _read(page, dpi, 5)
    assert reading.interpretation.readable
    fold = dict(zip((t.id for t in lay.targets), reading.evidence.scores.fold, strict=True))
    inside = _crossed(row + offset, 0.0, 0.0)
    assert inside and all(fold[t] >= FOLD for t in inside), {t: fold[t] for t in inside}
    far = set(fold) - _crossed(row + offset, 0.0, 4.0)
    assert far and all(fold[t] < FOLD / 2 for t in far)


@pytest.mark.parametrize("dpi", [150, 200, 300])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_fold_crossing_no_target_changes_nothing(dpi, seed):
    lay = layout(BallotKind.PR)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(lay.targets), 8, replace=False)
    marks = [MarkSpec("fill", lay.targets[i].id) for i in chosen]
    page = render(lay, "ky", dpi, marks, seed=seed)
    y_mm = float(rng.uniform(*GAP_MM))
    tilt = float(rng.uniform(-0.5, 0.5))
    assert not _crossed(y_mm, tilt, 3.5)
    plain = _read(page, dpi, seed).interpretation
    folded = _read(_folded(page, dpi, y_mm, tilt, 0.5, 2.0), dpi, seed).interpretation
    assert plain.readable and folded.readable
    assert [t.state for t in folded.targets] == [t.state for t in plain.targets]
    assert folded.ballot == plain.ballot and folded.verdict == plain.verdict


@pytest.mark.parametrize(
    ("dpi", "darkness", "mark"),
    [(150, 0.4, "fill"), (200, 0.5, "check"), (300, 0.25, "cross"), (200, 0.35, "faint")],
)
def test_a_mark_under_a_fold_is_not_read_blank(dpi, darkness, mark):
    """Marks under the fold come back marked or marginal, never unmarked (the fold only
    darkens the box, and a box whose ring shows one is at worst marginal)."""
    lay = layout(BallotKind.PR)
    row = PR_ROWS[5]
    under = [t.id for t in lay.targets if abs(t.box.cy - row) < 0.1]
    marks = [MarkSpec(mark, t, 1.0, 0.9) for t in under]
    page = _folded(render(lay, "ky", dpi, marks, seed=3), dpi, row + 0.5, 0.0, darkness, 1.5)
    it = _read(page, dpi, 3).interpretation
    assert it.readable, it.detail
    states = {t.target: t.state for t in it.targets}
    assert under and all(states[t] is not TargetState.UNMARKED for t in under)
    assert all(s is not TargetState.MARKED for t, s in states.items() if t not in under)
