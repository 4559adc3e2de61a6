"""Calibration sweep: reader scores and states by mark kind × size × darkness × scan profile.

The measured curves behind the thresholds in ``ballot_reader/thresholds.py``: every page
of the sweep carries one condition on every fourth of the 76 targets of the national PR
ballot, so each condition is measured on 19 × ``--pages`` targets; the blank condition
(fill 0) measures every target.  Writes JSON (machine, commit, one
row per condition with score quantiles and state shares) to stdout and ``--out``.

    .venv/bin/python bench/marks.py [--pages 8] [--dpi 200] [--out var/bench/marks.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from election.layout import layout_for
from election.model import BallotKind, BallotStyle
from fixtures.marks import MarkSpec
from fixtures.render import render
from fixtures.scan import scan
from fixtures.scenario import build
from harness import provenance

KINDS = ("fill", "partial", "faint", "check", "cross", "circle", "erased")
FILLS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
DARKNESS = (0.15, 0.3, 0.5, 0.9)
PROFILES = ("clean", "typical", "envelope")
SPREAD = 4
"""Each page marks every fourth target (a real ballot never has all 76 marked), so four
pages measure the condition once on every target."""


def _condition(args: tuple) -> dict:
    import cv2

    from ballot_reader.interpret import reader_for

    cv2.setNumThreads(1)
    index, (kind, fill, darkness, profile, dpi, pages) = args
    election = build("kg2021", "national", 0)
    reader = reader_for(election)
    layout = layout_for(election, BallotStyle(BallotKind.PR, "ky"), dec=101)
    scores, states, strengths, unreadable = [], [], [], 0
    for page_no in range(pages):
        seed = index * 1000 + page_no
        rng = np.random.default_rng(seed)
        chosen = layout.targets[page_no % SPREAD :: SPREAD] if fill else layout.targets
        marks = [MarkSpec(kind, t.id, fill, darkness) for t in chosen] if fill else []
        image = scan(render(layout, "ky", dpi, marks, seed=seed), dpi, profile, rng).image
        page = reader.read(image, dpi_hint=dpi)
        reading = page.interpretation
        if not reading.readable:
            unreadable += 1
            continue
        ids = {t.id for t in chosen}
        picked = [i for i, t in enumerate(reading.targets) if t.target in ids]
        scores += [reading.targets[i].score for i in picked]
        states += [reading.targets[i].state.value for i in picked]
        strengths += [float(page.evidence.scores.strength[i]) for i in picked]
    s = np.array(scores) if scores else np.zeros(1)
    k = np.array(strengths) if strengths else np.zeros(1)
    return {
        "kind": kind,
        "fill": fill,
        "darkness": darkness,
        "profile": profile,
        "targets": len(states),
        "unreadable_pages": unreadable,
        "score": {
            q: round(float(np.percentile(s, p)), 4)
            for q, p in (("min", 0), ("p5", 5), ("median", 50), ("p95", 95), ("max", 100))
        },
        "strength": {
            q: round(float(np.percentile(k, p)), 4)
            for q, p in (("min", 0), ("p5", 5), ("median", 50), ("p95", 95), ("max", 100))
        },
        "states": {name: states.count(name) for name in ("marked", "marginal", "unmarked")},
    }


def run(pages: int, dpi: int, workers: int) -> dict:
    conditions = [
        (kind, fill, darkness, profile, dpi, pages)
        for kind, fill, darkness, profile in itertools.product(KINDS, FILLS, DARKNESS, PROFILES)
        if not (fill == 0.0 and (kind, darkness) != ("fill", 0.9))
    ]
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(_condition, enumerate(conditions), chunksize=4))
    return {
        "benchmark": "marks",
        "what": "reader scores per mark condition, national PR ballot, all targets marked alike",
        "machine": provenance.machine(),
        "commit": provenance.commit(),
        "dpi": dpi,
        "pages_per_condition": pages,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("var/bench/marks.json"))
    args = parser.parse_args(argv)
    report = run(args.pages, args.dpi, args.workers)
    text = json.dumps(report, indent=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
