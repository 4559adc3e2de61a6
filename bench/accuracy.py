"""Accuracy volume test: at least 1,549,703 target positions read with no error (VVSG 1.0).

Seeded pages of the national scenario (PR ballots with 76 targets, one SMD ballot in
eight) carry clear marks (fill, partial, pencil, check, cross; size ≥ 0.5, darkness ≥ 0.6,
pencil ≥ 0.7; each target marked with probability 0.1) and clear blanks, at 150, 200 and
300 dpi, in both languages, scanned through the ``envelope`` profile, one page in ten with
a corner fiducial covered.  A *misread* is a target read in the wrong state (marked as
blank or blank as marked); a *marginal* flag on a clear mark or blank is counted too (it
sends a good ballot back, which costs time but never a vote).  Pages refused as
unreadable are counted and their targets are not.  With zero misreads in n positions the
upper 95 % bound on the error rate is 1 − 0.05^(1/n) (Clopper–Pearson; ≈ 3/n, the rule
of three).  Writes JSON to stdout and ``--out``.

    .venv/bin/python bench/accuracy.py [--positions 1549703] [--workers 2]

Progress goes to stderr, one line per batch of 200 pages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from harness import provenance

VVSG_POSITIONS = 1_549_703
DPIS = (150, 200, 200, 300)
BATCH = 200


def _batch(first_page: int) -> dict:
    import cv2

    from ballot_reader.interpret import reader_for
    from ballot_reader.interpretation import TargetState
    from election.layout import layout_for
    from election.model import BallotKind, BallotStyle
    from fixtures.marks import clear_marks
    from fixtures.render import render
    from fixtures.scan import scan
    from fixtures.scenario import build

    cv2.setNumThreads(1)
    election = build("kg2021", "national", 0)
    reader = reader_for(election)
    dec = 101
    district = election.dec(dec).district
    out = {"pages": 0, "unreadable": {}, "positions": 0, "misreads": 0, "marginal": 0}
    out["examples"] = []
    for page_no in range(first_page, first_page + BATCH):
        rng = np.random.default_rng([20211128, page_no])
        # Language and resolution change once a batch, so the renderer's page cache holds.
        kind = BallotKind.SMD if page_no % 8 == 7 else BallotKind.PR
        language = ("ky", "ru")[(page_no // BATCH) % 2]
        style = BallotStyle(kind, language, district if kind is BallotKind.SMD else None)
        layout = layout_for(election, style, dec=dec, election_tag=reader.tag)
        marks = clear_marks(layout.targets, rng)
        dpi = DPIS[(page_no // (2 * BATCH)) % len(DPIS)]
        page = render(layout, language, dpi, marks, seed=page_no)
        if page_no % 10 == 3:
            page = page.copy()
            fid = layout.fiducials[int(rng.integers(4))]
            s, q = dpi / 25.4, fid.quiet
            page[round(q.y0 * s) : round(q.y1 * s), round(q.x0 * s) : round(q.x1 * s)] = 255
        image = scan(page, dpi, "envelope", rng).image
        reading = reader.read(image, dec=dec).interpretation
        out["pages"] += 1
        if not reading.readable:
            reason = reading.reason.value
            out["unreadable"][reason] = out["unreadable"].get(reason, 0) + 1
            continue
        chosen = {m.target for m in marks}
        for t in reading.targets:
            out["positions"] += 1
            truth = TargetState.MARKED if t.target in chosen else TargetState.UNMARKED
            if t.state is TargetState.MARGINAL:
                out["marginal"] += 1
            elif t.state is not truth:
                out["misreads"] += 1
                if len(out["examples"]) < 20:
                    out["examples"].append({"page": page_no, "target": t.target, "read": t.state})
    return out


def _merge(total: dict, part: dict) -> None:
    for key in ("pages", "positions", "misreads", "marginal"):
        total[key] += part[key]
    for reason, n in part["unreadable"].items():
        total["unreadable"][reason] = total["unreadable"].get(reason, 0) + n
    total["examples"] += part["examples"][: 20 - len(total["examples"])]


def upper_bound(errors: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper bound; closed form for zero errors."""
    if n <= 0:
        return 1.0
    if errors == 0:
        return 1.0 - (1.0 - confidence) ** (1.0 / n)
    # Bisection on the binomial tail, for the (hopefully unused) case of errors.
    from math import comb

    def tail(p: float) -> float:
        return sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(errors + 1))

    lo, hi = errors / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) > 1 - confidence else (lo, mid)
    return hi


def _progress(total: dict, positions: int, seconds: float) -> None:
    """One line per batch on stderr: a half-hour run should say how far it is."""
    refused = sum(total["unreadable"].values())
    print(
        f"accuracy: {total['positions']:,} of {positions:,} positions, "
        f"{total['misreads']} misreads, {total['marginal']} marginal, "
        f"{refused} of {total['pages']:,} pages refused, {seconds / 60:.1f} min",
        file=sys.stderr,
        flush=True,
    )


def run(positions: int, workers: int) -> dict:
    total = {"pages": 0, "unreadable": {}, "positions": 0, "misreads": 0, "marginal": 0}
    total["examples"] = []
    start = time.perf_counter()
    next_page = 0
    with ProcessPoolExecutor(workers) as pool:
        while total["positions"] < positions:
            # ~73 positions a page; schedule enough batches for what is still missing.
            missing = positions - total["positions"]
            batches = max(workers, -(-missing // (70 * BATCH)))
            firsts = [next_page + i * BATCH for i in range(batches)]
            next_page += batches * BATCH
            for part in pool.map(_batch, firsts):
                _merge(total, part)
                _progress(total, positions, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    n, errors = total["positions"], total["misreads"]
    return {
        "benchmark": "accuracy",
        "what": "VVSG 1.0 volume test: clear marks and blanks, envelope scans, 150/200/300 dpi",
        "command": f"python bench/accuracy.py --positions {positions} --workers {workers}",
        "machine": provenance.machine(),
        "commit": provenance.commit(),
        "required_positions": positions,
        "positions": n,
        "pages": total["pages"],
        "unreadable_pages": total["unreadable"],
        "misreads": errors,
        "marginal_flags": total["marginal"],
        "marginal_rate": round(total["marginal"] / max(n, 1), 8),
        "error_rate_upper_95": upper_bound(errors, n),
        "one_in": round(1 / upper_bound(errors, n)) if n else 0,
        "misread_examples": total["examples"],
        "seconds": round(seconds, 1),
        "passes": errors == 0 and n >= positions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=VVSG_POSITIONS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("var/bench/accuracy.json"))
    args = parser.parse_args(argv)
    report = run(args.positions, args.workers)
    text = json.dumps(report, indent=2, default=str)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if report["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())
