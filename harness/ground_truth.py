"""The ground-truth path: scenario → votes → tallies → seats, with no machine between.

What the election would give if every ballot were counted exactly as marked.  It is the
yardstick the spine (harness/election_night.py) is measured against, and at national
scale it shows the calibration: the generated country lands on the 2021 seat split.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from election import definition
from election.model import Election
from election.results import ElectionResults, compute
from election.rules import RuleSet
from fixtures import scenario, votes
from harness import reports

Echo = Callable[[str], None]


@dataclass
class GroundTruthRun:
    """What the run produced: the results and every file written."""

    election: Election
    results: ElectionResults
    files: list[Path] = field(default_factory=list)


class _Steps:
    """Numbered progress lines with timings, so a long run shows where it is."""

    def __init__(self, total: int, echo: Echo) -> None:
        self.total, self.echo, self.n = total, echo, 0

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        self.n += 1
        start = time.perf_counter()
        self.echo(f"[{self.n}/{self.total}] {what} …")
        yield
        self.echo(f"      done in {time.perf_counter() - start:.2f} s")


def run(scale: str, seed: int, out_dir: Path, echo: Echo = print) -> GroundTruthRun:
    """Build, mark, scan, count and allocate; write everything under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = _Steps(5, echo)
    with steps.step(f"building the kg2021 scenario at {scale} scale (seed {seed})"):
        election = scenario.build("kg2021", scale, seed=seed)
        files = [definition.save(election, out_dir / "election.json")]
    echo(reports.summary_text(election))

    with steps.step("generating every polling station's votes (ground truth)"):
        truth = votes.generate(election, seed=seed)
    echo(
        f"      {len(truth.decs):,} DECs, {truth.participants:,} participants "
        f"({truth.participants / sum(d.roll_pr for d in election.decs):.2%} of the roll)"
    )

    with steps.step("rendering, marking and scanning sample ballots"):
        files += reports.sample_ballots(election, truth, seed, out_dir / "ballots")
    echo(f"      {len(files) - 1} files in {out_dir / 'ballots'}")

    with steps.step("tallying and allocating seats"):
        results = compute(election, truth.decs.values(), RuleSet.named(election.rules))

    with steps.step("writing reports"):
        files += reports.write_reports(election, results, out_dir)
    return GroundTruthRun(election, results, files)
