"""Reading the style-code strip: 65 cells sampled through the homography, then decoded.

The strip's own guard cells give the black and white levels of this scan, so the
threshold follows the lamp, the paper and the toner.  A cell too close to that threshold
is not guessed: the strip is unreadable and the page goes back, since the CRC should be
the last line of defence, not the first.  The measured black and paper levels are also
what the target scores are normalised with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ballot_reader.sampling import sample_pixels, sample_xy, to_pixels
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
_SEARCH_GRID = (3, 3)
"""Sample points per cell in the strip search: the corners and middles of the area
:data:`_GRID` reads, so the placement found is one where every read sample is inside
its cell (a centre line alone leaves ±1.25 mm of slack across the cell)."""
_SEARCH_STEP_MM = 0.25
SPREAD_SEARCH_MM = 4.0
"""Largest error of a three-marker fit at the missing corner that the strip search
absorbs: the envelope's perspective skew measured up to 3.5 mm there (docs/reader.md)."""
_SPREAD_STEP_MM = 0.5
_PLATEAU_SHARE = 0.2
_PLATEAU_MM = 1.0


class StyleCodeUnreadable(Exception):
    """Internal: the strip cannot be read; ``str`` says why."""


@dataclass(frozen=True, slots=True)
class StripReading:
    """The decoded code and the scan's black and white levels measured on the strip."""

    code: StyleCode
    black: float
    white: float
    values: tuple[float, ...]
    corner_mm: tuple[float, float] = (0.0, 0.0)
    """With three markers and a ``spread``: the affine fit's error at the missing corner
    that the strip search found (page mm), for the box search to start from."""


def read(
    image: np.ndarray,
    homography: np.ndarray,
    cells: Sequence[Rect],
    search_mm: float = 0.0,
    skip: Sequence[tuple[int, int]] = (),
    spread: np.ndarray | None = None,
) -> StripReading:
    """Sample and decode the strip; raises :class:`StyleCodeUnreadable` with the reason.

    With ``search_mm`` (registration from three fiducials), the strip is first found
    near where the homography puts it: the placement whose cells are most clearly black
    or white, judged on a 3 × 3 grid in each cell.  The placement is one shift of the whole
    strip within ``search_mm``, plus, with ``spread`` (per cell, the weight of the
    missing fiducial's corner: 0 at the markers found, 1 at the missing one), a second
    shift scaled by that weight, within :data:`SPREAD_SEARCH_MM`: an affine fit from
    three markers misses the sheet's perspective by an error that grows towards the
    missing corner, which is where the strip lies when a bottom fiducial is missing.
    Sample points in the ``skip`` column ranges (sensor streaks) are left out of each
    cell's mean.
    """
    shift = np.zeros((len(cells), 2))
    corner = np.zeros(2)
    if search_mm:
        shift, corner = _strip_shifts(image, homography, tuple(cells), search_mm, spread)
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
    return StripReading(
        code, black, white, tuple(float(v) for v in values), (float(corner[0]), float(corner[1]))
    )


