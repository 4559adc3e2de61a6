"""Sensor streaks: lines down the image from dust on the glass or a dead sensor element.

A streak follows the feed direction, so it is a run of image columns darkened (or
lightened) from the top of the image to the bottom, through the scanner background and
the page alike.  Printed content never does that: it sits at some heights and not at
others.  So the image is cut into :data:`BANDS` horizontal bands, each band's column
means are compared with the level of the columns beside them, and a column counts as
streaked only when it is darker than its neighbours on both sides in all bands but two
(where a tilted page's side edge may cross the column).

A narrow streak (up to :data:`MAX_WIDTH_MM`) is *masked*: the reader leaves its columns
out of every target score and style-code cell, which costs a box at most a tenth of its
width.  A dark one is also divided out of the image (its measured gain restores the
paper exactly) when enough signal is left (gain at least :data:`MIN_GAIN`), so that the
fiducials and the overlay are clean too.  A wider streak, or more than
:data:`MAX_STREAKS`, is not maskable: the reader then refuses a page where it crosses a
target or the style code, as VxScan does, rather than risk a misread; so it does when
masking would leave a box with too little of its interior.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

BANDS = 12
DARK_RATIO = 0.93
"""A column is streaked when its third-brightest band is this much darker than its
neighbours; noise and JPEG keep unstreaked columns above 0.97 (docs/reader.md)."""
LIGHT_RATIO = 1.12
"""A column is lightly streaked when its third-darkest band is this much lighter."""
MIN_GAIN = 0.15
"""Below this the streak left too little signal to restore (noise would be amplified
more than sevenfold)."""
MAX_WIDTH_MM = 1.2
CONTENT_WIDTH_MM = 3.0
"""A dark run this wide is printed or marked content lined up down the page (a column
of marked boxes), not a sensor streak; streaks measure a few tenths of a millimetre."""
FRINGE_MM = 0.25
"""Columns either side of a streak that JPEG smeared it into: corrected with their own
measured gain (never brightened past 1), though too faint to count as streak."""
MAX_STREAKS = 2
_GAIN_ROW_STEP = 4
"""Every fourth page row is enough for a median paper level per column."""
_GAP_MM = 1.3
"""Neighbour windows start this far either side of a column, beyond any streak it may
belong to, and extend :data:`_WINDOW_MM`."""
_WINDOW_MM = 1.5


@dataclass(frozen=True, slots=True)
class Streak:
    """Columns ``x0 .. x1 - 1`` of the image and their measured gains; ``light`` streaks
    whiten instead of darken.  ``maskable``: narrow enough to leave out of the scores;
    ``correctable``: also dark and faint enough to divide out of the image."""

    x0: int
    x1: int
    gains: tuple[float, ...]
    light: bool
    maskable: bool
    correctable: bool

    @property
    def strength(self) -> float:
        """How far the worst column is from its neighbours (0: no streak, 1: black/white)."""
        worst = max(self.gains) if self.light else min(self.gains)
        return abs(1.0 - worst)


def find(image: np.ndarray, rows: tuple[int, int], dpi: float) -> tuple[Streak, ...]:
    """Streaks in ``image`` (uint8 grey at ``dpi``), left to right.

    ``rows`` is the span of image rows that lies on the page at every column the page
    covers: the scanner background above and below the page would otherwise put the
    page's top and bottom edges into the column profiles.
    """
    top, bottom = max(0, rows[0]), min(image.shape[0], rows[1])
    w = image.shape[1]
    px_per_mm = dpi / 25.4
    gap, window = max(2, round(_GAP_MM * px_per_mm)), max(3, round(_WINDOW_MM * px_per_mm))
    if bottom - top < BANDS * 4 or w < 2 * (gap + window) + 1:
        return ()
    edges = np.linspace(top, bottom, BANDS + 1).astype(int)
    profiles = np.vstack(
        [
            cv2.reduce(image[a:b], 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F)
            for a, b in itertools.pairwise(edges)
        ]
    )
    left, right = _sides(profiles, gap, window)
    darker = np.sort(profiles / np.minimum(left, right), axis=0)
    lighter = np.sort(profiles / np.maximum(left, right), axis=0)
    page = image[top:bottom:_GAIN_ROW_STEP]
    streaks = [
        *_runs(darker[-3] < DARK_RATIO, False, page, gap, window, px_per_mm),
        *_runs(lighter[2] > LIGHT_RATIO, True, page, gap, window, px_per_mm),
    ]
    streaks.sort(key=lambda s: s.x0)
    if len(streaks) > MAX_STREAKS:
        streaks = [_unmaskable(s) for s in streaks]
    return tuple(streaks)


def corrected(image: np.ndarray, streaks: tuple[Streak, ...]) -> np.ndarray:
    """A copy of ``image`` with every correctable streak divided out; the input is kept."""
    fixable = [s for s in streaks if s.correctable]
    if not fixable:
        return image
    out = image.copy()
    for s in fixable:
        cols = out[:, s.x0 : s.x1].astype(np.float32) / np.array(s.gains, np.float32)
        out[:, s.x0 : s.x1] = np.clip(np.round(cols), 0, 255).astype(np.uint8)
    return out


def _sides(profiles: np.ndarray, gap: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per band and column, the mean level of the windows left and right of it.

    A dark streak is darker than *both* sides (so a step, such as the page edge against
    the scanner background, is not one) and a light streak lighter than both.
    """
    pad = gap + window
    padded = np.pad(profiles, ((0, 0), (pad, pad)), mode="edge")
    sums = np.concatenate([np.zeros((profiles.shape[0], 1)), np.cumsum(padded, axis=1)], axis=1)
    means = (sums[:, window:] - sums[:, :-window]) / window
    w = profiles.shape[1]
    left = means[:, pad - gap - window : pad - gap - window + w]
    right = means[:, pad + gap + 1 : pad + gap + 1 + w]
    return np.maximum(left, 1.0), np.maximum(right, 1.0)


