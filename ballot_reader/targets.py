"""Target scores: how much of each box is inked, judged against the paper around it, and
whether the ink has the form of a mark.

Every target is sampled on the same grid of page points (so all targets are scored in
one vectorised pass): the box interior, kept clear of the printed outline by
:data:`INSET_MM`, and a ring of blank paper between the outline and the edge of the
target's clear area.  The ring's bright level is the local paper, the strip's black
cells the ink; each interior point's darkness is its place between the two, so a dim
lamp, grey paper or a fold's shadow shift both ends together.  A point is inked when its
darkness passes :data:`~ballot_reader.thresholds.INK_LEVEL`, and the score is the inked
share of the interior: the same measure for pencil and ink, for a fill and a tick.

Targets whose ink is strong enough to count are then measured for *form*
(:func:`ballot_reader.thresholds.forms`): is it a filled area (most of the box, or a band
from one edge) or a line mark (thin strokes across the box), or neither (a dab, a sliver)?
Only ink of a countable form has a :attr:`TargetScores.strength` (its darkness); that, the
score and the inked share of the ring (a circle drawn around the box) go to
:func:`ballot_reader.thresholds.states`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ballot_reader import thresholds
from ballot_reader.sampling import to_pixels
from ballot_reader.thresholds import INK_LEVEL, MARKED, NO_FORM
from election.layout import BOX_HEIGHT, BOX_WIDTH, CLEAR_X, CLEAR_Y, Target

INSET_MM = 0.75
"""Interior starts this far inside the box edge: the 0.15 mm half outline, up to 0.4 mm of
blur spread at the envelope's blur, and 0.2 mm of registration error (docs/reader.md)."""
RING_GAP_MM = 0.6
"""The paper ring starts this far outside the box edge, clear of the outline's blur."""
RING_MARGIN_MM = 0.1
"""…and ends this far inside the target's clear area."""
STEP_RANGE_MM = (0.08, 0.17)
_SKIP_PAD_PX = 2.0
"""Pixels either side of a skipped column range that the 3×3 smoothing can reach."""
_EDGE_ROW_MM = 0.5
"""Spacing of the sample rows averaged along an edge in the box search."""
_OUTSIDE_MM = 0.6
"""Where the paper outside a box edge is compared with the edge itself."""
"""Sampling pitch: the scan's own pixel pitch, within these bounds."""


@dataclass(frozen=True, slots=True)
class TargetScores:
    """Per target, in layout order: inked share of the interior, strength of the mark,
    inked share of the ring, local paper level, and the target centre in pixels; then
    the ink's tone and its form measures.

    ``strength`` is the darkness of a countable mark: its ``peak`` when the ink has the
    form of one (:func:`ballot_reader.thresholds.forms`), 0 when it has none.  A dab or a
    band of a fifth of the box is not a weak mark but no mark form at all, so it stays
    marginal however dark.  ``tone`` is the mean darkness of the inked points whatever
    the form.

    ``noise`` is the page's paper noise: the median over targets of the ring's spread
    (90th percentile minus median, over 1.2816, a normal σ), over the local contrast;
    the ring's upper half is used, so a circle or a mark's overflow does not count.
    ``masked`` is the share of each interior left out under sensor streaks.

    The form measures are taken on targets with at least
    :data:`~ballot_reader.thresholds.MARKED` of their interior inked (0 elsewhere):
    ``peak``, the darkness of the mark's darkest samples (99th percentile: what separates
    a written mark from an erasure); then, on the mark's outline (the samples at least
    :data:`~ballot_reader.thresholds.HALF` as dark as its peak), ``body``, the share of
    the interior inside it; ``cover``, the share of the box it covers, with the rim under
    the outline extrapolated from the sides of the interior it reaches; ``side``, the
    inked share of its fullest side of the interior; ``compact`` and ``span`` (see
    :data:`~ballot_reader.thresholds.SOLID` and :data:`~ballot_reader.thresholds.SPAN`);
    ``form``, the verdict.

    ``fold`` is the darkness of a line crossing the target's ring on both sides at the
    same rows (a fold's shadow: see :func:`fold_darkness`).
    """

    score: np.ndarray
    strength: np.ndarray
    ring: np.ndarray
    paper: np.ndarray
    noise: float
    masked: np.ndarray
    centers_px: np.ndarray
    tone: np.ndarray
    form: np.ndarray
    peak: np.ndarray
    body: np.ndarray
    cover: np.ndarray
    side: np.ndarray
    compact: np.ndarray
    span: np.ndarray
    fold: np.ndarray