def _cell_values(
    image: np.ndarray,
    homography: np.ndarray,
    cells: Sequence[Rect],
    shift: np.ndarray | None = None,
    skip: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    points = _points(tuple(cells), _GRID)
    if shift is not None and shift.any():
        points = points + shift[:, None, :]
    px = to_pixels(homography, points)
    values = sample_pixels(image, px)
    if np.isnan(values).any():
        return np.full(len(cells), np.nan)
    if not skip:
        return values.sum(axis=1).astype(np.float64) / values.shape[1]
    values[~clear_of(px[..., 0], skip, pad=0.5)] = np.nan
    counts = np.sum(~np.isnan(values), axis=1)
    sums = np.nansum(values, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _strip_shifts(
    image: np.ndarray,
    homography: np.ndarray,
    cells: tuple[Rect, ...],
    search: float,
    spread: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the (dx, dy) in mm that puts the sampling on the printed cell, and the
    error found at the missing corner.

    With ``spread``, first the error at the missing corner (each cell shifted by it times
    its weight), then one shift of the whole strip on top; otherwise the shift alone.
    A cell's sample points move by its shift through the homography's derivative at
    the cell centre: over a few millimetres the homography is linear to a thousandth of
    a pixel, and hundreds of candidate placements cost one remap.
    """
    strip = _Strip(image, homography, cells)
    offset = np.zeros((len(cells), 2))
    corner = np.zeros(2)
    if spread is not None and np.any(spread):
        weights = np.asarray(spread, np.float64)
        corner = strip.best(offset, weights, _grid(SPREAD_SEARCH_MM, _SPREAD_STEP_MM))
        offset = corner * weights[:, None]
    shift = strip.best(offset, np.ones(len(cells)), _grid(search, _SEARCH_STEP_MM))
    return offset + shift, corner


def _grid(search: float, step: float) -> np.ndarray:
    steps = np.arange(-search, search + 1e-9, step)
    return np.array([(dx, dy) for dy in steps for dx in steps])


class _Strip:
    """The strip's search sample points in pixels, and how they move per mm at each cell."""

    def __init__(self, image: np.ndarray, homography: np.ndarray, cells: tuple[Rect, ...]):
        self.image = image
        px = to_pixels(homography, _points(cells, _SEARCH_GRID))
        # (points per cell, cells): broadcasting a shift per cell runs along the cells
        self.xs = np.ascontiguousarray(px[..., 0].T)
        self.ys = np.ascontiguousarray(px[..., 1].T)
        centres = np.array([(c.cx, c.cy) for c in cells])
        h = 0.5
        steps = np.array([(h, 0.0), (-h, 0.0), (0.0, h), (0.0, -h)])
        moved = to_pixels(homography, centres[:, None, :] + steps[None]).astype(np.float64)
        # pixels per mm at each cell: d(x, y)/d(mm x) and d(x, y)/d(mm y)
        self.along_x = (moved[:, 0] - moved[:, 1]) / (2 * h)
        self.along_y = (moved[:, 2] - moved[:, 3]) / (2 * h)

    def best(self, offset: np.ndarray, weights: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Of ``shifts`` (each cell moved by ``offset`` + shift × its weight), the one whose
        cells are most clearly two-tone with the guard cells in their known colours
        (which rules out a whole-cell slip of the strip): the largest least distance, in
        grey levels, of a cell from the middle of the strip's quartiles."""
        mx = offset[None, :, 0] + shifts[:, 0, None] * weights[None]
        my = offset[None, :, 1] + shifts[:, 1, None] * weights[None]
        dx = (mx * self.along_x[:, 0] + my * self.along_y[:, 0]).astype(np.float32)
        dy = (mx * self.along_x[:, 1] + my * self.along_y[:, 1]).astype(np.float32)
        values = sample_xy(self.image, self.xs[None] + dx[:, None], self.ys[None] + dy[:, None])
        values = values.mean(axis=1)
        low, high = _quartiles(np.nan_to_num(values, nan=0.0))
        # Grey levels, not shares of the spread: a placement half off the cells dilutes
        # black and white alike and keeps their ratios, but not their distance.
        signed = values - ((low + high) / 2)[:, None]
        guards = np.array([*START_GUARD, *STOP_GUARD])
        ends = np.concatenate(
            [signed[:, : len(START_GUARD)], signed[:, -len(STOP_GUARD) :]], axis=1
        )
        clear = np.abs(signed).min(axis=1)
        margin = np.minimum(clear, np.where(guards == 1, -ends, ends).min(axis=1))
        margin = np.where(np.isnan(margin), -np.inf, margin)  # partly off the image
        return _middle(shifts, margin)


def _middle(shifts: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """The middle of the best placements: the mean of the shifts within
    :data:`_PLATEAU_MM` of the best one whose margin is within :data:`_PLATEAU_SHARE` of
    it.  Every placement that keeps the samples on their cells scores about the same, so
    the best alone lands anywhere on that plateau, often at its edge."""
    best = int(np.argmax(margin))
    top = margin[best]
    if not np.isfinite(top) or top <= 0:
        return shifts[best]
    near = (margin >= (1 - _PLATEAU_SHARE) * top) & np.all(
        np.abs(shifts - shifts[best]) <= _PLATEAU_MM + 1e-9, axis=1
    )
    return shifts[near].mean(axis=0)


def _quartiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """25th and 75th percentiles of each row (numpy's default linear interpolation)."""
    n = values.shape[1]
    out = []
    for q in (0.25, 0.75):
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        part = np.partition(values, (lo, hi), axis=1)
        out.append(part[:, lo] + (part[:, hi] - part[:, lo]) * (pos - lo))
    return out[0], out[1]


@lru_cache(maxsize=8)
def _points(cells: tuple[Rect, ...], grid: tuple[int, int]) -> np.ndarray:
    """Sample points of every cell in its middle :data:`_SPAN`, once per layout."""
    across, along = grid
    u = ((np.arange(across) + 0.5) / across - 0.5) * _SPAN
    v = ((np.arange(along) + 0.5) / along - 0.5) * _SPAN
    return np.array([[(c.cx + du * c.w, c.cy + dv * c.h) for dv in v for du in u] for c in cells])