def _runs(
    mask: np.ndarray, light: bool, page: np.ndarray, gap: int, window: int, px_per_mm: float
) -> list[Streak]:
    out = []
    padded = np.concatenate([[False], mask, [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    fringe = max(1, round(FRINGE_MM * px_per_mm))
    for start, stop in zip(changes[::2], changes[1::2], strict=True):
        if stop - start > CONTENT_WIDTH_MM * px_per_mm:
            continue
        x0, x1 = max(0, start - fringe), min(page.shape[1], stop + fringe)
        gains = _gains(page, x0, x1, gap, window)
        gains = np.maximum(gains, 1.0) if light else np.minimum(gains, 1.0)
        core = gains[start - x0 : stop - x0]
        width_ok = (stop - start) <= MAX_WIDTH_MM * px_per_mm
        correctable = not light and width_ok and float(core.min()) >= MIN_GAIN
        out.append(
            Streak(int(x0), int(x1), tuple(float(v) for v in gains), light, width_ok, correctable)
        )
    return out


def _gains(page: np.ndarray, x0: int, x1: int, gap: int, window: int) -> np.ndarray:
    """Per column of ``x0 .. x1 - 1``, its paper level over that of the columns beside it.

    Paper is the column's median over the page rows (text covers far less than half of
    any column), so the gain is what the streak did to paper, whatever the text and
    whatever the lamp's offset: dividing by it restores blank paper exactly.
    """
    w = page.shape[1]
    left = page[:, max(0, x0 - gap - window) : max(0, x0 - gap)]
    right = page[:, min(w, x1 + gap) : min(w, x1 + gap + window)]
    sides = [np.median(side) for side in (left, right) if side.size]
    if not sides:
        return np.ones(x1 - x0)
    reference = max(sides) if len(sides) == 2 and min(sides) < 0.5 * max(sides) else min(sides)
    return np.median(page[:, x0:x1], axis=0) / max(float(reference), 1.0)


def _unmaskable(streak: Streak) -> Streak:
    return Streak(streak.x0, streak.x1, streak.gains, streak.light, False, False)
