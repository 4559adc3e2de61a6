"""Finding the four ArUco corner fiducials: small search regions, coarse detection, fine corners.

Detection runs where the markers can be and at about :data:`DETECT_DPI` (every k-th
pixel of the scan, k whole), with the detector's search narrowed to the marker size the
resolution implies: that is what keeps it near a millisecond instead of the tens of
milliseconds a default full-page ArUco pass costs.  Only the first marker is looked for
in a corner region (first in its part nearest the image corner, then whole); once one is
found the markers found predict where the others are, and each is looked for in a small
window around its prediction.  Corner regions are searched whole again only while fewer
than three markers are found (a covered or torn corner, a bad prediction).  The corners
found are refined on the full-resolution image with sub-pixel corner search, so the
homography is as exact as the print.  When fewer than three markers turn up (a photo, a
page far off-centre, an unexpected resolution), one permissive pass over the whole
shrunk image is the fallback; it is slow but only pays on pages that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from election.layout import (
    ARUCO_DICTIONARY,
    FIDUCIAL_IDS,
    FIDUCIAL_SIZE,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    Fiducial,
)

DETECT_DPI = 75.0
"""Detection resolution: a 10 mm marker is about 30 px, 5 px per cell, enough for ArUco."""
CORNER_REGION = (0.36, 0.26)
"""Share of the image width and height searched at each corner.  Inside the envelope
(20 mm scanner margin, ±10 mm shift, ±5° rotation) a marker centre lies within 65 mm of
its image corner, about a quarter of the image height."""
NEAR_REGION = (0.22, 0.16)
"""The part of each corner region looked at first: it holds every marker of the
``typical`` scans and 93 % of the ``envelope`` ones (docs/reader.md); a corner whose
first look finds nothing is searched whole when it has to be."""
MARKER_CELLS = 6
"""Cells across a DICT_4X4 marker with its one-cell black border."""
_SIZE_RANGE = (0.55, 1.25)
"""Marker perimeter accepted relative to the size the resolution guess predicts; the guess
overestimates the resolution (it assumes the page fills the image), so the range reaches
further down than up."""
PREDICT_SPREAD = 0.06
"""Margin of the search window around a marker's position predicted from one other
marker, per millimetre between the two: one marker's corners extrapolated 20 to 35
times their extent across the page are off by up to 4 % of the distance in the
envelope (docs/reader.md)."""
PREDICT_MARGIN_MM = 8.0
"""The margin when two or more markers predict (and the least from one): errors up to
4.8 mm in the envelope, the perspective skew plus corner noise."""
_WINDOW_SIZE = (0.8, 1.2)
"""Marker perimeter accepted in a prediction window, relative to the anchor's size."""
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


def find(image: np.ndarray, dpi: float, printed: Sequence[Fiducial] = ()) -> tuple[Sighting, ...]:
    """Fiducials of the ballot in ``image`` (uint8 grey), ``dpi`` its resolution or a guess.

    ``printed``: the layout's fiducials.  With them, once one marker is found the others
    are looked for first in a small window where the markers found put them; a corner
    region is searched whole only where that fails.  Without them every corner region is
    searched whole.
    Returns at most one sighting per corner id, refined to sub-pixel accuracy; markers
    whose id turns up in two places are dropped (two ballots in one image are not a
    ballot).
    """
    k = max(1, round(dpi / DETECT_DPI))
    marker_px = FIDUCIAL_SIZE / 25.4 * dpi / k
    cell = FIDUCIAL_SIZE / MARKER_CELLS / 25.4 * dpi
    found, refined = _detect_corners(image, k, marker_px, cell, printed)
    if len(found) < 3:
        whole = _detect_whole(image, 1.0 / k)
        if len(whole) > len(found):
            found, refined = whole, {}
    return tuple(
        Sighting(marker_id, refined[marker_id] if marker_id in refined else _refine(image, c, cell))
        for marker_id, c in sorted(found.items())
    )


