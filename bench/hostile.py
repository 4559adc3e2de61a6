"""Hostile scans: what the reader does with pages beyond its envelope (folds, torn corners,
8°, heavy blur, JPEG q 15, light streaks).  Nothing there need be read, but nothing may be
misread: a blank read as marked is the failure that matters.

Seeded pages of the national scenario (PR ballots, one SMD ballot in eight), clear marks
as in ``bench/accuracy.py`` (each target marked with probability 0.1), an equal share at
150, 200 and 300 dpi, scanned through the ``hostile`` profile.  Counts pages refused (by
reason) and read, blanks read marked, marks read blank, marginal flags, and pages with a
fold drawn (from the scan's ``applied`` list); every blank read marked is listed with the
fold's distance from the box, if the page had one.  ``without_fold_check`` gives the same
pages' counts with the fold detector's veto left out (``thresholds.states`` without
``fold``: the detector changes nothing else), so one run shows before and after.  JSON
to stdout and ``--out``.

    python bench/hostile.py [--pages 120] [--workers 2] [--seed 2026]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from harness import provenance

DPIS = (150, 200, 300)


def fold_offset_mm(fold: dict, x_mm: float, y_mm: float) -> float:
    """Vertical distance (mm) from page point (x, y) to the fold's centre line (the fold
    is drawn on the page, before the scan's geometry: y = y_mm + tan(tilt) · x)."""
    return y_mm - (fold["y_mm"] + math.tan(math.radians(fold["tilt_deg"])) * x_mm)


def _pages(args: tuple[int, list[int]]) -> dict:
    import cv2

    from ballot_reader.interpret import reader_for
    from ballot_reader.interpretation import TargetState
    from ballot_reader.thresholds import states
    from election.layout import layout_for
    from election.model import BallotKind, BallotStyle
    from fixtures.marks import clear_marks
    from fixtures.render import render
    from fixtures.scan import scan
    from fixtures.scenario import build

    seed, page_nos = args
    cv2.setNumThreads(1)
    election = build("kg2021", "national", 0)
    reader = reader_for(election)
    dec = 101
    district = election.dec(dec).district
    out = {
        "pages": 0,
        "read": 0,
        "refused": {},
        "folded_pages": 0,
        "folded_read": 0,
        "folded_refused": {},
        "blank_read_marked": 0,
        "mark_read_blank": 0,
        "marginal_flags": 0,
        "marginal_under_fold": 0,
        "without_fold_check": {"blank_read_marked": 0, "mark_read_blank": 0, "marginal_flags": 0},
        "examples": [],
    }
    for page_no in page_nos:
        rng = np.random.default_rng([seed, page_no])
        kind = BallotKind.SMD if page_no % 8 == 7 else BallotKind.PR
        language = ("ky", "ru")[page_no % 2]
        style = BallotStyle(kind, language, district if kind is BallotKind.SMD else None)
        layout = layout_for(election, style, dec=dec, election_tag=reader.tag)
        marks = clear_marks(layout.targets, rng)
        dpi = DPIS[page_no % len(DPIS)]
        page = render(layout, language, dpi, marks, seed=page_no)
        sc = scan(page, dpi, "hostile", rng)
        fold = next((rec for name, rec in sc.applied if name == "Fold"), None)
        page_reading = reader.read(sc.image, dec=dec, dpi_hint=dpi)
        reading = page_reading.interpretation
        out["pages"] += 1
        out["folded_pages"] += fold is not None
        if not reading.readable:
            reason = reading.reason.value
            out["refused"][reason] = out["refused"].get(reason, 0) + 1
            if fold is not None:
                out["folded_refused"][reason] = out["folded_refused"].get(reason, 0) + 1
            continue
        out["read"] += 1
        out["folded_read"] += fold is not None
        chosen = {m.target for m in marks}
        boxes = {t.id: t.box for t in layout.targets}
        scores = page_reading.evidence.scores
        unvetoed = states(scores.score, scores.strength, scores.ring)
        for t, state in zip(reading.targets, unvetoed, strict=True):
            truth = TargetState.MARKED if t.target in chosen else TargetState.UNMARKED
            if state is TargetState.MARGINAL:
                key = "marginal_flags"
            elif state is truth:
                continue
            else:
                key = "blank_read_marked" if truth is TargetState.UNMARKED else "mark_read_blank"
            out["without_fold_check"][key] += 1
        for t in reading.targets:
            box = boxes[t.target]
            off = None if fold is None else fold_offset_mm(fold, box.cx, box.cy)
            under = off is not None and abs(off) < (box.y1 - box.y0) / 2 + 2.0
            if t.state is TargetState.MARGINAL:
                out["marginal_flags"] += 1
                out["marginal_under_fold"] += under
                continue
            truth = TargetState.MARKED if t.target in chosen else TargetState.UNMARKED
            if t.state is truth:
                continue
            key = "blank_read_marked" if truth is TargetState.UNMARKED else "mark_read_blank"
            out[key] += 1
            out["examples"].append(
                {
                    "page": page_no,
                    "dpi": dpi,
                    "target": t.target,
                    "truth": truth.value,
                    "read": t.state.value,
                    "score": t.score,
                    "fold": fold,
                    "fold_offset_mm": None if off is None else round(off, 2),
                }
            )
    return out


def _merge(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            for k, n in value.items():
                total[key][k] = total[key].get(k, 0) + n
        else:
            total[key] += value


def run(pages: int, workers: int, seed: int) -> dict:
    start = time.perf_counter()
    chunks = [(seed, list(range(i, pages, workers * 4))) for i in range(workers * 4)]
    total: dict | None = None
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_pages, chunks):
            if total is None:
                total = part
            else:
                _merge(total, part)
    assert total is not None
    total["examples"].sort(key=lambda e: (e["page"], e["target"]))
    return {
        "benchmark": "hostile",
        "what": "hostile scans (folds, torn corners, 8°, blur 0.35 mm, JPEG q 15, light "
        "streaks), clear marks with probability 0.1, 150/200/300 dpi",
        "command": f"python bench/hostile.py --pages {pages} --workers {workers} --seed {seed}",
        "machine": provenance.machine(),
        "commit": provenance.commit(),
        **total,
        "seconds": round(time.perf_counter() - start, 1),
        "passes": total["blank_read_marked"] == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path("var/bench/hostile.json"))
    args = parser.parse_args(argv)
    report = run(args.pages, args.workers, args.seed)
    provenance.emit(report, args.out)
    return 0 if report["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())
