"""Calibration sweep: reader scores, form measures and states by mark kind × size × darkness.

The measured data behind the thresholds in ``ballot_reader/thresholds.py``, in two parts.

**Curves.**  Every page of the sweep carries one condition (mark kind × size × darkness ×
scan profile) on every fourth of the 76 targets of the national PR ballot, so each
condition is measured on 19 × ``--pages`` targets; the blank condition (fill 0) measures
every target.  Per condition: score and tone quantiles, the form measures of its strong
marks, and the states.

**Margins.**  ``--population-pages`` pages, spread evenly over 150, 200 and 300 dpi and
the clean, typical and envelope profiles, carry random marks of the acceptance test's
populations: *clear* marks (fill, partial, pencil, check, cross; size ≥ 0.5, darkness
≥ 0.6, pencil 0.7), *marginal* marks (fill, partial, pencil covering 10–30 % of the box,
darkness 0.15–0.9; pencil as light as an erasure, darkness 0.1–0.2, over half the box or
more), *erasures*, and blank targets.  For each threshold, the extreme values of its
measure on each side, and the states of each population: what a threshold must separate
and by how much.

**Edge.**  ``--edge-pages`` envelope pages carry only the marks where a filled area and a
dab meet (clear fills and pencil fills of size exactly 0.5; dabs of exactly 30 % at
darkness 0.6–0.9) and report, for values of ``COVERED`` around the chosen one, how many
fills each would miss and how many dabs it would count.

Writes JSON (machine, commit, ``curves``, ``margins`` and ``edge``) to stdout and ``--out``.

    .venv/bin/python bench/marks.py [--pages 8] [--dpi 200] [--population-pages 540]
        [--edge-pages 0] [--workers 2] [--out var/bench/marks.json]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from election.layout import layout_for
from election.model import BallotKind, BallotStyle
from fixtures.marks import CLEAR_DARKNESS, CLEAR_KINDS, MarkSpec
from fixtures.render import render
from fixtures.scan import scan
from fixtures.scenario import build
from harness import provenance

KINDS = ("fill", "partial", "faint", "check", "cross", "circle", "erased")
FILLS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
DARKNESS = (0.15, 0.3, 0.5, 0.9)
PROFILES = ("clean", "typical", "envelope")
DPIS = (150, 200, 300)
SPREAD = 4
"""Each page marks every fourth target (a real ballot never has all 76 marked), so four
pages measure the condition once on every target."""
FORM_MEASURES = ("body", "cover", "side", "compact", "span")
QUANTILES = (("min", 0), ("p5", 5), ("median", 50), ("p95", 95), ("max", 100))


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    v = np.asarray(values, np.float64)
    return {q: round(float(np.percentile(v, p)), 4) for q, p in QUANTILES}


def _read(reader, layout, marks, dpi: int, profile: str, seed: int):
    rng = np.random.default_rng(seed)
    image = scan(render(layout, "ky", dpi, marks, seed=seed), dpi, profile, rng).image
    return reader.read(image, dpi_hint=dpi)


def _measures(page, i: int) -> dict[str, float]:
    scores = page.evidence.scores
    out = {k: float(getattr(scores, k)[i]) for k in ("score", "tone", "peak", "strength")}
    out.update({k: float(getattr(scores, k)[i]) for k in FORM_MEASURES})
    out["form"] = int(scores.form[i])
    out["state"] = page.interpretation.targets[i].state.value
    return out


def _setup():
    import cv2

    from ballot_reader.interpret import reader_for

    cv2.setNumThreads(1)
    election = build("kg2021", "national", 0)
    layout = layout_for(election, BallotStyle(BallotKind.PR, "ky"), dec=101)
    return reader_for(election), layout


# Curves --------------------------------------------------------------------------------------


def _condition(args: tuple) -> dict:
    index, (kind, fill, darkness, profile, dpi, pages) = args
    reader, layout = _setup()
    rows, unreadable = [], 0
    for page_no in range(pages):
        seed = index * 1000 + page_no
        chosen = layout.targets[page_no % SPREAD :: SPREAD] if fill else layout.targets
        marks = [MarkSpec(kind, t.id, fill, darkness) for t in chosen] if fill else []
        page = _read(reader, layout, marks, dpi, profile, seed)
        if not page.interpretation.readable:
            unreadable += 1
            continue
        ids = {t.id for t in chosen}
        rows += [_measures(page, i) for i, t in enumerate(layout.targets) if t.id in ids]
    measured = [r for r in rows if r["body"] > 0]
    states = Counter(r["state"] for r in rows)
    return {
        "kind": kind,
        "fill": fill,
        "darkness": darkness,
        "profile": profile,
        "dpi": dpi,
        "targets": len(rows),
        "unreadable_pages": unreadable,
        "score": _quantiles([r["score"] for r in rows]),
        "tone": _quantiles([r["tone"] for r in rows]),
        "form_measured": len(measured),
        "peak": _quantiles([r["peak"] for r in measured]),
        "form": {k: _quantiles([r[k] for r in measured]) for k in FORM_MEASURES},
        "forms": {
            "filled": sum(r["form"] == 1 for r in measured),
            "line": sum(r["form"] == 2 for r in measured),
            "none": sum(r["form"] == 0 for r in measured),
        },
        "states": {name: states[name] for name in ("marked", "marginal", "unmarked")},
    }


def curves(pages: int, dpi: int, workers: int) -> list[dict]:
    conditions = [
        (kind, fill, darkness, profile, dpi, pages)
        for kind, fill, darkness, profile in itertools.product(KINDS, FILLS, DARKNESS, PROFILES)
        if not (fill == 0.0 and (kind, darkness) != ("fill", 0.9))
    ]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_condition, enumerate(conditions), chunksize=4))


# Margins -------------------------------------------------------------------------------------


def _population_mark(rng: np.random.Generator, target_id: str) -> tuple[str, MarkSpec]:
    """One random mark of the acceptance test's populations, with its population name.

    A third of them sit on the populations' edges (the smallest and lightest clear mark,
    the largest and darkest marginal one), where a property test looks first."""
    u, edge = rng.random(), rng.random() < 1 / 3
    if u < 0.45:
        kind = str(rng.choice(CLEAR_KINDS))
        size = 0.5 if edge else float(rng.uniform(0.5, 1.0))
        lightest = CLEAR_DARKNESS[kind]
        darkness = lightest if edge else float(rng.uniform(lightest, 1.0))
        return f"clear {kind}", MarkSpec(kind, target_id, size, darkness)
    if u < 0.6:
        size = float(rng.uniform(0.5, 1.0))
        darkness = 0.2 if edge else float(rng.uniform(0.1, 0.2))
        return "marginal pencil", MarkSpec("faint", target_id, size, darkness)
    if u < 0.9:
        kind = str(rng.choice(("fill", "partial", "faint")))
        fill = 0.3 if edge else float(rng.uniform(0.1, 0.3))
        darkness = 0.9 if edge else float(rng.uniform(0.15, 0.9))
        return f"marginal {kind}", MarkSpec(kind, target_id, fill, darkness)
    return "erased", MarkSpec("erased", target_id, float(rng.uniform(0.2, 1.0)), 0.9)


def _edge_mark(rng: np.random.Generator, target_id: str) -> tuple[str, MarkSpec]:
    """One mark where filled areas and dabs meet: a clear fill or pencil fill of size
    exactly 0.5, or a dab of exactly 30 % as dark as the marginal population allows."""
    kind = str(rng.choice(("fill", "faint")))
    if rng.random() < 0.5:
        darkness = float(rng.uniform(CLEAR_DARKNESS[kind], 1.0))
        return f"clear {kind}", MarkSpec(kind, target_id, 0.5, darkness)
    return f"marginal {kind}", MarkSpec(kind, target_id, 0.3, float(rng.uniform(0.6, 0.9)))


POPULATIONS = {"acceptance": _population_mark, "edge": _edge_mark}


def _population_page(args: tuple[int, str, int, str]) -> list[dict]:
    seed, profile, dpi, population = args
    reader, layout = _setup()
    rng = np.random.default_rng(seed)
    chosen = layout.targets[int(rng.integers(SPREAD)) :: SPREAD]
    drawn = {t.id: POPULATIONS[population](rng, t.id) for t in chosen}
    page = _read(reader, layout, [spec for _, spec in drawn.values()], dpi, profile, seed)
    if not page.interpretation.readable:
        return [{"population": "unreadable page", "reason": page.interpretation.reason.value}]
    rows = []
    for i, t in enumerate(layout.targets):
        name, spec = drawn.get(t.id, ("blank", None))
        row = {"population": name, "dpi": dpi, "profile": profile, **_measures(page, i)}
        if spec is not None:
            row.update(kind=spec.kind.value, fill=spec.fill, darkness=spec.darkness)
        rows.append(row)
    return rows


def _extreme(rows: list[dict], key: str, high: bool) -> dict | None:
    if not rows:
        return None
    row = (max if high else min)(rows, key=lambda r: r[key])
    where = {k: row[k] for k in ("population", "dpi", "profile", "fill", "darkness") if k in row}
    return {"value": round(row[key], 4), "count": len(rows), "at": where}


def margins(pages: int, workers: int, seed: int = 1) -> dict:
    """The margins table: per threshold, the extreme measure on each side."""
    from ballot_reader import thresholds as th

    rows = _pages(pages, PROFILES, "acceptance", seed, workers)
    refused = Counter(r["reason"] for r in rows if r["population"] == "unreadable page")
    rows = [r for r in rows if r["population"] != "unreadable page"]

    def pop(prefix: str, *kinds: str) -> list[dict]:
        return [
            r
            for r in rows
            if r["population"].startswith(prefix) and (not kinds or r.get("kind") in kinds)
        ]

    def strong(rs: list[dict]) -> list[dict]:
        """Measured and dark enough to count, if its form were a mark's."""
        return [r for r in rs if r["body"] > 0 and r["peak"] >= th.STRONG]

    def pop_dabs(rs: list[dict]) -> list[dict]:
        """Ink that reaches no whole side: what only COVERED can count."""
        return [r for r in rs if r["side"] < th.SIDE]

    clear_line = [r for r in pop("clear", "check", "cross") if r["body"] > 0]
    blobs = strong(pop("marginal ", "fill", "partial", "faint"))
    light = pop("marginal pencil") + pop("erased")
    anchored = [r for r in blobs if r["side"] >= th.SIDE]
    wide = [r for r in blobs if r["span"] >= th.SPAN]
    table = {
        "STRONG": {
            "threshold": th.STRONG,
            "clear_lowest_peak": _extreme(pop("clear"), "peak", False),
            "erasure_or_light_pencil_highest_peak": _extreme(light, "peak", True),
        },
        "COVERED": {
            "threshold": th.COVERED,
            "clear_fill_lowest_cover": _extreme(pop("clear", "fill", "faint"), "cover", False),
            "marginal_dab_highest_cover": _extreme(pop_dabs(blobs), "cover", True),
        },
        "FILLED": {
            "threshold": th.FILLED,
            "side": th.SIDE,
            "clear_partial_lowest_cover": _extreme(pop("clear", "partial"), "cover", False),
            "clear_partial_lowest_side": _extreme(pop("clear", "partial"), "side", False),
            "marginal_reaching_a_side_highest_cover": _extreme(anchored, "cover", True),
        },
        "SOLID": {
            "threshold": th.SOLID,
            "line_highest_compact": _extreme(clear_line, "compact", True),
            "marginal_wider_than_SPAN_lowest_compact": _extreme(wide, "compact", False),
        },
        "SPAN": {
            "threshold": th.SPAN,
            "line_lowest_span": _extreme(clear_line, "span", False),
        },
        "MARGINAL": {
            "threshold": th.MARGINAL,
            "blank_highest_score": _extreme(pop("blank"), "score", True),
        },
    }
    states: dict[str, dict[str, int]] = {}
    for r in rows:
        states.setdefault(r["population"], Counter())[r["state"]] += 1
    shares = {}
    for name in ("marginal ", "clear"):
        counts = Counter()
        for r in pop(name):
            counts[r["state"]] += 1
        total = sum(counts.values())
        shares[name.strip()] = {k: round(counts[k] / total, 4) for k in sorted(counts)}
    return {
        "pages": pages,
        "pages_refused": dict(refused),
        "targets": len(rows),
        "thresholds": table,
        "states": {k: dict(sorted(v.items())) for k, v in sorted(states.items())},
        "shares": shares,
    }


