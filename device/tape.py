"""Thermal-printer tape: the report as 40-column text, and as an image with its QR code.

The text is what the unit's printer prints, line for line, so a technician can compare
a tape with ``pcos device report``.  The signed block is printed twice: as a QR code
(only on the image) and as base64 lines (in the text), so an observer can verify a
photo or a transcription alike.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from device.reports import Report
from device.signing import qr_image
from election.model import AGAINST_ALL, PR_CONTEST_ID, Election, district_of_contest

WIDTH = 40
TITLES = {"zero": "ZERO REPORT", "final": "FINAL REPORT"}


def _pair(left: str, right: object, width: int = WIDTH) -> str:
    right = f"{right:,}" if isinstance(right, int) else str(right)
    room = width - len(right) - 1
    return f"{left[:room]:<{room}} {right}"


def _hex(label: str, value: str) -> list[str]:
    return [
        f"{label}:",
        *textwrap.wrap(value, WIDTH - 2, initial_indent="  ", subsequent_indent="  "),
    ]


def option_name(election: Election, contest: str, option: str) -> str:
    if option == AGAINST_ALL:
        return "Against all"
    if contest == PR_CONTEST_ID:
        return election.party(option).name
    candidates = election.candidates_in(district_of_contest(contest))
    return next(c.name for c in candidates if c.id == option)


def render(report: Report, election: Election) -> str:
    """The tape text, every line at most 40 characters."""
    b = report.body
    rule, dash = "=" * WIDTH, "-" * WIDTH
    lines = [
        rule,
        TITLES[b["kind"]].center(WIDTH).rstrip(),
        "PCOS precinct scanner".center(WIDTH).rstrip(),
    ]
    lines += textwrap.wrap(b["election"]["name"], WIDTH)
    lines += [
        rule,
        _pair("Unit", b["unit"]["id"]),
        _pair("DEC", str(b["unit"]["dec"])),
        _pair("Report no.", b["sequence"]),
        _pair("Policy", b["rules"]["invalid_ballot_policy"]),
        _pair("Polls opened", b["polls_opened_at"] or "-"),
        _pair("Polls closed", b["polls_closed_at"] or "-"),
        _pair("Printed", b["printed_at"]),
        *_hex("Election fingerprint", b["election"]["fingerprint"]),
    ]
    for contest, counts in b["counts"].items():
        lines += [dash, _pair(f"{contest} ballots", counts["ballots"])]
        for option, n in _ballot_order(election, contest, counts["votes"]):
            name = option_name(election, contest, option)
            lines.append(_pair(f" {name}" if option == AGAINST_ALL else f" {option} {name}", n))
        lines += [
            _pair(" blank (invalid)", counts["blank"]),
            _pair(" overvote (invalid)", counts["overvote"]),
        ]
        for party, positions in counts["preferences"].items():
            lines.append(f" {party} preferences:")
            cells = [f"#{pos} {n}" for pos, n in positions.items()]
            lines += textwrap.wrap(
                ", ".join(cells), WIDTH - 3, initial_indent="   ", subsequent_indent="   "
            )
    s = b["ballots"]
    lines += [
        dash,
        _pair("Accepted ballots", s["accepted"]),
        _pair("Cast after warning", s["cast_after_warning"]),
        _pair("Marginal marks", s["marginal_marks"]),
        _pair(" on ballots", s["marginal_ballots"]),
    ]
    lines += [_pair(f"Returned: {reason}", n) for reason, n in s["returned"].items()]
    for item in b["imported"]:
        lines += [_pair("Imported from unit", item["unit"]), _pair(" ballots", item["ballots"])]
        lines += _hex(" its journal sha256", item["sha256"])
    lines += [dash, _pair("Journal records", b["journal"]["records"])]
    lines += _hex("Journal sha256", b["journal"]["sha256"])
    lines += [_pair("Audit log head", b["audit_head"]["seq"])]
    lines += _hex("Audit head sha256", b["audit_head"]["sha256"])
    lines += _hex("Unit key", b["unit"]["key"])
    for warning in b["clock_warnings"]:
        lines += textwrap.wrap(f"CLOCK: {warning}", WIDTH)
    lines += _hex("Report digest", report.digest)
    lines += [dash, *report.base64_block(WIDTH), dash, "Commission members:", ""]
    lines += ["_" * WIDTH, ""] * 3
    return "\n".join(lines) + "\n"


def _ballot_order(
    election: Election, contest: str, votes: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    return [(option, votes[option]) for option in election.options(contest) if option in votes]


def image(report: Report, election: Election, module_px: int = 4) -> np.ndarray:
    """The printed tape as a grayscale image: the text, then the QR code below it."""
    from PIL import Image, ImageDraw, ImageFont

    from fixtures.fonts import font_path

    size = 16
    font = ImageFont.truetype(str(font_path().with_name("DejaVuSansMono.ttf")), size)
    text = render(report, election).splitlines()
    qr = qr_image(report.qr, module_px)
    width = max(qr.shape[1], int(WIDTH * size * 0.62) + 20)
    height = len(text) * (size + 4) + qr.shape[0] + 40
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(text):
        draw.text((10, 10 + i * (size + 4)), line, fill=0, font=font)
    canvas = np.array(page)
    top = 20 + len(text) * (size + 4)
    left = (width - qr.shape[1]) // 2
    canvas[top : top + qr.shape[0], left : left + qr.shape[1]] = qr
    return canvas


def save(report: Report, election: Election, folder: Path) -> tuple[Path, Path]:
    """Print a report to files, as the unit's printer would on paper: ``KIND.txt`` (the
    tape) and ``KIND.json`` (what the unit transmits and the website shows)."""
    kind = report.body["kind"]
    tape_path, json_path = folder / f"{kind}.txt", folder / f"{kind}.json"
    tape_path.write_text(render(report, election), encoding="utf-8")
    text = json.dumps(report.to_json(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    json_path.write_text(text, encoding="utf-8")
    return tape_path, json_path
