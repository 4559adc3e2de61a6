"""Is this scan sharp and clean enough for the mark thresholds to mean what they say?

The thresholds were calibrated on scans inside the envelope (docs/reader.md).  A scan
far blurrier spreads each box outline into its interior, and a far noisier one lifts
blank paper over the ink level; both turn blank boxes into marks.  So before any target
is judged, two properties are measured on printed features the page always has, and a
page beyond either limit is refused as outside the envelope instead of misread:

- **blur**: the width of the black/white edges between style-code cells (the 25–75 %
  rise of a Gaussian edge is 1.349 σ);
- **noise**: the spread of the blank paper rings around the targets, relative to the
  paper-to-ink contrast (measured with the target scores,
  :attr:`~ballot_reader.targets.TargetScores.noise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ballot_reader.sampling import sample
from election.layout import Rect

MAX_BLUR_MM = 0.27
"""The envelope's blur reaches σ = 0.2 mm; measured values stay under 0.24 mm there."""
MAX_NOISE = 0.04
"""Paper noise (robust σ) over the paper-to-ink contrast; the envelope measures under
0.025.  Smoothed 3×3 for scoring, noise at this limit is a third of
:data:`~ballot_reader.thresholds.INK_LEVEL`, so blank paper does not read as ink."""
_EDGE_STEP_MM = 0.04
_EDGE_HALF_MM = 1.0


@dataclass(frozen=True, slots=True)
class ScanQuality:
    blur_mm: float
    noise: float

    def problem(self) -> str | None:
        """Why the scan is outside the envelope, or None."""
        if not np.isfinite(self.blur_mm) or self.blur_mm > MAX_BLUR_MM:
            return f"scan too blurred (edge σ {self.blur_mm:.2f} mm, limit {MAX_BLUR_MM} mm)"
        if self.noise > MAX_NOISE:
            return f"scan too noisy (paper noise {self.noise:.3f} of contrast, limit {MAX_NOISE})"
        return None


def blur_mm(
    image: np.ndarray,
    homography: np.ndarray,
    cells: Sequence[Rect],
    bits: Sequence[int],
    black: float,
    white: float,
) -> float:
    """Median edge σ in mm across the strip's black/white cell boundaries."""
    offsets = np.arange(-_EDGE_HALF_MM, _EDGE_HALF_MM + 1e-9, _EDGE_STEP_MM)
    edges = [i for i in range(len(cells) - 1) if bits[i] != bits[i + 1]]
    if not edges:
        return float("nan")
    lines = np.empty((len(edges), len(offsets), 2))
    lines[..., 0] = np.array([cells[i].x1 for i in edges])[:, None] + offsets
    lines[..., 1] = np.array([cells[i].cy for i in edges])[:, None]
    level = (sample(image, homography, lines) - black) / max(white - black, 1.0)
    dark_first = np.array([bits[i] for i in edges], bool)
    level = np.where(dark_first[:, None], level, 1.0 - level)
    return float(np.nanmedian(_rises(level, offsets))) / 1.349


def _rises(profiles: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per dark-to-light edge profile (one per row), the distance between its first 25 %
    and first 75 % crossings, each interpolated between samples; NaN where a profile
    starts above a level or never reaches it."""
    rows = np.arange(len(profiles))
    crossings = []
    for level in (0.25, 0.75):
        above = profiles >= level
        first = above.argmax(axis=1)
        found = above[rows, first] & (first > 0)
        i = np.maximum(first, 1)
        a, b = profiles[rows, i - 1], profiles[rows, i]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = offsets[i - 1] + (level - a) / (b - a) * (offsets[i] - offsets[i - 1])
        crossings.append(np.where(found, x, np.nan))
    return crossings[1] - crossings[0]
