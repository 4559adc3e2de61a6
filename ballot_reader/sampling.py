"""Reading image values at page positions through the homography, without warping the page.

Warping a whole 200 dpi page costs more than everything else the reader does; the reader
only needs a few thousand points (style-code cells, target interiors and the paper ring
around each), so it maps exactly those points and interpolates them with one
``cv2.remap`` call.
"""

from __future__ import annotations

import cv2
import numpy as np

_ROW = 1024
"""Points per row of the remap grid: cv2.remap wants maps narrower than 32767."""


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
    px = np.asarray(points_px, np.float32)
    shape = px.shape[:-1]
    flat = px.reshape(-1, 2)
    count = len(flat)
    rows = -(-count // _ROW)
    grid = np.zeros((rows * _ROW, 2), np.float32)
    grid[:count] = flat
    values = cv2.remap(image, grid.reshape(rows, _ROW, 2), None, cv2.INTER_LINEAR)
    out = values.reshape(-1)[:count].reshape(shape).astype(np.float32)
    h, w = image.shape
    outside = (
        (px[..., 0] < -0.5) | (px[..., 1] < -0.5) | (px[..., 0] > w - 0.5) | (px[..., 1] > h - 0.5)
    )
    out[outside] = np.nan
    return out
