"""Inline SVG charts, drawn on the server so the page needs no script and no fetch.

Text is escaped; numbers are formatted here, so the picture and the table beside it
come from the same dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any


def share_bars(
    rows: Sequence[dict[str, Any]], threshold_pct: float, threshold_label: str, width: int = 720
) -> str:
    """Horizontal bars of ``share_pct`` with a dashed line at the threshold."""
    label_w, bar_h, gap, top = 210, 18, 6, 22
    plot_w = width - label_w - 70
    scale_max = max(20.0, threshold_pct * 2, *(r["share_pct"] for r in rows)) if rows else 20.0
    height = top + len(rows) * (bar_h + gap) + 10

    def x(p: float) -> float:
        return label_w + plot_w * p / scale_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(threshold_label)}" class="chart">'
    ]
    for tick in range(0, int(scale_max) + 1, 5):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{height - 8}" '
            f'stroke="#e3e6ea" stroke-width="1"/>'
            f'<text x="{x(tick):.1f}" y="{top - 8}" font-size="10" fill="#6b7280" '
            f'text-anchor="middle">{tick}%</text>'
        )
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(0.0, x(r["share_pct"]) - label_w)
        name = escape(r["name"] if len(r["name"]) <= 30 else r["name"][:29] + "…")
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 13}" font-size="12" text-anchor="end" '
            f'fill="#1f2937">{name}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2" '
            f'fill="{escape(r["color"])}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 13}" font-size="12" '
            f'fill="#111827">{r["share_pct"]:.2f}%</text>'
        )
    tx = x(threshold_pct)
    parts.append(
        f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height - 8}" stroke="#b91c1c" '
        f'stroke-width="2" stroke-dasharray="6 4"/>'
        f'<text x="{tx + 4:.1f}" y="{height - 10}" font-size="11" fill="#b91c1c">'
        f"{escape(threshold_label)} {threshold_pct:g}%</text></svg>"
    )
    return "".join(parts)


def seat_bar(segments: Sequence[tuple[str, str, int]], total: int, width: int = 720) -> str:
    """One bar of ``total`` seats split by (label, colour, seats); unallocated stays grey."""
    height, x = 34, 0.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="seats" class="chart">'
    ]
    for label, color, seats in segments:
        if seats <= 0:
            continue
        w = width * seats / total if total else 0
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{escape(color)}">'
            f"<title>{escape(label)}: {seats}</title></rect>"
        )
        if w > 18:
            parts.append(
                f'<text x="{x + w / 2:.1f}" y="22" font-size="13" fill="#fff" '
                f'text-anchor="middle" font-weight="bold">{seats}</text>'
            )
        x += w
    if x < width:
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{width - x:.1f}" height="{height}" fill="#e5e7eb"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
