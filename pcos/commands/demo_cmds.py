"""`pcos demo`: the main job on the embedded defaults, with progress and where to look."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from harness import demo
from harness.election_night import NightOptions
from pcos.commands.common import add_seed
from transport.impair import profile


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="election night end to end: ballots, scanners, modems, server, website",
        description=(
            "Generate an election, let every DEC's PCOS units read their ballots (image mode: "
            "each ballot marked, printed, scanned and read), print their reports, send them "
            "through modem emulators to the central server, and check the published totals "
            "against the ground truth. The website keeps serving until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--scale",
        default="tiny",
        help="tiny (default) or oblast; national: see 'pcos election results'",
    )
    parser.add_argument(
        "--mode",
        choices=("image", "intent"),
        help="image: read scanned images; intent: ballot records (default: image for tiny)",
    )
    parser.add_argument(
        "--modem", default="clean", help="modem impairment profile (default: clean)"
    )
    parser.add_argument("--out", default="var/demo", help="output folder (default: var/demo)")
    parser.add_argument(
        "--exit", action="store_true", help="stop the server and exit instead of serving"
    )
    add_seed(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    profile(args.modem)  # refuse an unknown profile before the night starts
    mode = args.mode or ("image" if args.scale == "tiny" else "intent")
    options = NightOptions(
        scale=args.scale,
        seed=args.seed,
        out=Path(args.out),
        images=mode == "image",
        modem_profile=args.modem,
    )
    result = demo.run(options, echo=lambda line: print(line, flush=True))
    print(demo.closing_text(result), flush=True)
    try:
        if not args.exit:
            print("\nServing the website; press Ctrl-C to stop.", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        print()
    finally:
        result.night.stop()
    return 1 if result.night.mismatches else 0
