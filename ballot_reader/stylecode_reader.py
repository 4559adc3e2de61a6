"""Reading the style-code strip: 65 cells sampled through the homography, then decoded.

The strip's own guard cells give the black and white levels of this scan, so the
threshold follows the lamp, the paper and the toner.  A cell too close to that threshold
is not guessed: the strip is unreadable and the page goes back, since the CRC should be
the last line of defence, not the first.  The measured black and paper levels are also
what the target scores are normalised with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ballot_reader.sampling import sample, sample_pixels, to_pixels
from ballot_reader.targets import clear_of
from election.layout import Rect
from election.stylecode import START_GUARD, STOP_GUARD, StyleCode, StyleCodeError, from_cells

MIN_CONTRAST = 40.0
"""Grey levels between the guards' black and white cells; less is not print on paper."""
MIN_MARGIN = 0.2
"""Every cell must lie at least this share of the contrast away from the threshold."""
_GRID = (5, 5)
"""Sample points per cell (across, along) in the middle 70 % of the cell: five across, so
a masked streak (up to 1.2 mm with its fringe) leaves some of every cell."""
_SPAN = 0.7
_SEARCH_STEP_MM = 0.25


class StyleCodeUnreadable(Exception):
    """Internal: the strip cannot be read; ``str`` says why."""


@dataclass(frozen=True, slots=True)
class StripReading:
    """The decoded code and the scan's black and white levels measured on the strip."""

    code: StyleCode
    black: float
    white: float
    values: tuple[float, ...]


def read(
    image: np.ndarray,
    homography: np.ndarray,
    cells: Sequence[Rect],
    search_mm: float = 0.0,
    skip: Sequence[tuple[int, int]] = (),
) -> StripReading:
    """Sample and decode the strip; raises :class:`StyleCodeUnreadable` with the reason.

    With ``search_mm`` (registration from three fiducials), the strip is first found
    within that distance of where the homography puts it: the shift whose cells are
    most clearly black or white, judged on each cell's centre line.  (One shift for the
    whole strip: where the affine fit's error changes by more than half a cell along
    the strip, the page is refused as unreadable; docs/reader.md.)  Sample points in
    the ``skip`` column ranges (sensor streaks) are left out of each cell's mean.
    """
    shift = np.zeros((len(cells), 2))
    if search_mm:
        shift = _segment_shifts(image, homography, tuple(cells), search_mm)
    values = _cell_values(image, homography, cells, shift, skip)
    if np.isnan(values).any():
        raise StyleCodeUnreadable(
            "the style-code strip lies outside the image, or a streak hides a whole cell"
        )
    guards = len(START_GUARD)
    reference = np.array([*START_GUARD, *STOP_GUARD])
    ends = np.concatenate([values[:guards], values[-len(STOP_GUARD) :]])
    black = float(np.mean(ends[reference == 1]))
    white = float(np.mean(ends[reference == 0]))
    contrast = white - black
    if contrast < MIN_CONTRAST:
        raise StyleCodeUnreadable(
            f"no style-code strip where expected (guard contrast {contrast:.0f} grey levels)"
        )
    threshold = (black + white) / 2
    margin = np.abs(values - threshold) / contrast
    weak = np.flatnonzero(margin < MIN_MARGIN)
    if weak.size:
        raise StyleCodeUnreadable(
            f"style-code cells {weak.tolist()[:8]} are neither black nor white "
            f"(smudged, torn or streaked strip)"
        )
    bits = (values < threshold).astype(int).tolist()
    try:
        code = from_cells(bits)
    except StyleCodeError as exc:
        raise StyleCodeUnreadable(str(exc)) from None
    return StripReading(code, black, white, tuple(float(v) for v in values))


def _cell_values(
    image: np.ndarray,
    homography: np.ndarray,
    cells: Sequence[Rect],
    shift: np.ndarray | None = None,
    skip: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    points = _points(tuple(cells), _GRID)
    if shift is not None:
        points = points + shift[:, None, :]
    px = to_pixels(homography, points)
    values = sample_pixels(image, px)
    if np.isnan(values).any():
        return np.full(len(cells), np.nan)
    values[~clear_of(px[..., 0], skip, pad=0.5)] = np.nan
    counts = np.sum(~np.isnan(values), axis=1)
    sums = np.nansum(values, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _segment_shifts(
    image: np.ndarray, homography: np.ndarray, cells: tuple[Rect, ...], search: float
) -> np.ndarray:
    """Per cell, the (dx, dy) in mm that puts the sampling on the printed cell: one shift
    for the whole strip, the one whose cells are most clearly two-tone with the guard
    cells in their known colours (which rules out a whole-cell slip of the strip)."""
    centre = _points(cells, (1, 3))
    steps = np.arange(-search, search + 1e-9, _SEARCH_STEP_MM)
    shifts = np.array([(dx, dy) for dy in steps for dx in steps])
    values = _shifted_values(image, homography, centre, shifts)
    low, high = np.percentile(values, [25, 75], axis=1)
    signed = (values - ((low + high) / 2)[:, None]) / np.maximum(high - low, 1.0)[:, None]
    guards = np.array([*START_GUARD, *STOP_GUARD])
    ends = np.concatenate([signed[:, : len(START_GUARD)], signed[:, -len(STOP_GUARD) :]], axis=1)
    margin = np.minimum(np.abs(signed).min(axis=1), np.where(guards == 1, -ends, ends).min(axis=1))
    return np.tile(shifts[int(np.argmax(margin))], (len(cells), 1))


def _shifted_values(
    image: np.ndarray, homography: np.ndarray, points: np.ndarray, shifts: np.ndarray
) -> np.ndarray:
    values = sample(image, homography, points[None] + shifts[:, None, None, :]).mean(axis=2)
    return np.nan_to_num(values, nan=0.0)


@lru_cache(maxsize=8)
def _points(cells: tuple[Rect, ...], grid: tuple[int, int]) -> np.ndarray:
    """Sample points of every cell in its middle :data:`_SPAN`, once per layout."""
    across, along = grid
    u = ((np.arange(across) + 0.5) / across - 0.5) * _SPAN
    v = ((np.arange(along) + 0.5) / along - 0.5) * _SPAN
    return np.array([[(c.cx + du * c.w, c.cy + dv * c.h) for dv in v for du in u] for c in cells])
