"""Finding the four ArUco corner fiducials: small search regions, coarse detection, fine corners.

Detection runs where the markers can be (the four corner regions of the image) and on a
copy shrunk by a whole factor to about :data:`DETECT_DPI` (whole factors take OpenCV's
fast area-averaging path), with the detector's search narrowed to the
marker size the resolution implies: that is what keeps it near a millisecond instead of
the tens of milliseconds a default full-page ArUco pass costs.  The corners found there
are then refined on the full-resolution image with sub-pixel corner search, so the
homography is as exact as the print.  When fewer than three markers turn up (a photo, a
page far off-centre, an unexpected resolution), one permissive pass over the whole
shrunk image is the fallback; it is slow but only pays on pages that need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from election.layout import (
    ARUCO_DICTIONARY,
    FIDUCIAL_IDS,
    FIDUCIAL_SIZE,
    PAGE_HEIGHT,
    PAGE_WIDTH,
)

DETECT_DPI = 75.0
"""Detection resolution: a 10 mm marker is about 30 px, 5 px per cell, enough for ArUco."""
CORNER_REGION = (0.36, 0.26)
"""Share of the image width and height searched at each corner.  Inside the envelope
(20 mm scanner margin, ±10 mm shift, ±5° rotation) a marker centre lies within 65 mm of
its image corner, about a quarter of the image height."""
MARKER_CELLS = 6
"""Cells across a DICT_4X4 marker with its one-cell black border."""
_SIZE_RANGE = (0.55, 1.25)
"""Marker perimeter accepted relative to the size the resolution guess predicts; the guess
overestimates the resolution (it assumes the page fills the image), so the range reaches
further down than up."""
_STREAK_KERNEL = np.ones((1, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One detected fiducial: its ArUco id and its four corners in full-resolution pixels,
    in the marker's printed order (top-left, top-right, bottom-right, bottom-left as
    printed), so they pair with :attr:`election.layout.Fiducial.corners` directly."""

    marker_id: int
    corners: np.ndarray


def guess_dpi(shape: tuple[int, int]) -> float:
    """Resolution if the page filled the image: an upper bound, since scans have margins."""
    long_side, short_side = max(shape), min(shape)
    return max(long_side / (PAGE_HEIGHT / 25.4), short_side / (PAGE_WIDTH / 25.4))


def find(image: np.ndarray, dpi: float) -> tuple[Sighting, ...]:
    """Fiducials of the ballot in ``image`` (uint8 grey), ``dpi`` its resolution or a guess.

    Returns at most one sighting per corner id, refined to sub-pixel accuracy; markers
    whose id appears twice are dropped (two ballots in one image are not a ballot).
    """
    factor = 1.0 / max(1, round(dpi / DETECT_DPI))
    marker_px = FIDUCIAL_SIZE / 25.4 * dpi * factor
    found = _detect_corners(image, factor, marker_px)
    if len(found) < 3:
        found = _detect_whole(image, factor) or found
    cell = FIDUCIAL_SIZE / MARKER_CELLS / 25.4 * dpi
    return tuple(
        Sighting(marker_id, _refine(image, corners, cell))
        for marker_id, corners in sorted(found.items())
    )


def refine(image: np.ndarray, sightings: tuple[Sighting, ...], dpi: float) -> tuple[Sighting, ...]:
    """The same sightings with corners refined again on ``image`` (after streak correction)."""
    cell = FIDUCIAL_SIZE / MARKER_CELLS / 25.4 * dpi
    return tuple(Sighting(s.marker_id, _refine(image, s.corners, cell)) for s in sightings)


def _detector(window: int, perimeter: tuple[float, float] | None) -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    if perimeter is not None:
        window |= 1
        params.adaptiveThreshWinSizeMin = window
        params.adaptiveThreshWinSizeMax = window
        params.minMarkerPerimeterRate, params.maxMarkerPerimeterRate = perimeter
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, ARUCO_DICTIONARY))
    return cv2.aruco.ArucoDetector(dictionary, params)