def refine(image: np.ndarray, sightings: tuple[Sighting, ...], dpi: float) -> tuple[Sighting, ...]:
    """The same sightings with corners refined again on ``image`` (after streak correction)."""
    cell = FIDUCIAL_SIZE / MARKER_CELLS / 25.4 * dpi
    return tuple(Sighting(s.marker_id, _refine(image, s.corners, cell)) for s in sightings)


def _detector(window: int, perimeter: tuple[float, float] | None) -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    if perimeter is not None:
        window = max(3, window | 1)  # ArUco asserts on smaller windows (a tiny image)
        params.adaptiveThreshWinSizeMin = window
        params.adaptiveThreshWinSizeMax = window
        params.minMarkerPerimeterRate, params.maxMarkerPerimeterRate = perimeter
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, ARUCO_DICTIONARY))
    return cv2.aruco.ArucoDetector(dictionary, params)


def _regions(
    shape: tuple[int, int], k: int, share: tuple[float, float] = CORNER_REGION
) -> list[tuple[int, int, int, int]]:
    """The four corner regions (y0, x0, height, width), ``share`` of the image's width and
    height, sides whole multiples of ``k``."""
    h, w = shape
    rh = round(h * share[1]) // k * k
    rw = round(w * share[0]) // k * k
    return [(y0, x0, rh, rw) for y0, x0 in ((0, 0), (0, w - rw), (h - rh, 0), (h - rh, w - rw))]