def measure(
    image: np.ndarray,
    homography: np.ndarray,
    targets: Sequence[Target],
    black: float,
    dpi: float,
    search_mm: float,
    skip: Sequence[tuple[int, int]] = (),
) -> TargetScores:
    """Score every target; ``black`` is the scan's ink level (from the style-code strip).

    Each box is first found within ``search_mm`` of where the homography puts it (see
    :func:`locate`).  ``skip`` lists image column ranges (corrected sensor streaks) whose
    samples are left out of the scores: a corrected streak is paper again, but JPEG
    ringing along its edges is not, and a box loses at most a tenth of its width.
    Raises ValueError when a target lies outside the image.
    """
    step = pitch(dpi)
    inner, _, points = _grids(round(step, 3))
    count_in = len(inner.points)
    centers = np.array([(t.box.cx, t.box.cy) for t in targets])
    centers = centers + locate(image, homography, centers, step, search_mm)
    xs, ys = _pixel_maps(homography, centers, points)
    values = _remap(image, xs, ys)
    if values is None:
        raise ValueError("part of the target area lies outside the image")
    interior = _smooth(values[:, :count_in].reshape(len(targets), *inner.shape))
    ring_values = values[:, count_in:]
    median, paper, high = _percentiles(ring_values, (50, 75, 90))
    paper = paper.astype(np.float32)
    contrast = np.maximum(paper - np.float32(black), np.float32(1.0))
    noise = float(np.median((high - median) / 1.2816 / contrast))
    darkness = (paper[:, None, None] - interior) / contrast[:, None, None]
    inked = darkness > INK_LEVEL
    ring_inked = (paper[:, None] - ring_values) / contrast[:, None] > INK_LEVEL
    if skip:
        valid = clear_of(xs[:, :count_in].reshape(len(targets), *inner.shape), skip)
        valid = valid[:, 1:-1, 1:-1]
        ring_valid = clear_of(xs[:, count_in:], skip)
        inked &= valid
        ring_inked &= ring_valid
        samples = np.maximum(valid.sum(axis=(1, 2)), 1)
        ring_samples = np.maximum(ring_valid.sum(axis=1), 1)
        masked = 1.0 - valid.mean(axis=(1, 2))
    else:
        valid = None
        samples = inked[0].size
        ring_samples = ring_inked.shape[1]
        masked = np.zeros(len(targets))
    count = inked.sum(axis=(1, 2))
    score = count / samples
    tone = np.where(count > 0, (darkness * inked).sum(axis=(1, 2)) / np.maximum(count, 1), 0.0)
    ring_share = ring_inked.sum(axis=1) / ring_samples
    shape = _form_measures(darkness, valid, score >= MARKED)
    strength = np.where(shape["form"] != NO_FORM, shape["peak"], 0.0)
    centers_px = to_pixels(homography, centers)
    ring_known = ring_valid if skip else None
    fold = fold_darkness(ring_values, paper, contrast, _ring_sides(round(step, 3)), ring_known)
    return TargetScores(
        score, strength, ring_share, paper, noise, masked, centers_px, tone, **shape, fold=fold
    )


def fold_darkness(
    ring_values: np.ndarray,
    paper: np.ndarray,
    contrast: np.ndarray,
    sides: tuple[np.ndarray, np.ndarray],
    known: np.ndarray | None = None,
) -> np.ndarray:
    """Per target, the darkness of the darkest row that is dark on *both* sides of the ring.

    A fold crosses the whole sheet, so where its shadow crosses a box it crosses the paper
    left and right of it at the same rows (within 0.2 mm at its ±1.5° tilt); a voter's
    mark, even one overflowing the outline, reaches one side or neither.  Darkness is the
    share of the way from the ring's ``paper`` level to black (``contrast`` below it), of
    the mean of each row's samples on each side; ``sides`` holds the ring indices of the
    left and right strips, a row of the page grid a row.  ``known`` (ring samples clear
    of masked streaks): a row side with none left is skipped, the other side counts alone.
    """
    if known is None:
        left, right = sides
        lo = ring_values[:, left].mean(axis=2)
        hi = ring_values[:, right].mean(axis=2)
        both = paper[:, None] - np.maximum(lo, hi)
    else:
        means = []
        for side in sides:
            weight = known[:, side]
            count = weight.sum(axis=2)
            total = np.where(weight, ring_values[:, side], 0.0).sum(axis=2)
            means.append(np.where(count > 0, total / np.maximum(count, 1), -np.inf))
        both = paper[:, None] - np.maximum(*means)
        both = np.where(np.isfinite(both), both, 0.0)
    return np.maximum(both.max(axis=1) / contrast, 0.0).astype(np.float32)


