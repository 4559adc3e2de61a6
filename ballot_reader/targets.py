"""Target fill scores: how much of each box is inked, judged against the paper around it.

Every target is sampled on the same grid of page points (so all targets are scored in
one vectorised pass): the box interior, kept clear of the printed outline by
:data:`INSET_MM`, and a ring of blank paper between the outline and the edge of the
target's clear area.  The ring's bright level is the local paper, the strip's black
cells the ink; each interior point's darkness is its place between the two, so a dim
lamp, grey paper or a fold's shadow shift both ends together.  A point is inked when its
darkness passes :data:`~ballot_reader.thresholds.INK_LEVEL`, and the score is the inked
share of the interior: the same measure for pencil and ink, for a fill and a tick.

Three numbers per target go to :func:`ballot_reader.thresholds.state`: the score, the
mark's strength (the mean darkness of its inked points, which separates a written mark
from an erased one) and the ring's inked share (a circle drawn around the box).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ballot_reader.sampling import sample, sample_pixels, to_pixels
from ballot_reader.thresholds import INK_LEVEL
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
    """Per target, in layout order: inked share of the interior, strength of the ink,
    inked share of the ring, local paper level, and the target centre in pixels.

    ``noise`` is the page's paper noise: the median over targets of the ring's spread
    (90th percentile minus median, over 1.2816, a normal σ), over the local contrast;
    the ring's upper half is used, so a circle or a mark's overflow does not count.
    ``masked`` is the share of each interior left out under sensor streaks.
    """

    score: np.ndarray
    strength: np.ndarray
    ring: np.ndarray
    paper: np.ndarray
    noise: float
    masked: np.ndarray
    centers_px: np.ndarray


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
    inner, ring = _grids(round(step, 3))
    centers = np.array([(t.box.cx, t.box.cy) for t in targets])
    centers = centers + locate(image, homography, centers, step, search_mm)
    px = to_pixels(homography, centers[:, None, :] + np.vstack([inner.points, ring])[None])
    values = sample_pixels(image, px)
    if np.isnan(values).any():
        raise ValueError("part of the target area lies outside the image")
    interior = values[:, : len(inner.points)].reshape(len(targets), *inner.shape)
    interior = _smooth(interior)
    valid = clear_of(px[:, : len(inner.points), 0].reshape(len(targets), *inner.shape), skip)
    valid = valid[:, 1:-1, 1:-1]
    median, paper, high = np.percentile(values[:, len(inner.points) :], [50, 75, 90], axis=1)
    paper = paper.astype(np.float32)
    contrast = np.maximum(paper - np.float32(black), np.float32(1.0))
    noise = float(np.median((high - median) / 1.2816 / contrast))
    darkness = (paper[:, None, None] - interior) / contrast[:, None, None]
    inked = (darkness > INK_LEVEL) & valid
    score = inked.sum(axis=(1, 2)) / np.maximum(valid.sum(axis=(1, 2)), 1)
    count = inked.sum(axis=(1, 2))
    strength = np.where(count > 0, (darkness * inked).sum(axis=(1, 2)) / np.maximum(count, 1), 0.0)
    ring_dark = (paper[:, None] - values[:, len(inner.points) :]) / contrast[:, None]
    ring_valid = clear_of(px[:, len(inner.points) :, 0], skip)
    ring_share = ((ring_dark > INK_LEVEL) & ring_valid).sum(axis=1) / np.maximum(
        ring_valid.sum(axis=1), 1
    )
    centers_px = to_pixels(homography, centers)
    masked = 1.0 - valid.mean(axis=(1, 2))
    return TargetScores(score, strength, ring_share, paper, noise, masked, centers_px)


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
    shifts = np.arange(-search, search + 1e-9, step)
    dx = _edge_shift(image, homography, centers, shifts, step, BOX_WIDTH, BOX_HEIGHT, 0)
    dy = _edge_shift(image, homography, centers, shifts, step, BOX_HEIGHT, BOX_WIDTH, 1)
    return np.stack([dx, dy], axis=1)


def _edge_shift(
    image: np.ndarray,
    homography: np.ndarray,
    centers: np.ndarray,
    shifts: np.ndarray,
    step: float,
    across: float,
    along: float,
    axis: int,
) -> np.ndarray:
    """Best shift along ``axis`` (0: x, 1: y) of a box ``across`` wide, by its two edges."""
    out = _OUTSIDE_MM
    u = np.arange(-shifts[-1] - out - step, shifts[-1] + out + step * 1.5, step)
    v = np.arange(-along / 2 + 0.8, along / 2 - 0.8 + 1e-9, _EDGE_ROW_MM)
    pts = []
    for edge in (-across / 2, across / 2):
        gu, gv = np.meshgrid(edge + u, v)
        pair = (gu, gv) if axis == 0 else (gv, gu)
        pts.append(np.stack([pair[0].ravel(), pair[1].ravel()], axis=1))
    grid = np.vstack(pts)
    values = sample(image, homography, centers[:, None, :] + grid[None])
    if np.isnan(values).any():
        return np.zeros(len(centers))
    dark = -values.reshape(len(centers), 2, len(v), len(u)).mean(axis=2)
    k = round(out / step)
    idx = np.round((shifts - u[0]) / step).astype(int)
    low, high = dark[:, 0], dark[:, 1]
    response = (low[:, idx] - low[:, idx - k]) + (high[:, idx] - high[:, idx + k])
    best = np.argmax(response, axis=1)
    # Parabola through the peak and its neighbours: the edge lies between samples.
    inner = np.clip(best, 1, len(shifts) - 2)
    rows = np.arange(len(centers))
    a, b, c = (response[rows, inner + d] for d in (-1, 0, 1))
    curvature = a - 2 * b + c
    offset = np.where(curvature < 0, 0.5 * (a - c) / np.where(curvature < 0, curvature, -1), 0.0)
    offset = np.where(best == inner, np.clip(offset, -0.5, 0.5), 0.0)
    return shifts[best] + offset * step


@dataclass(frozen=True)
class _Grid:
    points: np.ndarray
    shape: tuple[int, int]


@lru_cache(maxsize=8)
def _grids(step: float) -> tuple[_Grid, np.ndarray]:
    """Interior grid (with one extra point each side for smoothing) and ring points,
    as offsets from the box centre in mm.  The ring, which only gives the paper level
    and the circle test, is sampled at twice the pitch: it has three times the area."""
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
    return inner, ring


def clear_of(
    xs: np.ndarray, skip: Sequence[tuple[int, int]], pad: float = _SKIP_PAD_PX
) -> np.ndarray:
    """True where a sample's image column, ``pad`` pixels either side, avoids ``skip``."""
    valid = np.ones(xs.shape, bool)
    for x0, x1 in skip:
        valid &= (xs < x0 - pad) | (xs > x1 - 1 + pad)
    return valid


def _smooth(grids: np.ndarray) -> np.ndarray:
    """3×3 mean of each target's interior grid, dropping the one-point border.

    Averaging nine samples cuts sensor and JPEG noise threefold, so the ink level can
    sit low enough for faint pencil without blank paper crossing it.
    """
    g = grids
    total = sum(
        g[:, 1 + dy : g.shape[1] - 1 + dy, 1 + dx : g.shape[2] - 1 + dx]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )
    return total / 9.0
