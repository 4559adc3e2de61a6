"""From fiducial sightings to the page-mm → pixel homography, and whether to trust it.

Each sighting contributes its four corners, paired with the printed corners by the
marker id, so the fit handles an upside-down feed by itself (the ids say which corner is
which) and three markers are enough (12 point pairs for 8 unknowns).  The fit is then
checked against what a sheet on a scanner can look like: a residual above
:data:`MAX_RESIDUAL_MM`, a resolution outside :data:`DPI_RANGE`, a tilt beyond
:data:`MAX_TILT_DEG` or a page that is not a plausible rectangle means the markers do not
describe one flat ballot, and the page is refused rather than sampled in the wrong place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from election.layout import Fiducial

MIN_FIDUCIALS = 3
_REFIT_TOLERANCE_MM = 0.3
REFIT_SHARE = 0.7
"""Share of the points (marker corners and boxes) that must agree with a refit."""
MAX_RESIDUAL_MM = 0.3
"""RMS distance between detected and fitted corners.  Good scans measure under 0.05 mm
(docs/reader.md); a marker found on a fold, or a sheet that is not flat, measures more.
One corner alone may disagree (it is then left out of the fit): see
:func:`_without_worst_corner`."""
_OUTLIER_MM = 0.5
"""How far that one corner must be from the fit of the others to be left out."""
DPI_RANGE = (100.0, 650.0)
"""Below 100 dpi a 0.5 mm pen stroke is under two pixels; above 650 nothing is gained."""
MAX_TILT_DEG = 10.0
"""Twice the envelope's ±5°: a sheet tilted further is jammed, not fed."""
MAX_SHAPE_ERROR = 0.04
"""Largest relative difference between the page's mapped side lengths and the resolution:
the envelope's ±3 % scale is uniform, so opposite sides differ by the perspective skew
only (1.5 mm corners, under 1 %)."""


@dataclass(frozen=True, slots=True)
class Registration:
    """Where the page lies in the image.

    ``homography`` maps page millimetres to image pixels (OpenCV coordinates);
    ``residual_mm`` is the RMS corner misfit; ``dpi`` the measured resolution;
    ``tilt_deg`` the rotation away from upright or upside-down.
    """

    homography: np.ndarray
    residual_mm: float
    dpi: float
    tilt_deg: float
    upside_down: bool
    markers: tuple[int, ...]

    def to_pixels(self, points_mm: np.ndarray) -> np.ndarray:
        pts = np.asarray(points_mm, np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.homography).reshape(-1, 2)


class RegistrationFailed(Exception):
    """Internal: the markers found do not register a page; ``str`` says why."""


def register(
    sightings: Sequence,
    fiducials: Sequence[Fiducial],
    page_size: tuple[float, float],
) -> Registration:
    """Fit and check the homography; raises :class:`RegistrationFailed` with the reason."""
    printed = {f.marker_id: f for f in fiducials}
    pairs = [(s, printed[s.marker_id]) for s in sightings if s.marker_id in printed]
    if len(pairs) < MIN_FIDUCIALS:
        ids = sorted(s.marker_id for s, _ in pairs)
        raise RegistrationFailed(
            f"{len(pairs)} of 4 corner fiducials found (ids {ids}); at least "
            f"{MIN_FIDUCIALS} are needed"
        )
    src = np.array([c for _, f in pairs for c in f.corners], np.float64)
    dst = np.vstack([s.corners for s, _ in pairs])
    homography = _fit(src, dst, len(pairs))
    if homography is None or not np.all(np.isfinite(homography)):
        raise RegistrationFailed("the fiducials do not define a page (degenerate geometry)")
    errors = _errors(homography, src, dst)
    quad = _corners(homography, page_size)
    px_per_mm = _scale(quad, page_size)
    residual = float(np.sqrt(np.mean(errors**2))) / px_per_mm
    if residual > MAX_RESIDUAL_MM:
        homography, residual = _without_worst_corner(
            src, dst, len(pairs), homography, errors, px_per_mm
        )
        quad = _corners(homography, page_size)
        px_per_mm = _scale(quad, page_size)
    dpi = px_per_mm * 25.4
    upside_down, tilt = _orientation(quad)
    shape_error = _shape_error(quad, page_size, px_per_mm)
    if residual > MAX_RESIDUAL_MM:
        raise RegistrationFailed(
            f"fiducials disagree by {residual:.2f} mm RMS (limit {MAX_RESIDUAL_MM} mm): "
            "page not flat, or a marker is damaged"
        )
    if not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise RegistrationFailed(
            f"resolution {dpi:.0f} dpi outside {DPI_RANGE[0]:.0f}..{DPI_RANGE[1]:.0f}"
        )
    if abs(tilt) > MAX_TILT_DEG:
        raise RegistrationFailed(f"page tilted {tilt:+.1f}° (limit ±{MAX_TILT_DEG:.0f}°)")
    if shape_error > MAX_SHAPE_ERROR:
        raise RegistrationFailed(
            f"page outline distorted by {100 * shape_error:.1f} % "
            f"(limit {100 * MAX_SHAPE_ERROR:.0f} %): folded, curled or photographed at an angle"
        )
    return Registration(
        homography, residual, dpi, tilt, upside_down, tuple(s.marker_id for s, _ in pairs)
    )