def _form_measures(
    darkness: np.ndarray, valid: np.ndarray | None, candidates: np.ndarray
) -> dict[str, np.ndarray]:
    """The form measures of :class:`TargetScores` for the ``candidates`` (0 elsewhere).

    Only targets with enough ink to count are measured (on a ballot, the marks and the
    odd erasure: a few of 76), so the measures cost nothing on blank boxes.
    """
    n = len(darkness)
    names = ("peak", "body", "cover", "side", "compact", "span")
    out = {k: np.zeros(n, np.float32) for k in names}
    out["form"] = np.full(n, NO_FORM, np.int8)
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return out
    dark = darkness[idx]
    known = None
    if valid is not None and not valid[idx].all():
        dark, known = _fill_masked(dark, valid[idx])
    k, ny, nx = dark.shape
    if known is None:
        peak = np.percentile(dark.reshape(k, -1), 99, axis=1)
    else:
        peak = np.nanpercentile(np.where(known, dark, np.nan).reshape(k, -1), 99, axis=1)
    # Two outlines: the area's, at half the darkness of the upper quartile of the inked
    # points (robust to pencil grain, which an over-exposed, low-quality scan turns into
    # blotches), and the strokes', at half their darkest (which keeps blurred strokes
    # thin).  A line mark must look like strokes in both.
    inked = dark > INK_LEVEL if known is None else (dark > INK_LEVEL) & known
    typical = np.nanpercentile(np.where(inked, dark, np.nan).reshape(k, -1), 75, axis=1)
    area = dark > np.maximum(INK_LEVEL, thresholds.HALF * typical)[:, None, None]
    mark = dark > np.maximum(INK_LEVEL, thresholds.HALF * peak)[:, None, None]
    if known is not None:
        area &= known
        mark &= known
    if known is None:
        known_cols, known_rows, samples = nx, ny, ny * nx
        sides = np.stack(
            [area[:, :, 0].mean(1), area[:, :, -1].mean(1), area[:, 0].mean(1), area[:, -1].mean(1)]
        )
    else:
        known_cols = np.maximum(known.any(axis=1).sum(axis=1), 1)
        known_rows = np.maximum(known.any(axis=2).sum(axis=1), 1)
        samples = np.maximum(known.sum(axis=(1, 2)), 1)
        sides = _known_sides(area, known)
    body = area.sum(axis=(1, 2)) / samples
    span = np.minimum(
        mark.any(axis=1).sum(axis=1) / known_cols, mark.any(axis=2).sum(axis=1) / known_rows
    )
    compact = np.maximum(
        _compactness(mark, known_cols, known_rows, samples),
        _compactness(area, known_cols, known_rows, samples),
    )
    inner_w, inner_h = BOX_WIDTH - 2 * INSET_MM, BOX_HEIGHT - 2 * INSET_MM
    rim = INSET_MM * ((sides[0] + sides[1]) * inner_h + (sides[2] + sides[3]) * inner_w)
    cover = (body * inner_w * inner_h + rim) / (BOX_WIDTH * BOX_HEIGHT - 4 * INSET_MM**2)
    side = sides.max(axis=0)
    measured = {
        "peak": peak,
        "body": body,
        "cover": cover,
        "side": side,
        "compact": compact,
        "span": span,
    }
    for key, value in measured.items():
        out[key][idx] = value
    out["form"][idx] = thresholds.forms(cover, side, compact, span)
    return out


def _extent(
    cols: np.ndarray, rows: np.ndarray, known_cols: np.ndarray | int, known_rows: np.ndarray | int
) -> np.ndarray:
    """Per mark: the share of the interior's width times the share of its height that hold
    at least :data:`~ballot_reader.thresholds.EXTENT` of the ink of the fullest column
    (row): the box the mark fills, without a ragged fringe."""
    floor_x = np.maximum(1, thresholds.EXTENT * cols.max(axis=1))[:, None]
    floor_y = np.maximum(1, thresholds.EXTENT * rows.max(axis=1))[:, None]
    return (cols >= floor_x).sum(axis=1) / known_cols * (rows >= floor_y).sum(axis=1) / known_rows


