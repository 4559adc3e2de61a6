"""Options and output shared by several command groups."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from election import definition
from election.model import Election


def add_election_source(parser: argparse.ArgumentParser) -> None:
    """Either a definition file or a generated scenario, never both."""
    group = parser.add_argument_group("election (a definition file, or a generated scenario)")
    group.add_argument("--election", metavar="FILE", help="election definition JSON")
    group.add_argument("--scenario", default="kg2021", help="scenario name (default: kg2021)")
    group.add_argument(
        "--scale",
        default="tiny",
        help="tiny (one district), oblast (one region) or national (default: tiny)",
    )
    add_seed(parser)


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; same seed, same output (default: 0)"
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


def load_election(args: argparse.Namespace) -> Election:
    if args.election:
        return definition.load(args.election)
    from fixtures import scenario

    return scenario.build(args.scenario, args.scale, seed=args.seed)


def emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    """Print JSON when asked, the human rendering otherwise."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text(data))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table: numbers right-aligned with thousands separators."""

    def cell(value: Any) -> str:
        return (
            f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        )

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [all(isinstance(r[i], int) for r in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out) + "\n"