def _pages(pages: int, profiles: tuple[str, ...], population: str, seed: int, workers: int):
    """Rows of ``pages`` seeded population pages spread over the profiles and DPIS."""
    jobs = [
        (seed * 1_000_000 + n, profiles[n // 3 % len(profiles)], DPIS[n % 3], population)
        for n in range(pages)
    ]
    with ProcessPoolExecutor(workers) as pool:
        return [r for page in pool.map(_population_page, jobs, chunksize=4) for r in page]


def edge(pages: int, workers: int, seed: int = 2) -> dict:
    """Where filled areas and dabs meet (envelope scans): for each candidate value of
    COVERED, the clear fills it would miss and the dabs it would count, and the states
    the reader gives them."""
    from ballot_reader import thresholds as th

    rows = [r for r in _pages(pages, ("envelope",), "edge", seed, workers) if "kind" in r]
    rows = [r for r in rows if r["peak"] >= th.STRONG]
    clear = [r for r in rows if r["population"].startswith("clear")]
    dabs = [r for r in rows if r["population"].startswith("marginal")]
    candidates = [round(th.COVERED + d, 2) for d in (-0.04, -0.02, -0.01, 0, 0.01, 0.02, 0.04)]
    return {
        "pages": pages,
        "clear_fills": len(clear),
        "dabs": len(dabs),
        "COVERED": th.COVERED,
        "candidates": [
            {
                "covered": c,
                "clear_fills_below": sum(r["cover"] < c for r in clear),
                "dabs_at_or_above": sum(r["cover"] >= c for r in dabs),
            }
            for c in candidates
        ],
        "clear_lowest_cover": _extreme(clear, "cover", False),
        "dab_highest_cover": _extreme(dabs, "cover", True),
        "states": {
            name: dict(Counter(r["state"] for r in rs))
            for name, rs in (("clear fills", clear), ("dabs", dabs))
        },
    }


def run(pages: int, dpi: int, population_pages: int, workers: int, edge_pages: int = 0) -> dict:
    report = {
        "benchmark": "marks",
        "what": "reader scores, form measures and states per mark condition, national PR "
        "ballot; margins of every threshold on the acceptance test's populations",
        "machine": provenance.machine(),
        "commit": provenance.commit(),
        "curves": {"dpi": dpi, "pages_per_condition": pages, "rows": []},
    }
    if population_pages:
        report["margins"] = margins(population_pages, workers)
    if edge_pages:
        report["edge"] = edge(edge_pages, workers)
    if pages:
        report["curves"]["rows"] = curves(pages, dpi, workers)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8, help="pages per curve condition")
    parser.add_argument("--dpi", type=int, default=200, help="dpi of the curves")
    parser.add_argument(
        "--population-pages", type=int, default=540, help="pages of the margins part"
    )
    parser.add_argument(
        "--edge-pages", type=int, default=0, help="pages of fills at 0.5 against dabs at 0.3"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("var/bench/marks.json"))
    args = parser.parse_args(argv)
    report = run(args.pages, args.dpi, args.population_pages, args.workers, args.edge_pages)
    provenance.emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