def _detect_corners(image: np.ndarray, factor: float, marker_px: float) -> dict[int, np.ndarray]:
    h, w = image.shape
    rh, rw = round(h * CORNER_REGION[1]), round(w * CORNER_REGION[0])
    found: dict[int, list[np.ndarray]] = {}
    for y0, x0 in ((0, 0), (0, w - rw), (h - rh, 0), (h - rh, w - rw)):
        crop = image[y0 : y0 + rh, x0 : x0 + rw]
        small = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        side = max(small.shape)
        lo, hi = (4 * marker_px * k / side for k in _SIZE_RANGE)
        cell = marker_px / MARKER_CELLS
        sightings: list[tuple[int, np.ndarray]] = []
        for window, prepare in _ATTEMPTS:
            sightings = _detect(_detector(round(cell * window), (lo, min(hi, 4.0))), prepare(small))
            if sightings:
                break
        for marker_id, corners in sightings:
            scale = (crop.shape[1] / small.shape[1], crop.shape[0] / small.shape[0])
            full = (corners + 0.5) * scale - 0.5 + (x0, y0)
            found.setdefault(marker_id, []).append(full)
    return {k: v[0] for k, v in found.items() if len(v) == 1}


def _without_streaks(image: np.ndarray) -> np.ndarray:
    """Close dark vertical lines up to two pixels wide (a sensor streak at detection scale).

    A streak through a marker's quiet zone joins the marker's border to the line, so its
    contour is no longer a square and the detector skips it; marker cells are five pixels
    wide at :data:`DETECT_DPI`, so they survive the closing unchanged.
    """
    return cv2.morphologyEx(image, cv2.MORPH_CLOSE, _STREAK_KERNEL)


def _as_is(image: np.ndarray) -> np.ndarray:
    return image


_ATTEMPTS = (
    (1.8, _as_is),
    (1.8, _without_streaks),
    (1.0, _as_is),
    (3.5, _as_is),
)
"""Threshold window (in marker cells) and preparation tried in turn in a corner region
until a marker turns up; the first succeeds on almost every scan (docs/reader.md)."""


def _detect_whole(image: np.ndarray, factor: float) -> dict[int, np.ndarray]:
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    found: dict[int, list[np.ndarray]] = {}
    for marker_id, corners in _detect(_detector(0, None), small):
        scale = (image.shape[1] / small.shape[1], image.shape[0] / small.shape[0])
        found.setdefault(marker_id, []).append((corners + 0.5) * scale - 0.5)
    return {k: v[0] for k, v in found.items() if len(v) == 1}


def _detect(detector: cv2.aruco.ArucoDetector, image: np.ndarray) -> list[tuple[int, np.ndarray]]:
    corners, ids, _rejected = detector.detectMarkers(image)
    if ids is None:
        return []
    wanted = set(FIDUCIAL_IDS.values())
    return [
        (int(i), c.reshape(4, 2).astype(np.float64))
        for i, c in zip(ids.ravel(), corners, strict=True)
        if int(i) in wanted
    ]


def _refine(image: np.ndarray, corners: np.ndarray, cell_px: float) -> np.ndarray:
    """Sub-pixel corners on the full-resolution image.

    The search window stays inside the marker's one-cell black border (half a cell), so
    each corner sees one clean right angle of black against the quiet zone.
    """
    half = max(2, round(0.5 * cell_px))
    h, w = image.shape
    pts = corners.astype(np.float32).reshape(-1, 1, 2)
    inside = np.all((pts >= half + 1) & (pts < np.array([w, h]) - half - 1))
    if not inside:
        return corners
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.01)
    cv2.cornerSubPix(image, pts, (half, half), (-1, -1), criteria)
    refined = pts.reshape(4, 2).astype(np.float64)
    # A corner that wandered more than a cell found some other edge: keep the coarse one.
    moved = np.linalg.norm(refined - corners, axis=1) > cell_px
    refined[moved] = corners[moved]
    return refined
