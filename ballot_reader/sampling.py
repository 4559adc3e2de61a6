"""Reading image values at page positions through the homography, without warping the page.

Warping a whole 200 dpi page costs more than everything else the reader does; the reader
only needs a few thousand points (style-code cells, target interiors and the paper ring
around each), so it maps exactly those points and interpolates them with one
``cv2.remap`` call.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_MAX_SIDE = 32767
"""cv2.remap wants maps with fewer rows and columns than this."""
_ROW = 256
"""Points per row of the remap grid when the points' own layout does not fit a map."""


def to_pixels(homography: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """Page points (..., 2) in mm → image points (..., 2) in pixels (float32)."""
    pts = np.asarray(points_mm, np.float32)
    flat = pts.reshape(-1, 1, 2)
    return cv2.perspectiveTransform(flat, homography).reshape(pts.shape)


def sample(image: np.ndarray, homography: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """Bilinear image values (float32) at page points ``points_mm`` (..., 2).

    Points outside the image read as NaN, so a caller can tell a cut-off page from paper.
    """
    return sample_pixels(image, to_pixels(homography, points_mm))


def sample_pixels(image: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """Bilinear image values (float32) at pixel points (..., 2); outside the image: NaN."""
    px = np.ascontiguousarray(points_px, np.float32)
    shape = px.shape[:-1]
    flat = px.reshape(-1, 2)
    count = len(flat)
    if count == 0:
        return np.zeros(shape, np.float32)
    layout = _map_shape(shape)
    if layout is not None:
        grid = flat.reshape(*layout, 2)  # the points' own order: no copy
    else:
        rows = -(-count // _ROW)
        grid = np.zeros((rows * _ROW, 2), np.float32)
        grid[:count] = flat
        grid = grid.reshape(rows, _ROW, 2)
    values = cv2.remap(image, grid, None, cv2.INTER_LINEAR)
    out = values.reshape(-1)[:count].astype(np.float32).reshape(shape)
    h, w = image.shape
    lo, hi = _bounds(flat)
    if lo[0] < -0.5 or lo[1] < -0.5 or hi[0] > w - 0.5 or hi[1] > h - 0.5:
        outside = (
            (px[..., 0] < -0.5)
            | (px[..., 1] < -0.5)
            | (px[..., 0] > w - 0.5)
            | (px[..., 1] > h - 0.5)
        )
        out[outside] = np.nan
    return out


def sample_xy(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """:func:`sample_pixels` with the pixel coordinates in two arrays of one shape.

    For callers that build many points by broadcasting: the coordinates stay
    contiguous per axis, which numpy broadcasts and reduces much faster than (..., 2).
    """
    xs = np.asarray(xs, np.float32, order="C")
    ys = np.asarray(ys, np.float32, order="C")
    shape = xs.shape
    if xs.size == 0:
        return np.zeros(shape, np.float32)
    layout = _map_shape(shape)
    if layout is None:
        return sample_pixels(image, np.stack([xs, ys], axis=-1))
    values = cv2.remap(image, xs.reshape(layout), ys.reshape(layout), cv2.INTER_LINEAR)
    out = values.astype(np.float32).reshape(shape)
    h, w = image.shape
    if xs.min() < -0.5 or ys.min() < -0.5 or xs.max() > w - 0.5 or ys.max() > h - 0.5:
        out[(xs < -0.5) | (ys < -0.5) | (xs > w - 0.5) | (ys > h - 0.5)] = np.nan
    return out


def _map_shape(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """Rows and columns of a remap map holding points of ``shape`` in their own order:
    as many trailing dimensions per row as fit, or None when no such map fits."""
    count = math.prod(shape)
    cols = 1
    for n in reversed(shape):
        if cols * n >= _MAX_SIDE:
            break
        cols *= n
    rows = count // cols if cols else 0
    if not cols or rows >= _MAX_SIDE:
        return None
    return rows, cols


def _bounds(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest x and y of points (N, 2).

    Reducing an (N, 2) array along its long axis is slow in numpy (two columns at a
    time); blocks of :data:`_ROW` points reduce as rows of 2 × _ROW values instead.
    """
    body = len(flat) // _ROW * _ROW
    lo = np.full(2, np.inf, np.float32)
    hi = np.full(2, -np.inf, np.float32)
    if body:
        block = flat[:body].reshape(-1, 2 * _ROW)
        lo = block.min(axis=0).reshape(_ROW, 2).min(axis=0)
        hi = block.max(axis=0).reshape(_ROW, 2).max(axis=0)
    if body < len(flat):
        lo = np.minimum(lo, flat[body:].min(axis=0))
        hi = np.maximum(hi, flat[body:].max(axis=0))
    return lo, hi