def _compactness(
    mark: np.ndarray,
    known_cols: np.ndarray | int,
    known_rows: np.ndarray | int,
    samples: np.ndarray | int,
) -> np.ndarray:
    """Per mark outline: the inked share of its extent box times the inked share of its
    middle row and column (see :data:`~ballot_reader.thresholds.SOLID`)."""
    cols = mark.sum(axis=1)
    rows = mark.sum(axis=2)
    total = cols.sum(axis=1)
    extent = _extent(cols, rows, known_cols, known_rows)
    return total / samples / np.maximum(extent, 1e-9) * _middle(mark, rows, cols, total)


def _middle(mark: np.ndarray, rows: np.ndarray, cols: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Per mark: the inked share of its middle row (through its centroid, between its
    first and last inked column) and of its middle column, averaged.  About 1 for a dab
    or a band, under ½ for a cross or a check, whose middle lines cross only the strokes."""
    k, ny, nx = mark.shape
    weight = np.maximum(total, 1)
    cy = np.rint((rows * np.arange(ny)).sum(axis=1) / weight).astype(int)
    cx = np.rint((cols * np.arange(nx)).sum(axis=1) / weight).astype(int)
    at = np.arange(k)
    row, col = mark[at, cy, :], mark[at, :, cx]
    width = _extent_length(cols > 0)
    height = _extent_length(rows > 0)
    return (row.sum(axis=1) / width + col.sum(axis=1) / height) / 2


def _extent_length(inked: np.ndarray) -> np.ndarray:
    """Per row of ``inked`` (k, n): samples from its first True to its last (at least 1)."""
    n = inked.shape[1]
    first = inked.argmax(axis=1)
    last = n - 1 - inked[:, ::-1].argmax(axis=1)
    return np.maximum(last - first + 1, 1)


def _fill_masked(dark: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Darkness under masked samples (a streak's columns) interpolated along each row
    between the nearest valid samples, so a streak does not cut a mark in two; and which
    samples are known: valid or so interpolated.  Masked samples with no valid one on a
    side (a streak along the edge of the interior) stay unknown: nothing says whether
    the ink goes on under it, so the form is measured on the rest."""
    width = dark.shape[2]
    at = np.broadcast_to(np.arange(width), dark.shape)
    left = np.maximum.accumulate(np.where(valid, at, -1), axis=2)
    right = np.minimum.accumulate(np.where(valid, at, width)[:, :, ::-1], axis=2)[:, :, ::-1]
    lv = np.take_along_axis(dark, np.clip(left, 0, width - 1), 2)
    rv = np.take_along_axis(dark, np.clip(right, 0, width - 1), 2)
    known = (left >= 0) & (right < width)
    w = (at - left) / np.maximum(right - left, 1)
    filled = np.where(valid, dark, np.where(known, lv * (1 - w) + rv * w, 0.0))
    return filled.astype(dark.dtype), known


def _known_sides(mark: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Inked share of the four sides of the known part of each interior (4, k): left
    and right, the first and last known sample of each row; top and bottom rows."""
    width = mark.shape[2]
    first = known.argmax(axis=2)[..., None]
    last = (width - 1 - known[:, :, ::-1].argmax(axis=2))[..., None]
    left = np.take_along_axis(mark, first, 2)[..., 0].mean(axis=1)
    right = np.take_along_axis(mark, last, 2)[..., 0].mean(axis=1)
    top = mark[:, 0].sum(axis=1) / np.maximum(known[:, 0].sum(axis=1), 1)
    bottom = mark[:, -1].sum(axis=1) / np.maximum(known[:, -1].sum(axis=1), 1)
    return np.stack([left, right, top, bottom])


def pitch(dpi: float) -> float:
    """Sampling pitch in mm for a scan at ``dpi``."""
    return float(np.clip(25.4 / dpi, *STEP_RANGE_MM))


def locate(
    image: np.ndarray, homography: np.ndarray, centers: np.ndarray, step: float, search: float
) -> np.ndarray:
    """Per target, the (dx, dy) in mm that puts the layout box on the printed outline.

    The homography is exact to a few hundredths of a millimetre with four fiducials but
    can be off by a millimetre or two at the far corner with three (an affine fit cannot
    see the sheet's perspective skew), enough to sample the outline as ink.  So, like
    VxScan's template slide, each box is searched for: for every candidate shift, the
    outline's two vertical (horizontal) edges should be dark and the paper just outside
    them light; the shift with the strongest contrast wins, separately in x and in y.
    """
    if search <= 0:
        return np.zeros_like(centers)
    edges = _edge_grids(step, search)
    values = _remap(image, *_pixel_maps(homography, centers, edges.points), partial=True)
    split = edges.split
    dx = _edge_shift(values[:, :split], edges.x, step)
    dy = _edge_shift(values[:, split:], edges.y, step)
    return np.stack([dx, dy], axis=1)


@dataclass(frozen=True)
class _EdgeAxis:
    shifts: np.ndarray
    u: np.ndarray
    rows: int


@dataclass(frozen=True)
class _EdgeGrids:
    points: np.ndarray
    split: int
    x: _EdgeAxis
    y: _EdgeAxis


@lru_cache(maxsize=4)
def _edge_grids(step: float, search: float) -> _EdgeGrids:
    """Sample points (offsets from the box centre, mm) across the two vertical
    edges of a box and then across its two horizontal edges, for every shift.  (The
    pitch comes from the measured dpi, so the cache serves mainly repeated reads.)"""
    shifts = np.arange(-search, search + 1e-9, step)
    out = _OUTSIDE_MM
    u = np.arange(-shifts[-1] - out - step, shifts[-1] + out + step * 1.5, step)
    parts, axes = [], []
    for across, along, axis in ((BOX_WIDTH, BOX_HEIGHT, 0), (BOX_HEIGHT, BOX_WIDTH, 1)):
        v = np.arange(-along / 2 + 0.8, along / 2 - 0.8 + 1e-9, _EDGE_ROW_MM)
        for edge in (-across / 2, across / 2):
            gu, gv = np.meshgrid(edge + u, v)
            pair = (gu, gv) if axis == 0 else (gv, gu)
            parts.append(np.stack([pair[0].ravel(), pair[1].ravel()], axis=1))
        axes.append(_EdgeAxis(shifts, u, len(v)))
    split = len(parts[0]) + len(parts[1])
    return _EdgeGrids(np.vstack(parts), split, axes[0], axes[1])


def _edge_shift(values: np.ndarray, grid: _EdgeAxis, step: float) -> np.ndarray:
    """Best shift along one axis from the samples across a box's two edges on that axis."""
    count = len(values)
    if np.isnan(values).any():
        return np.zeros(count)
    shifts, u = grid.shifts, grid.u
    dark = -values.reshape(count, 2, grid.rows, len(u)).mean(axis=2)
    k = round(_OUTSIDE_MM / step)
    idx = np.round((shifts - u[0]) / step).astype(int)
    low, high = dark[:, 0], dark[:, 1]
    response = (low[:, idx] - low[:, idx - k]) + (high[:, idx] - high[:, idx + k])
    best = np.argmax(response, axis=1)
    # Parabola through the peak and its neighbours: the edge lies between samples.
    inner = np.clip(best, 1, len(shifts) - 2)
    rows = np.arange(count)
    a, b, c = (response[rows, inner + d] for d in (-1, 0, 1))
    curvature = a - 2 * b + c
    offset = np.where(curvature < 0, 0.5 * (a - c) / np.where(curvature < 0, curvature, -1), 0.0)
    offset = np.where(best == inner, np.clip(offset, -0.5, 0.5), 0.0)
    return shifts[best] + offset * step


def _pixel_maps(
    homography: np.ndarray, centers: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Image x and y (float32, targets × offsets) of the page points ``centers`` (n, 2)
    plus ``offsets`` (m, 2), in mm, through the homography.

    The same projection as :func:`~ballot_reader.sampling.to_pixels`, split into a part
    per target and a part per offset (the homography is linear before its division), so
    the n × m work is three additions and two divisions on contiguous rows, and x and y
    come out as the two separate maps ``cv2.remap`` takes.
    """
    h = np.asarray(homography, np.float64)
    base = (np.asarray(centers, np.float64) @ h[:, :2].T + h[:, 2]).T.astype(np.float32)
    off = (np.asarray(offsets, np.float64) @ h[:, :2].T).T.astype(np.float32)
    w = base[2][:, None] + off[2][None]
    xs = base[0][:, None] + off[0][None]
    xs /= w
    ys = base[1][:, None] + off[1][None]
    ys /= w
    return xs, ys


def _remap(
    image: np.ndarray, xs: np.ndarray, ys: np.ndarray, partial: bool = False
) -> np.ndarray | None:
    """Bilinear image values (float32) at pixel maps ``xs``, ``ys``.  A point outside
    the image reads as NaN with ``partial``; without it the answer is None."""
    height, width = image.shape
    values = cv2.remap(image, xs, ys, cv2.INTER_LINEAR).astype(np.float32)
    if xs.min() < -0.5 or ys.min() < -0.5 or xs.max() > width - 0.5 or ys.max() > height - 0.5:
        if not partial:
            return None
        outside = (xs < -0.5) | (ys < -0.5) | (xs > width - 0.5) | (ys > height - 0.5)
        values[outside] = np.nan
    return values


@dataclass(frozen=True)
class _Grid:
    points: np.ndarray
    shape: tuple[int, int]


@lru_cache(maxsize=8)
def _grids(step: float) -> tuple[_Grid, np.ndarray, np.ndarray]:
    """Interior grid (with one extra point each side for smoothing) and ring points,
    as offsets from the box centre in mm, and both stacked (as sampled).  The
    ring, which only gives the paper level and the circle test, is sampled at twice the
    pitch: it has three times the area."""
    hw, hh = BOX_WIDTH / 2 - INSET_MM, BOX_HEIGHT / 2 - INSET_MM
    xs = np.arange(-hw - step, hw + step * 1.5, step)
    ys = np.arange(-hh - step, hh + step * 1.5, step)
    gx, gy = np.meshgrid(xs, ys)
    inner = _Grid(np.stack([gx.ravel(), gy.ravel()], axis=1), gx.shape)
    ox, oy = BOX_WIDTH / 2 + CLEAR_X - RING_MARGIN_MM, BOX_HEIGHT / 2 + CLEAR_Y - RING_MARGIN_MM
    ix, iy = BOX_WIDTH / 2 + RING_GAP_MM, BOX_HEIGHT / 2 + RING_GAP_MM
    ring_step = 2 * step
    rx, ry = np.meshgrid(np.arange(-ox, ox + 1e-9, ring_step), np.arange(-oy, oy + 1e-9, ring_step))
    keep = (np.abs(rx) > ix) | (np.abs(ry) > iy)
    ring = np.stack([rx[keep], ry[keep]], axis=1)
    return inner, ring, np.vstack([inner.points, ring])


@lru_cache(maxsize=8)
def _ring_sides(step: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rows × samples) into the ring points of :func:`_grids` of its left and its
    right strip (beside the box, over the ring's whole height), row by row."""
    _, ring, _ = _grids(step)
    inner_x = BOX_WIDTH / 2 + RING_GAP_MM
    out = []
    for side in (ring[:, 0] < -inner_x, ring[:, 0] > inner_x):
        idx = np.flatnonzero(side)
        ys = np.round(ring[idx, 1], 6)
        rows = [idx[ys == y] for y in np.unique(ys)]
        out.append(np.array(rows))
    return out[0], out[1]


def clear_of(
    xs: np.ndarray, skip: Sequence[tuple[int, int]], pad: float = _SKIP_PAD_PX
) -> np.ndarray:
    """True where a sample's image column, ``pad`` pixels either side, avoids ``skip``."""
    valid = np.ones(xs.shape, bool)
    for x0, x1 in skip:
        valid &= (xs < x0 - pad) | (xs > x1 - 1 + pad)
    return valid


def _percentiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(values, qs, axis=1)`` (linear), from one sort: sorting a few
    hundred ring samples per target is several times faster than numpy's selection."""
    ordered = np.sort(values, axis=1).astype(np.float64)
    pos = np.asarray(qs, np.float64) / 100 * (values.shape[1] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, values.shape[1] - 1)
    frac = pos - lo
    return (ordered[:, lo] * (1 - frac) + ordered[:, hi] * frac).T


def _smooth(grids: np.ndarray) -> np.ndarray:
    """3×3 mean of each target's interior grid, dropping the one-point border.

    Averaging nine samples cuts sensor and JPEG noise threefold, so the ink level can
    sit low enough for faint pencil without blank paper crossing it.  The grids are
    filtered stacked as one image: only their border rows see a neighbour's, and those
    are dropped.
    """
    n, h, w = grids.shape
    flat = np.ascontiguousarray(grids, np.float32).reshape(n * h, w)
    out = cv2.boxFilter(flat, -1, (3, 3), borderType=cv2.BORDER_REPLICATE)
    return out.reshape(n, h, w)[:, 1:-1, 1:-1]
