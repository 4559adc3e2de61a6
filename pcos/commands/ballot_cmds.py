"""`pcos ballot render|mark|scan`: print, fill in and feed ballots, as files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from election.ballots import MarkedBallot
from election.errors import PcosLabError
from election.layout import Layout, layout_for
from election.model import LANGUAGES, PR_CONTEST_ID, BallotKind, BallotStyle, Election
from fixtures import marks as marks_mod
from fixtures import render as render_mod
from fixtures import scan as scan_mod
from pcos.commands import ballot_read
from pcos.commands.common import add_election_source, add_json, add_seed, emit, load_election


class BallotCommandError(PcosLabError):
    code = "bad_ballot_request"


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser(
        "ballot",
        help="render, mark and scan ballots as image files",
        description="Ballots as images: print one, mark it like a voter, feed it like a scanner.",
    )
    sub = group.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    sub.required = True

    render = sub.add_parser(
        "render",
        help="a blank ballot as PNG (any dpi) or printable vector PDF",
        description="Render a blank ballot of one DEC; the file type follows --out (.png/.pdf).",
    )
    _add_style_options(render)
    render.add_argument("--out", required=True, metavar="FILE", help="output .png or .pdf")
    add_json(render)
    render.set_defaults(run=_render)

    mark = sub.add_parser(
        "mark",
        help="a ballot filled in by a simulated voter, as PNG",
        description=(
            "Mark a ballot. Without --votes the voter's choice is drawn from --seed; "
            "--policy says how voters mark (ideal, typical, sloppy) unless --mark-type is given."
        ),
    )
    _add_style_options(mark)
    mark.add_argument(
        "--votes",
        metavar="IDS",
        help="comma-separated option ids to mark (e.g. P07,N12 or D2001-C02,AGAINST_ALL); "
        "N<k> marks preference box k",
    )
    mark.add_argument("--policy", default="typical", help="ideal, typical or sloppy")
    mark.add_argument(
        "--mark-type",
        metavar="KIND",
        help="one mark kind for every chosen box: "
        + ", ".join(k.value for k in marks_mod.MarkKind),
    )
    mark.add_argument("--fill", type=float, default=1.0, help="with --mark-type: 0..1")
    mark.add_argument("--darkness", type=float, default=0.9, help="with --mark-type: 0..1")
    mark.add_argument("--out", required=True, metavar="FILE", help="output .png")
    add_json(mark)
    mark.set_defaults(run=_mark)

    scan = sub.add_parser(
        "scan",
        help="distort a ballot image as a scanner feed would",
        description="Scan a PNG through a profile: " + ", ".join(scan_mod.PROFILES) + ".",
    )
    scan.add_argument("image", metavar="IMAGE", help="a rendered ballot PNG (grayscale)")
    scan.add_argument("--profile", default="typical", help="scan profile (default: typical)")
    scan.add_argument("--dpi", type=float, default=None, help="image dpi (default: from the PNG)")
    scan.add_argument("--out", required=True, metavar="FILE", help="output .png")
    add_seed(scan)
    add_json(scan)
    scan.set_defaults(run=_scan)

    ballot_read.register_read(sub)


def _add_style_options(parser: argparse.ArgumentParser) -> None:
    add_election_source(parser)
    parser.add_argument("--kind", choices=[k.value for k in BallotKind], default="PR")
    parser.add_argument("--lang", choices=LANGUAGES, default="ky", help="ky or ru (default: ky)")
    parser.add_argument("--dec", type=int, help="DEC number (default: the first home DEC)")
    parser.add_argument("--dpi", type=float, default=200, help="resolution (default: 200)")


def _layout(args: argparse.Namespace) -> tuple[Election, Layout, BallotStyle]:
    election = load_election(args)
    if args.dec is None:
        dec = next(d for d in election.decs if not d.abroad)
    elif election.has_dec(args.dec):
        dec = election.dec(args.dec)
    else:
        raise BallotCommandError(f"DEC {args.dec} is not in election {election.id}")
    style = BallotStyle(
        BallotKind(args.kind), args.lang, dec.district if args.kind == "SMD" else None
    )
    return election, layout_for(election, style, dec=dec.number), style


def _write(path: str, data: bytes) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def _render(args: argparse.Namespace) -> int:
    _, layout, style = _layout(args)
    if args.out.lower().endswith(".pdf"):
        data = render_mod.render_pdf(layout, style.language)
    elif args.out.lower().endswith(".png"):
        data = render_mod.render_png(layout, style.language, args.dpi)
    else:
        raise BallotCommandError(f"--out must end in .png or .pdf: {args.out}")
    out = _write(args.out, data)
    result = {"path": str(out), "contest": layout.contest_id, "dec": layout.dec, "bytes": len(data)}
    emit(args, result, lambda r: f"wrote {r['path']} ({r['contest']}, DEC {r['dec']})\n")
    return 0


def _mark(args: argparse.Namespace) -> int:
    election, layout, style = _layout(args)
    rng = np.random.default_rng(args.seed)
    if args.votes:
        ballot = _parse_votes(args.votes, election, style, layout.dec)
    else:
        ballot = _random_vote(election, style, layout.dec, rng)
    if args.mark_type:
        specs = _uniform_marks(ballot, layout, args)
    else:
        specs = marks_mod.marks_for(ballot, layout, marks_mod.policy(args.policy), rng)
    if not args.out.lower().endswith(".png"):
        raise BallotCommandError(f"--out must end in .png: {args.out}")
    png = render_mod.render_png(layout, style.language, args.dpi, specs, seed=args.seed)
    out = _write(args.out, png)
    result = {
        "path": str(out),
        "contest": layout.contest_id,
        "dec": layout.dec,
        "intent": {"options": sorted(ballot.options), "preferences": sorted(ballot.preferences)},
        "marks": [
            {"kind": s.kind.value, "target": s.target, "fill": s.fill, "darkness": s.darkness}
            for s in specs
        ],
    }
    emit(args, result, _mark_text)
    return 0


def _mark_text(r: dict[str, Any]) -> str:
    intent = ", ".join(r["intent"]["options"] + [f"N{n}" for n in r["intent"]["preferences"]])
    kinds = ", ".join(f"{m['kind']}@{m['target'] or 'stray'}" for m in r["marks"])
    return f"wrote {r['path']}: intent [{intent or 'blank'}], marks [{kinds}]\n"


def _parse_votes(text: str, election: Election, style: BallotStyle, dec: int) -> MarkedBallot:
    valid = set(election.options(style.contest_id))
    options, preferences = set(), set()
    for token in filter(None, (t.strip() for t in text.split(","))):
        if style.contest_id == PR_CONTEST_ID and token[:1] == "N" and token[1:].isdigit():
            number = int(token[1:])
            if not 1 <= number <= election.max_list_length:
                raise BallotCommandError(
                    f"preference box {number} does not exist (1..{election.max_list_length})"
                )
            preferences.add(number)
        elif token in valid:
            options.add(token)
        else:
            raise BallotCommandError(
                f"{token!r} is not an option of {style.contest_id}; "
                f"options: {', '.join(sorted(valid))}"
            )
    return MarkedBallot(style, dec, frozenset(options), frozenset(preferences))


def _random_vote(
    election: Election, style: BallotStyle, dec: int, rng: np.random.Generator
) -> MarkedBallot:
    options = election.options(style.contest_id)
    choice = options[int(rng.integers(len(options)))]
    preferences: frozenset[int] = frozenset()
    if style.contest_id == PR_CONTEST_ID and choice in {p.id for p in election.parties}:
        length = len(election.party(choice).candidates)
        preferences = frozenset({int(rng.integers(1, length + 1))})
    return MarkedBallot(style, dec, frozenset({choice}), preferences)


def _uniform_marks(
    ballot: MarkedBallot, layout: Layout, args: argparse.Namespace
) -> tuple[marks_mod.MarkSpec, ...]:
    targets = [layout.option_target(o).id for o in sorted(ballot.options)]
    targets += [layout.preference_target(n).id for n in sorted(ballot.preferences)]
    return tuple(
        marks_mod.MarkSpec(args.mark_type, t, fill=args.fill, darkness=args.darkness)
        for t in targets
    )


def _scan(args: argparse.Namespace) -> int:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(args.image) as img:
            dpi = args.dpi or float(img.info.get("dpi", (200, 200))[0])
            page = np.asarray(img.convert("L"))
    except UnidentifiedImageError:
        raise BallotCommandError(f"not an image file: {args.image}") from None
    if not args.out.lower().endswith(".png"):
        raise BallotCommandError(f"--out must end in .png: {args.out}")
    result_scan = scan_mod.scan(
        np.ascontiguousarray(page), dpi, args.profile, np.random.default_rng(args.seed)
    )
    out = _write(args.out, render_mod.encode_png(result_scan.image, dpi))
    result = {
        "path": str(out),
        "profile": args.profile,
        "upside_down": result_scan.upside_down,
        "applied": [name for name, _ in result_scan.applied],
        "homography_mm_to_px": np.round(result_scan.homography, 6).tolist(),
    }
    emit(args, result, lambda r: f"wrote {r['path']} ({r['profile']}: {', '.join(r['applied'])})\n")
    return 0