def _detect_corners(
    image: np.ndarray, k: int, marker_px: float, cell: float, printed: Sequence[Fiducial]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Markers in the corner regions: ``({id: coarse corners}, {id: refined corners})``.

    Corner regions are looked at in turn until a marker turns up, first only their
    :data:`NEAR_REGION` part, then whole.  From then on the markers found (refined)
    predict where the others are (a rotation, scale and shift fitted to their corners),
    nearest first, and each is looked for in a window around its prediction: a margin of
    :data:`PREDICT_SPREAD` of the distance from a single marker, whose 10 mm extrapolated
    across the page leave millimetres of doubt, and :data:`PREDICT_MARGIN_MM` from two or
    more; a marker missed is looked for again when more markers predict it, up to three.
    The search ends when three markers are found and every missing one was looked for
    where three put it; until then the corner regions not yet looked at are searched
    whole, so a window only ever saves work.
    """
    regions = _regions(image.shape, k)
    nearby = _regions(image.shape, k, NEAR_REGION)
    by_id = {f.marker_id: f for f in printed}
    found: dict[int, list[np.ndarray]] = {}
    refined: dict[int, np.ndarray] = {}
    searched: set[int] = set()
    glanced: set[int] = set() if printed else set(range(len(regions)))
    tried: dict[int, int] = {}

    def add(marker_id: int, corners: np.ndarray) -> None:
        found.setdefault(marker_id, []).append(corners)
        if len(found[marker_id]) == 1:
            refined[marker_id] = _refine(image, corners, cell)
        else:
            refined.pop(marker_id, None)

    while True:
        anchors = [i for i in refined if i in by_id]
        level = min(len(anchors), 3)
        todo = [i for i in by_id if i not in found and tried.get(i, 0) < level]
        if todo:
            marker_id = min(todo, key=lambda i: _distance(by_id, anchors, i))
            tried[marker_id] = level
            window, region = _window(image.shape, by_id, anchors, refined, marker_id, regions, k)
            if window is not None and region not in searched:
                hit = _in_window(image, window, marker_id, k)
                if hit is not None:
                    add(marker_id, hit)
                    if region is not None:
                        searched.add(region)
            continue
        missing = [i for i in by_id if i not in found]
        if len(anchors) >= 3 and all(tried.get(i, 0) >= 3 for i in missing):
            break
        glance = next((r for r in range(len(regions)) if r not in searched | glanced), None)
        if glance is not None:
            glanced.add(glance)
            y0, x0, rh, rw = nearby[glance]
            hits = _search(image, y0, x0, rh, rw, k, marker_px, _SIZE_RANGE, _SHRINKS[:1])
            for marker_id, corners in hits:
                add(marker_id, corners)
            if hits:
                searched.add(glance)
            continue
        region = next((r for r in range(len(regions)) if r not in searched), None)
        if region is None:
            break
        searched.add(region)
        y0, x0, rh, rw = regions[region]
        for marker_id, corners in _search(image, y0, x0, rh, rw, k, marker_px, _SIZE_RANGE):
            add(marker_id, corners)
    once = {i: v[0] for i, v in found.items() if len(v) == 1}
    return once, {i: c for i, c in refined.items() if i in once}


def _window(
    shape: tuple[int, int],
    by_id: dict[int, Fiducial],
    anchors: list[int],
    refined: dict[int, np.ndarray],
    marker_id: int,
    regions: list[tuple[int, int, int, int]],
    k: int,
) -> tuple[tuple[int, int, int, int, float] | None, int | None]:
    """Where the ``anchors`` put marker ``marker_id``: the window to search
    ``(y0, x0, height, width, marker side in px)`` (None when it is off the image), and the
    corner region the predicted centre falls in (None when in none)."""
    pairs = [
        (printed, (x, y))
        for i in anchors
        for printed, (x, y) in zip(by_id[i].corners, refined[i].tolist(), strict=True)
    ]
    similarity = _similarity(pairs)
    if similarity is None:
        return None, None
    p, q, tx, ty = similarity
    xs = [p * x - q * y + tx for x, y in by_id[marker_id].corners]
    ys = [q * x + p * y + ty for x, y in by_id[marker_id].corners]
    cx, cy = sum(xs) / 4, sum(ys) / 4
    region = next(
        (
            r
            for r, (y0, x0, rh, rw) in enumerate(regions)
            if y0 <= cy < y0 + rh and x0 <= cx < x0 + rw
        ),
        None,
    )
    scale = math.hypot(p, q)
    margin = PREDICT_MARGIN_MM
    if len(anchors) == 1:
        margin = max(margin, PREDICT_SPREAD * _distance(by_id, anchors, marker_id))
    pad = margin * scale
    h, w = shape
    x0 = max(0, math.floor((min(xs) - pad) / k) * k)
    y0 = max(0, math.floor((min(ys) - pad) / k) * k)
    x1 = min(w // k * k, math.ceil((max(xs) + pad) / k) * k)
    y1 = min(h // k * k, math.ceil((max(ys) + pad) / k) * k)
    side = FIDUCIAL_SIZE * scale
    if x1 - x0 < 2 * side or y1 - y0 < 2 * side:
        return None, region
    return (y0, x0, y1 - y0, x1 - x0, side), region


def _distance(by_id: dict[int, Fiducial], anchors: list[int], marker_id: int) -> float:
    """Printed distance in mm from marker ``marker_id`` to the nearest of ``anchors``."""
    x, y = by_id[marker_id].center
    return min(math.hypot(x - by_id[i].center[0], y - by_id[i].center[1]) for i in anchors)


def _in_window(
    image: np.ndarray, window: tuple[int, int, int, int, float], marker_id: int, k: int
) -> np.ndarray | None:
    """Coarse corners of marker ``marker_id`` if it is (once) in ``window``."""
    y0, x0, rh, rw, side = window
    hits = [
        c for i, c in _search(image, y0, x0, rh, rw, k, side / k, _WINDOW_SIZE) if i == marker_id
    ]
    return hits[0] if len(hits) == 1 else None


def _similarity(
    pairs: list[tuple[tuple[float, float], tuple[float, float]]],
) -> tuple[float, float, float, float] | None:
    """Least-squares rotation, uniform scale and shift taking each pair's first point to
    its second: ``(p, q, tx, ty)`` for ``u = p x − q y + tx``, ``v = q x + p y + ty``."""
    n = len(pairs)
    mx = sum(a[0] for a, _ in pairs) / n
    my = sum(a[1] for a, _ in pairs) / n
    mu = sum(b[0] for _, b in pairs) / n
    mv = sum(b[1] for _, b in pairs) / n
    norm = dot = cross = 0.0
    for (x, y), (u, v) in pairs:
        x, y, u, v = x - mx, y - my, u - mu, v - mv
        norm += x * x + y * y
        dot += x * u + y * v
        cross += x * v - y * u
    if norm <= 0 or not math.isfinite(dot + cross):
        return None
    p, q = dot / norm, cross / norm
    return p, q, mu - (p * mx - q * my), mv - (q * mx + p * my)


def _search(
    image: np.ndarray,
    y0: int,
    x0: int,
    rh: int,
    rw: int,
    k: int,
    marker_px: float,
    size_range: tuple[float, float],
    shrinks: tuple[Callable[[np.ndarray, int], np.ndarray], ...] | None = None,
) -> list[tuple[int, np.ndarray]]:
    """Markers in ``image[y0:y0+rh, x0:x0+rw]`` (sides multiples of ``k``), detected on the
    crop shrunk ``k`` times with each of :data:`_ATTEMPTS` until one finds any; corners in
    full-resolution pixels.

    The crop is shrunk by taking every k-th pixel (from the middle of each k×k block):
    the marker's edges stay as sharp as scanned, and on the envelope and hostile samples
    that finds at least as many markers as area averaging, at a tenth of the cost
    (docs/reader.md).  Only where no attempt finds anything (a covered corner, mostly)
    is the area-averaged crop tried as well: each finds markers the other misses.
    """
    if min(rh, rw) // k < marker_px:
        return []  # too small to hold a marker (a tiny image, or a resolution far off)
    crop = image[y0 : y0 + rh, x0 : x0 + rw]
    cell = marker_px / MARKER_CELLS
    for shrink in shrinks or _SHRINKS:
        small = shrink(crop, k)
        side = max(small.shape)
        lo, hi = (4 * marker_px * s / side for s in size_range)
        for window, prepare in _ATTEMPTS:
            detector = _detector(round(cell * window), (lo, min(hi, 4.0)))
            sightings = _detect(detector, prepare(small))
            if sightings:
                return [(i, (c + 0.5) * k - 0.5 + (x0, y0)) for i, c in sightings]
        if k == 1:
            break
    return []


def _decimated(crop: np.ndarray, k: int) -> np.ndarray:
    """Every ``k``-th pixel of ``crop`` (sides multiples of ``k``), from the middle of
    each k×k block."""
    if k == 1:
        return crop
    return np.ascontiguousarray(crop[k // 2 :: k, k // 2 :: k])


def _area_averaged(crop: np.ndarray, k: int) -> np.ndarray:
    """``crop`` (sides multiples of ``k``) shrunk ``k`` times by averaging k×k blocks."""
    if k == 1:
        return crop
    h, w = crop.shape
    return cv2.resize(crop, (w // k, h // k), interpolation=cv2.INTER_AREA)


_SHRINKS = (_decimated, _area_averaged)


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
    return [
        (i, c.reshape(4, 2).astype(np.float64))
        for i, c in zip(ids.ravel().tolist(), corners, strict=True)
        if i in _WANTED
    ]


_WANTED = frozenset(FIDUCIAL_IDS.values())


def _refine(image: np.ndarray, corners: np.ndarray, cell_px: float) -> np.ndarray:
    """Sub-pixel corners on the full-resolution image.

    The search window stays inside the marker's one-cell black border (half a cell), so
    each corner sees one clean right angle of black against the quiet zone.
    """
    half = max(2, round(0.5 * cell_px))
    h, w = image.shape
    pts = corners.astype(np.float32).reshape(-1, 1, 2)
    xs, ys = pts[:, 0, 0].tolist(), pts[:, 0, 1].tolist()
    if min(xs + ys) < half + 1 or max(xs) >= w - half - 1 or max(ys) >= h - half - 1:
        return corners
    cv2.cornerSubPix(image, pts, (half, half), (-1, -1), _SUBPIX_CRITERIA)
    refined = pts.reshape(4, 2).astype(np.float64)
    # A corner that wandered more than a cell found some other edge: keep the coarse one.
    step = refined - corners
    moved = step[:, 0] ** 2 + step[:, 1] ** 2 > cell_px**2
    if moved.any():
        refined[moved] = corners[moved]
    return refined


_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.01)
