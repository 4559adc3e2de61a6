"""`make demo`: the spine on the embedded defaults, ending with results and where to look.

Election night end to end (harness/election_night.py), then the printed results as the
server published them, a few sample ballots to look at, and the report files.  The
server keeps serving until the caller stops it, so the website can be browsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import election_night, reports

Echo = Callable[[str], None]


@dataclass
class DemoRun:
    """The night's run plus the files the demo wrote for people to read."""

    night: election_night.NightRun
    files: dict[str, Path] = field(default_factory=dict)


def run(options: election_night.NightOptions, echo: Echo = print) -> DemoRun:
    night = election_night.run(options, echo)
    results = night.server.service.snapshot.results
    out = options.out
    reports.sample_ballots(night.election, night.truth, options.seed, out / "ballots")
    seats_txt, results_json = reports.write_reports(night.election, results, out)
    files = {
        "election definition": out / "election.json",
        "unit reports (tape text + JSON)": out / "units",
        "sample ballots (PDF, marked and scanned PNG)": out / "ballots",
        "seats report": seats_txt,
        "results (JSON)": results_json,
        "server database": night.db,
    }
    return DemoRun(night, files)


def closing_text(demo: DemoRun) -> str:
    """Results, the verdict of the ground-truth check, and where to look."""
    night = demo.night
    results = night.server.service.snapshot.results
    lines = ["", reports.seats_text(night.election, results), ""]
    if night.mismatches:
        lines += ["SPINE CHECK FAILED: the server's totals differ from the ground truth:"]
        lines += [f"  {m}" for m in night.mismatches]
    else:
        ballots = sum(u.ballots for u in night.units)
        lines.append(
            f"Spine check passed: {ballots:,} ballots through {len(night.units)} units, modems "
            "and the server; every published total equals the ground truth."
        )
    places = {"website": f"{night.url}/", **demo.files}
    width = max(len(k) for k in places)
    lines += ["", "Where to look:"]
    lines += [f"  {name:<{width}}  {path}" for name, path in places.items()]
    return "\n".join(lines)
