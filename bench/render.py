"""Benchmark: milliseconds per marked-and-scanned PR ballot at 200 dpi on one core.

The fixtures must never be what slows the reader's benchmarks, so the target is 15 ms
for a ballot marked by a typical voter and scanned through the ``typical`` profile.
Writes JSON (machine, commit, figures) to stdout and to ``--out``.

    .venv/bin/python bench/render.py [--iterations 300] [--out var/bench/render.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from election.ballots import MarkedBallot
from election.layout import layout_for
from election.model import BallotKind, BallotStyle
from fixtures.marks import marks_for, policy
from fixtures.render import render
from fixtures.scan import scan
from fixtures.scenario import build
from harness import provenance

TARGET_MS = 15.0
DPI = 200


def _time(step: Callable[[int], object], iterations: int) -> dict:
    for i in range(min(10, iterations)):
        step(i)
    samples = []
    for i in range(iterations):
        start = time.perf_counter()
        step(i)
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(float(np.median(samples)), 3),
        "p95_ms": round(float(np.percentile(samples, 95)), 3),
        "iterations": iterations,
    }


def run(iterations: int) -> dict:
    cv2.setNumThreads(1)
    election = build("kg2021", "national", 0)
    dec = next(d.number for d in election.decs if not d.abroad)
    layout = layout_for(election, BallotStyle(BallotKind.PR, "ky"), dec=dec)
    style = BallotStyle(BallotKind.PR, "ky")
    voter = policy("typical")
    rng = np.random.default_rng(2021)
    parties = [p.id for p in election.parties]
    ballots = [
        MarkedBallot(
            style,
            dec,
            frozenset({parties[rng.integers(len(parties))]}),
            frozenset({int(rng.integers(1, 55))}),
        )
        for _ in range(iterations)
    ]
    page = render(layout, "ky", DPI)

    def marked_and_scanned(profile: str) -> Callable[[int], object]:
        def step(i: int) -> object:
            r = np.random.default_rng(i)
            marked = render(layout, "ky", DPI, marks_for(ballots[i], layout, voter, r), seed=i)
            return scan(marked, DPI, profile, r)

        return step

    results = {
        "marked_and_scanned_typical": _time(marked_and_scanned("typical"), iterations),
        "blank_render": _time(lambda i: render(layout, "ky", DPI), iterations),
        "scan_typical": _time(
            lambda i: scan(page, DPI, "typical", np.random.default_rng(i)), iterations
        ),
        "marked_and_scanned_envelope": _time(marked_and_scanned("envelope"), iterations),
    }
    headline = results["marked_and_scanned_typical"]["median_ms"]
    return {
        "benchmark": "render",
        "what": "PR ballot (21 parties, 54 numbers), typical voter marks, scan profile, 200 dpi",
        "machine": provenance.machine(
            numpy=np.__version__, opencv=cv2.__version__, opencv_threads=cv2.getNumThreads()
        ),
        "commit": provenance.commit(),
        "dpi": DPI,
        "target_ms": TARGET_MS,
        "meets_target": headline <= TARGET_MS,
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("var/bench/render.json"))
    args = parser.parse_args(argv)
    report = run(args.iterations)
    provenance.emit(report, args.out)
    return 0 if report["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
