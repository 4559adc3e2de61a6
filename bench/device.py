"""Benchmark: PCOS unit throughput and journal commit latency.

Figures: ballots per second through the whole firmware path in intent mode (memory
only, real files with an fsync per ballot, and group commit) and in image mode (once
``ballot_reader.interpret`` exists; rendering is done before timing); journal commit
latency per record with fsync and with group commit.  Writes JSON (machine, commit,
figures) to stdout and to ``--out``.

    .venv/bin/python bench/device.py [--ballots 2000] [--out var/bench/device.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the package it measures: when run as a script its folder
# comes first on sys.path and would shadow ``device``.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import shutil
import tempfile
import time

import numpy as np

from device.clock import FakeClock
from device.hardware import ImageReader, generated, image_interpreter, image_sheets
from device.journal import Journal
from device.machine import Pcos, UnitConfig
from device.session import start
from device.signing import UnitKey
from device.storage import DirStorage, SimStorage
from election.rules import RuleSet
from fixtures.scenario import build
from harness import provenance

DEC = 2001
GROUP = 64


def _throughput(election, sheets, storage, group: int, reader=None) -> dict:
    config = UnitConfig(f"bench-{group}", DEC, ("PR",), group)
    unit = Pcos(
        config,
        election,
        storage,
        clock=FakeClock(tick=1),
        key=UnitKey.derived("bench"),
        reader=reader,
    )
    start(unit, _Session())
    began = time.perf_counter()
    for sheet in sheets:
        unit.insert(sheet)
    unit.journal.sync()
    seconds = time.perf_counter() - began
    return {
        "ballots": len(sheets),
        "seconds": round(seconds, 3),
        "ballots_per_s": round(len(sheets) / seconds, 1),
    }


class _Session:
    zero = None


def _latency(root: Path, records: int, group: int) -> dict:
    storage = DirStorage(root / f"latency-{group}")
    journal = Journal(storage, "journal.bin", group)
    journal.start(journal.read())
    record = {
        "t": "ballot",
        "n": 0,
        "c": "PR",
        "k": "vote",
        "o": "P01",
        "p": 1,
        "m": 0,
        "w": False,
        "s": "x" * 16,
    }
    samples = []
    for i in range(records):
        record["n"] = i + 1
        began = time.perf_counter()
        journal.append(record, commit=True)
        samples.append((time.perf_counter() - began) * 1e6)
    journal.sync()
    storage.close()
    data = np.array(samples)
    return {
        "records": records,
        "group": group,
        "median_us": round(float(np.median(data)), 1),
        "p95_us": round(float(np.percentile(data, 95)), 1),
        "mean_us": round(float(data.mean()), 1),
    }


def run(ballots: int, scratch: Path) -> dict:
    election = build("kg2021", "tiny", 0)
    sheets = list(generated(election, DEC, "PR", ballots, 0))
    root = Path(tempfile.mkdtemp(prefix="pcos-bench-", dir=scratch))
    try:
        figures = {
            "intent_memory": _throughput(election, sheets, SimStorage(), 1),
            "intent_fsync": _throughput(election, sheets, DirStorage(root / "fsync"), 1),
            f"intent_group_{GROUP}": _throughput(
                election, sheets, DirStorage(root / "group"), GROUP
            ),
            "journal_commit_fsync": _latency(root, min(ballots, 1000), 1),
            f"journal_commit_group_{GROUP}": _latency(root, min(ballots, 1000), GROUP),
        }
        if image_interpreter() is not None:
            # The tiny ballot prints as many part-2 boxes as its longest list; the vote
            # model's stray numbers can lie beyond them and cannot be printed.
            boxes = election.max_list_length
            intents = [
                s.intent
                for s in generated(election, DEC, "PR", 2 * min(ballots, 100), 0)
                if max(s.intent.preferences, default=0) <= boxes
            ][: min(ballots, 100)]
            images = list(image_sheets(election, intents, 0, "typical"))
            reader = ImageReader(election, DEC, RuleSet.kg2021())
            figures["image_fsync"] = _throughput(
                election, images, DirStorage(root / "image"), 1, reader
            )
        else:
            figures["image_fsync"] = "not measured: ballot_reader.interpret does not exist yet"
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "benchmark": "device",
        "commit": provenance.commit(),
        "machine": provenance.machine(scratch_dir=str(scratch)),
        "figures": figures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=2000)
    parser.add_argument("--out", default="var/bench/device.json")
    parser.add_argument("--scratch", default="var/bench", help="where the journals are written")
    args = parser.parse_args()
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    result = run(args.ballots, scratch)
    text = json.dumps(result, indent=1, sort_keys=True)
    sys.stdout.write(text + "\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
