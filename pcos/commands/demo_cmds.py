"""`pcos demo`: the main job on the embedded defaults, with progress and where to look."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import demo
from pcos.commands.common import add_seed


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the whole job on a generated election and print results and seats",
        description=(
            "Build the kg2021 scenario, generate its votes, render, mark and scan sample "
            "ballots, tally, allocate seats, and write reports under --out."
        ),
    )
    parser.add_argument(
        "--scale", default="national", help="tiny, oblast or national (default: national)"
    )
    parser.add_argument("--out", default="var/demo", help="output folder (default: var/demo)")
    add_seed(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    result = demo.run(args.scale, args.seed, out, echo=lambda line: print(line, flush=True))
    print()
    print(demo.seats_text(result.election, result.results))
    print()
    print("Where to look:")
    print(f"  election definition  {out / 'election.json'}")
    print(f"  sample ballots       {out / 'ballots'}/ (blank PDF, marked PNG, scanned PNG)")
    print(f"  seats report         {out / 'seats.txt'}")
    print(f"  results (JSON)       {out / 'results.json'}")
    return 0
