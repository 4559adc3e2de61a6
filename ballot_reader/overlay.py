"""The debug overlay: what a technician looks at when a read is disputed.

Drawn on the scan itself (not a re-rendered page), so what is shown is exactly what was
sampled.  Legend (also in docs/reader.md):

- target outline: green = marked, orange = marginal, grey = unmarked; the score (inked
  share of the box, in %) is printed beside every marked or marginal target and every
  target scoring at least half the marginal threshold, with "ring N" when N % of the
  paper around the box is inked (a circled box);
- magenta quadrilaterals with their ids: the fiducials found; red cross: a corner
  fiducial expected but not found;
- cyan bands: sensor streaks masked out of the scores, red bands: streaks too wide (or
  too many) to mask;
- text band above the scan: the decoded style (contest, language, DEC), the verdict or
  the reason the page is unreadable, and the registration and scan-quality figures.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ballot_reader.interpret import PageReading
from ballot_reader.interpretation import TargetState
from ballot_reader.thresholds import MARGINAL, RING
from election.validity import Preference

COLOURS = {
    TargetState.MARKED: (40, 170, 40),
    TargetState.MARGINAL: (0, 140, 255),
    TargetState.UNMARKED: (150, 150, 150),
}
"""BGR colours of the target states."""
_FIDUCIAL = (200, 0, 200)
_MISSING = (0, 0, 230)
_STREAK_FIXED = (200, 200, 0)
_STREAK_BAD = (0, 0, 230)


def draw(reading: PageReading) -> np.ndarray:
    """The overlay as a BGR image: the scan with a text band above it."""
    ev = reading.evidence
    it = reading.interpretation
    canvas = cv2.cvtColor(ev.image, cv2.COLOR_GRAY2BGR)
    scale = max(1.0, min(canvas.shape[:2]) / 1000)
    thick = max(1, round(scale * 1.5))
    _streaks(canvas, reading)
    for s in ev.sightings:
        pts = np.round(s.corners).astype(np.int32)
        cv2.polylines(canvas, [pts], True, _FIDUCIAL, thick + 1, cv2.LINE_AA)
        cv2.putText(
            canvas,
            f"id {s.marker_id}",
            tuple(int(v) for v in pts[0] + (0, -6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5 * scale,
            _FIDUCIAL,
            thick,
            cv2.LINE_AA,
        )
    if ev.registration is not None and ev.layout is not None:
        _missing_fiducials(canvas, reading, thick)
    if ev.registration is not None and ev.layout is not None and it.targets:
        _targets(canvas, reading, scale, thick)
    return _banner(canvas, reading, scale)


def write(reading: PageReading, path: str | Path) -> Path:
    """Write the overlay as PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", draw(reading))
    if not ok:
        raise OSError(f"cannot encode overlay for {path}")
    path.write_bytes(data.tobytes())
    return path


def _targets(canvas: np.ndarray, reading: PageReading, scale: float, thick: int) -> None:
    reg, layout = reading.evidence.registration, reading.evidence.layout
    rings = reading.evidence.scores.ring
    for target, r, ring in zip(layout.targets, reading.interpretation.targets, rings, strict=True):
        box = target.box
        corners = np.array([(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1)])
        pts = np.round(reg.to_pixels(corners)).astype(np.int32)
        colour = COLOURS[r.state]
        width = thick if r.state is TargetState.UNMARKED else thick + 2
        cv2.polylines(canvas, [pts], True, colour, width, cv2.LINE_AA)
        if r.state is not TargetState.UNMARKED or r.score >= MARGINAL / 2:
            anchor = pts.max(axis=0) if not reg.upside_down else pts.min(axis=0)
            x = int(pts[:, 0].max()) + 4 if not reg.upside_down else int(pts[:, 0].min()) - 4
            cv2.putText(
                canvas,
                f"{100 * r.score:.0f}" + (f" ring {100 * ring:.0f}" if ring >= RING else ""),
                (x if not reg.upside_down else x - round(30 * scale), int(anchor[1])),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45 * scale,
                colour,
                thick,
                cv2.LINE_AA,
            )


def _missing_fiducials(canvas: np.ndarray, reading: PageReading, thick: int) -> None:
    ev = reading.evidence
    seen = {s.marker_id for s in ev.sightings}
    for f in ev.layout.fiducials:
        if f.marker_id not in seen:
            x, y = (int(v) for v in np.round(ev.registration.to_pixels(np.array([f.center])))[0])
            size = round(ev.registration.dpi / 25.4 * f.size / 2)
            cv2.line(canvas, (x - size, y - size), (x + size, y + size), _MISSING, thick + 1)
            cv2.line(canvas, (x - size, y + size), (x + size, y - size), _MISSING, thick + 1)


def _streaks(canvas: np.ndarray, reading: PageReading) -> None:
    for s in reading.evidence.streaks:
        colour = _STREAK_FIXED if s.maskable else _STREAK_BAD
        band = canvas[:, max(0, s.x0 - 2) : s.x1 + 2]
        band[...] = (0.5 * band + 0.5 * np.array(colour)).astype(np.uint8)


def _banner(canvas: np.ndarray, reading: PageReading, scale: float) -> np.ndarray:
    """The canvas with a dark text band added above it (never over the scan)."""
    lines = _banner_lines(reading)
    size = 0.6 * scale
    height = round(28 * scale)
    band = np.full((height * len(lines) + round(10 * scale), canvas.shape[1], 3), 30, np.uint8)
    for i, line in enumerate(lines):
        y = round(height * (i + 1))
        cv2.putText(
            band,
            line,
            (round(10 * scale), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            size,
            (255, 255, 255),
            max(1, round(scale)),
            cv2.LINE_AA,
        )
    return np.vstack([band, canvas])


def _banner_lines(reading: PageReading) -> list[str]:
    ev, it = reading.evidence, reading.interpretation
    lines = []
    if ev.strip is not None:
        c = ev.strip.code
        district = f" district {c.district}" if c.district else ""
        lines.append(
            f"style {c.kind}{district} lang {c.language} DEC {c.dec} tag {c.election_tag:04x}"
        )
    if it.readable:
        v = it.verdict
        verdict = _ascii(it.detail)[:80] if v is None else f"{v.kind} {v.option or ''}"
        if v is not None and v.preference is not Preference.NOT_APPLICABLE:
            verdict += ", " + v.preference.phrase(v.credited_position)
        marked = sorted(t.target for t in it.targets if t.state is TargetState.MARKED)
        lines.append(f"READ: {verdict}; marked {', '.join(marked) or 'none'}")
        if it.marginal:
            lines.append(f"MARGINAL: {', '.join(it.marginal)}")
    else:
        lines.append(f"UNREADABLE {it.reason}: {_ascii(it.detail)[:110]}")
    if ev.registration is not None:
        r = ev.registration
        flip = " upside-down" if r.upside_down else ""
        q = ev.quality
        extra = f" blur {q.blur_mm:.2f} mm noise {q.noise:.3f}" if q else ""
        lines.append(
            f"fiducials {list(r.markers)} residual {r.residual_mm:.3f} mm {r.dpi:.0f} dpi "
            f"tilt {r.tilt_deg:+.1f} deg{flip}{extra}"
        )
    return lines


def _ascii(text: str) -> str:
    """Hershey fonts draw ASCII only; replace the rest so the line stays legible."""
    return text.encode("ascii", "replace").decode("ascii")