def refit(
    reg: Registration,
    sightings: Sequence,
    fiducials: Sequence[Fiducial],
    points_mm: np.ndarray,
    points_px: np.ndarray,
    min_share: float = REFIT_SHARE,
) -> Registration:
    """A full homography from three fiducials plus the printed boxes found on the page.

    With three markers the first fit is affine; the boxes located around it (each one a
    small fiducial of its own) restore the perspective.  RANSAC drops any box that was
    located on the wrong edges; if fewer than ``min_share`` of the points agree, ``reg``
    itself is returned.
    """
    printed = {f.marker_id: f for f in fiducials}
    src = [c for s in sightings if s.marker_id in printed for c in printed[s.marker_id].corners]
    dst = [s.corners for s in sightings if s.marker_id in printed]
    src_all = np.vstack([np.array(src, np.float64), points_mm])
    dst_all = np.vstack([*dst, points_px])
    px_per_mm = reg.dpi / 25.4
    homography, mask = cv2.findHomography(
        src_all, dst_all, cv2.RANSAC, _REFIT_TOLERANCE_MM * px_per_mm
    )
    if homography is None or mask is None or int(mask.sum()) < min_share * len(src_all):
        return reg
    return Registration(
        homography, reg.residual_mm, reg.dpi, reg.tilt_deg, reg.upside_down, reg.markers
    )


def _errors(homography: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    fitted = cv2.perspectiveTransform(src.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return np.linalg.norm(fitted - dst, axis=1)


def _without_worst_corner(
    src: np.ndarray,
    dst: np.ndarray,
    markers: int,
    everything: np.ndarray,
    errors: np.ndarray,
    px_per_mm: float,
) -> tuple[np.ndarray, float]:
    """The fit without the one corner that disagrees most with ``everything`` (the fit
    of all corners, whose ``errors`` are given), and its residual in mm.

    A sensor streak or a speck along a marker's edge can pull one refined corner off by
    a millimetre while the other 11 or 15 agree to a few hundredths; the page is flat and
    the fit without that corner is exact.  A page that is not flat (or a damaged marker)
    leaves the others disagreeing too, and the residual stays over the limit.  Returns
    the full fit and its residual unchanged when leaving the corner out does not bring
    the residual within :data:`MAX_RESIDUAL_MM` or the corner does not stand out by
    :data:`_OUTLIER_MM`.
    """
    worst = int(np.argmax(errors))
    keep = np.arange(len(src)) != worst
    residual = float(np.sqrt(np.mean(errors**2))) / px_per_mm
    homography = _fit(src[keep], dst[keep], markers)
    if homography is None or not np.all(np.isfinite(homography)):
        return everything, residual
    rest = float(np.sqrt(np.mean(_errors(homography, src[keep], dst[keep]) ** 2))) / px_per_mm
    off = float(_errors(homography, src[~keep], dst[~keep])[0]) / px_per_mm
    if rest > MAX_RESIDUAL_MM or off < _OUTLIER_MM:
        return everything, residual
    return homography, rest


def _fit(src: np.ndarray, dst: np.ndarray, markers: int) -> np.ndarray | None:
    """Least-squares homography from four markers, affine from three.

    Three markers pin an affine map exactly but leave the two perspective terms to the
    10 mm extent of each marker, which amplifies corner noise into millimetres at the
    missing corner; an affine fit is off there by at most the sheet's skew instead.
    """
    if markers >= 4:
        homography, _mask = cv2.findHomography(src, dst, 0)
        return homography
    a = np.hstack([src, np.ones((len(src), 1))])
    solution, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return np.vstack([solution.T, (0.0, 0.0, 1.0)])


def _corners(homography: np.ndarray, page_size: tuple[float, float]) -> np.ndarray:
    w, h = page_size
    page = np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(page, homography).reshape(-1, 2)


def _scale(quad: np.ndarray, page_size: tuple[float, float]) -> float:
    """Pixels per millimetre: the square root of the mapped page area over the true area."""
    area = abs(cv2.contourArea(quad.astype(np.float32)))
    return math.sqrt(area / (page_size[0] * page_size[1]))


def _orientation(quad: np.ndarray) -> tuple[bool, float]:
    """Whether the page's top is at the image bottom, and the remaining tilt in degrees."""
    tl, tr, _br, _bl = quad
    dx, dy = tr - tl
    angle = math.degrees(math.atan2(dy, dx))
    upside_down = abs(angle) > 90.0
    tilt = angle - math.copysign(180.0, angle) if upside_down else angle
    return upside_down, tilt


def _shape_error(quad: np.ndarray, page_size: tuple[float, float], px_per_mm: float) -> float:
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1) / px_per_mm
    w, h = page_size
    expected = np.array([w, h, w, h])
    return float(np.max(np.abs(sides / expected - 1.0)))
