"""`pcos ballot read IMAGE... --election FILE [--dec N] [--json] [--overlay DIR]`.

One summary line per page (or JSON with every target's score), optional debug overlays.
Exit status: 0 every page was read; 1 at least one page is unreadable (the reason is on
its line); 2 bad usage or bad input the command cannot start with (a missing image
path, a bad election definition), as for every `pcos` command.  A file that exists but
is not an image is a page like any other: unreadable, reason ``not_a_ballot``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ballot_reader import images, overlay
from ballot_reader.interpret import PageReading, not_an_image, reader_for
from ballot_reader.interpretation import Interpretation
from election.errors import PcosLabError
from election.validity import Preference
from pcos.commands.common import add_election_source, add_json, emit, load_election

EXIT_ALL_READ = 0
EXIT_SOME_UNREADABLE = 1


class ReadArgumentError(PcosLabError):
    """An image path that does not exist or an option out of range."""

    code = "bad_read_args"


def register_read(ballot_subparsers: argparse._SubParsersAction) -> None:
    """Add ``read`` to the ``pcos ballot`` sub-commands."""
    read = ballot_subparsers.add_parser(
        "read",
        help="read scanned ballot images: style, marks, verdict (exit 1 if any unreadable)",
        description=(
            "Read scanned ballot pages as the PCOS does: find the fiducials, decode the "
            "style code, score every target, give the verdict. Exit 0 when every page "
            "was read, 1 when any page is unreadable, 2 on bad usage or input."
        ),
    )
    read.add_argument("images", nargs="+", metavar="IMAGE", help="scanned page (PNG, JPEG, TIFF)")
    add_election_source(read)
    read.add_argument("--dec", type=int, help="the DEC this scanner serves; refuse other DECs")
    read.add_argument("--dpi", type=float, help="scan resolution, when known (else measured)")
    read.add_argument(
        "--overlay", metavar="DIR", help="write a debug overlay PNG per page into DIR"
    )
    add_json(read)
    read.set_defaults(run=_read)


def _read(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.images]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ReadArgumentError(f"no such image file: {', '.join(missing)}")
    if args.dec is not None and args.dec < 0:
        raise ReadArgumentError(f"--dec must be a DEC number, got {args.dec}")
    reader = reader_for(load_election(args))
    results = []
    for path in paths:
        reading = _read_one(reader, path, args)
        shown = None
        if args.overlay:
            shown = str(overlay.write(reading, Path(args.overlay) / f"{path.stem}.overlay.png"))
        results.append(_result(path, reading.interpretation, shown))
    emit(args, results, _text)
    unreadable = any(not r["readable"] for r in results)
    return EXIT_SOME_UNREADABLE if unreadable else EXIT_ALL_READ


def _read_one(reader: Any, path: Path, args: argparse.Namespace) -> PageReading:
    try:
        image = images.load(path)
    except images.ImageError as exc:
        return not_an_image(str(exc))
    return reader.read(image, dec=args.dec, dpi_hint=args.dpi)


def _result(path: Path, it: Interpretation, overlay_path: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": str(path),
        "readable": it.readable,
        "reason": it.reason.value if it.reason else None,
        "detail": it.detail,
        "upside_down": it.upside_down,
        "marginal": list(it.marginal),
        "overlay": overlay_path,
    }
    if it.ballot is not None:
        b = it.ballot
        out["style"] = {
            "kind": b.style.kind.value,
            "language": b.style.language,
            "district": b.style.district,
            "contest": b.style.contest_id,
        }
        out["dec"] = b.dec
        out["marked"] = {"options": sorted(b.options), "preferences": sorted(b.preferences)}
    if it.verdict is not None:
        v = it.verdict
        out["verdict"] = {
            "kind": v.kind.value,
            "option": v.option,
            "preference": v.preference.value,
            "credited_position": v.credited_position,
            "preference_marks": list(v.preference_marks),
        }
    out["targets"] = [
        {"id": t.target, "score": t.score, "state": t.state.value, "center_px": t.center_px}
        for t in it.targets
    ]
    return out


def _text(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        if not r["readable"]:
            lines.append(f"{r['path']}: UNREADABLE {r['reason']}: {r['detail']}")
            continue
        style = r["style"]
        head = f"{r['path']}: {style['contest']} {style['language']} DEC {r['dec']}"
        v = r.get("verdict")
        if v is None:
            body = r["detail"]
        elif v["kind"] == "vote":
            body = f"vote {v['option']}"
            if v["preference"] != "not_applicable":
                body += ", " + Preference(v["preference"]).phrase(v["credited_position"])
        else:
            body = v["kind"]
        marginal = f"; MARGINAL {', '.join(r['marginal'])}" if r["marginal"] else ""
        flip = " (fed upside down)" if r["upside_down"] else ""
        lines.append(f"{head}: {body}{marginal}{flip}")
    read = sum(r["readable"] for r in results)
    lines.append(f"{read} of {len(results)} pages read, {len(results) - read} unreadable")
    return "\n".join(lines) + "\n"
