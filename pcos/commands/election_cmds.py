"""`pcos election build|summary|validate`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from election import definition
from election.summary import summarize
from pcos.commands.common import (
    add_election_source,
    add_json,
    add_seed,
    emit,
    load_election,
    table,
)


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser(
        "election",
        help="build, summarise and validate election definitions",
        description="Election definitions: the JSON file every scanner, server and auditor loads.",
    )
    sub = group.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    sub.required = True

    build = sub.add_parser(
        "build",
        help="generate a scenario and write its definition JSON",
        description="Generate a seeded scenario (e.g. kg2021 national) and write it as JSON.",
    )
    add_election_source(build)
    build.add_argument("--out", required=True, metavar="FILE", help="where to write the JSON")
    add_json(build)
    build.set_defaults(run=_build)

    summary = sub.add_parser(
        "summary",
        help="seats, parties, candidates, DECs and rolls of an election",
        description="Count what an election holds, by region and by the seed's districting rows.",
    )
    add_election_source(summary)
    add_json(summary)
    summary.set_defaults(run=_summary)

    results = sub.add_parser(
        "results",
        help="tally the seeded ground truth and allocate seats (no machines involved)",
        description=(
            "Generate every DEC's votes, tally them exactly as marked, allocate PR seats and "
            "decide the districts: the yardstick the scanners and the server are measured "
            "against. At national scale it reproduces the 2021 seat split."
        ),
    )
    results.add_argument(
        "--scale", default="national", help="tiny, oblast or national (default: national)"
    )
    add_seed(results)
    results.add_argument(
        "--out", default="var/ground-truth", help="output folder (default: var/ground-truth)"
    )
    results.set_defaults(run=_results)

    validate = sub.add_parser(
        "validate",
        help="check a definition file and name the first bad field",
        description="Validate an election definition; exit 2 and name the field if it is bad.",
    )
    validate.add_argument("file", metavar="FILE", help="election definition JSON")
    add_json(validate)
    validate.set_defaults(run=_validate)


def _build(args: argparse.Namespace) -> int:
    election = load_election(args)
    path = definition.save(election, args.out)
    result = {"path": str(path), "fingerprint": definition.fingerprint(election)}
    emit(args, result, lambda r: f"wrote {r['path']} (fingerprint {r['fingerprint'][:16]}…)\n")
    return 0


def _summary(args: argparse.Namespace) -> int:
    election = load_election(args)
    data = summarize(election)
    data["fingerprint"] = definition.fingerprint(election)
    emit(args, data, _summary_text)
    return 0


def _results(args: argparse.Namespace) -> int:
    from harness import ground_truth, reports

    run = ground_truth.run(args.scale, args.seed, Path(args.out), echo=print)
    print()
    print(reports.seats_text(run.election, run.results))
    print(f"\nfiles: {', '.join(str(f) for f in run.files[-2:])}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    election = definition.load(args.file)
    result = {"valid": True, "id": election.id, "fingerprint": definition.fingerprint(election)}
    emit(args, result, lambda r: f"{args.file}: valid ({r['id']}, {r['fingerprint'][:16]}…)\n")
    return 0


def _summary_text(s: dict[str, Any]) -> str:
    head = [
        f"{s['election']['name']} ({s['election']['date']}), fingerprint {s['fingerprint'][:16]}…",
        f"seats {s['seats']['total']}: {s['seats']['pr']} PR + {s['seats']['smd']} SMD; "
        f"{s['parties']} parties, {s['list_candidates']:,} list candidates "
        f"({s['list_candidates_by_sex']['F']:,} women), "
        f"{s['smd_candidates']:,} SMD candidates",
        f"DECs {s['decs']['total']:,} ({s['decs']['home']:,} home, {s['decs']['abroad']:,} "
        f"abroad in {s['abroad_countries']} countries); PCOS units {s['units']['total']:,} "
        f"({s['units']['at_decs']:,} at DECs, {s['units']['reserve']:,} reserve)",
        f"rolls: single constituency {s['rolls']['single_constituency']:,}, "
        f"abroad {s['rolls']['abroad']:,}, SMD {s['rolls']['smd']:,}",
        "",
    ]
    rows = [
        [name, g["districts"], g["smd_candidates"], g["decs"], g["roll_smd"]]
        for name, g in s["by_seed_region"].items()
    ]
    rows.append(
        [
            "total",
            s["districts"],
            s["smd_candidates"],
            s["decs"]["home"],
            s["rolls"]["smd"],
        ]
    )
    return (
        "\n".join(head)
        + "\n"
        + table(["region", "districts", "SMD candidates", "DECs", "SMD roll"], rows)
    )
