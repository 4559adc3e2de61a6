"""`pcos device run|report|takeover|verify-log`, `pcos testdeck`, `pcos report verify`.

A unit's memory is a directory (``--unit-dir``, default ``var/device/UNIT``) holding its
journal, audit log and key, so a technician can stop, restart, reprint and take over
exactly as with a real unit.  Checks that can fail on good input (a tampered log, a
failed test deck, a report that differs from the website's) exit 1; bad input exits 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from device import auditlog, tape, testdeck, uplink
from device.clock import Clock, FakeClock, SystemClock
from device.errors import DeviceError, SignedReportError
from device.hardware import (
    IMAGE_SUFFIXES,
    Feeder,
    ImageReader,
    IntentReader,
    MiscalibratedReader,
    Reader,
    folder,
    generated,
)
from device.machine import Outcome, Pcos, UnitConfig, stored_config
from device.reports import Report, compare, open_signed
from device.screen import render as screen
from device.session import Session, run
from device.signing import UnitKey, envelope_from_text, read_qr
from device.states import State
from device.storage import DirStorage, SimStorage
from election.definition import fingerprint
from election.model import Election
from election.rules import InvalidBallotPolicy, RuleSet
from pcos.commands.common import add_election_source, add_json, emit, load_election
from pcos.commands.transport_cmds import add_link_arguments, transmit
from transport.keys import KeyStore

REFRESH_S = 0.2


def register(commands: argparse._SubParsersAction) -> None:
    device = commands.add_parser(
        "device",
        help="run a simulated PCOS unit: polling day, reports, takeover, audit log",
        description="A software PCOS unit driven like the real one (see docs/device.md).",
    )
    sub = device.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser(
        "run",
        help="power on, zero report, open polls, scan, close, final report",
        description="Run a unit through polling day (resuming where its memory left off).",
    )
    _unit_options(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR", help="scan the images in DIR (image mode)")
    source.add_argument("--generate", type=int, metavar="K", help="K ballots of the DEC's box")
    p.add_argument(
        "--box-seed", type=int, metavar="N", help="seed of the ballots dealt (default: --seed)"
    )
    p.add_argument(
        "--image-mode",
        action="store_true",
        help="with --generate: render, scan and read every ballot (default: intent mode)",
    )
    p.add_argument("--jam-every", type=int, default=0, metavar="N", help="jam every N-th sheet")
    p.add_argument(
        "--keys",
        metavar="DIR",
        help="on first power-on take the unit's identity key from this key store (see 'pcos "
        "keys provision'), so the server knows it; default: the unit makes its own key",
    )
    p.add_argument("--keep-open", action="store_true", help="do not close the polls at the end")
    p.add_argument("--quiet", action="store_true", help="print only the final summary line")
    add_json(p)
    p.set_defaults(run=_run)

    p = sub.add_parser(
        "report",
        help="print (or reprint) a unit's zero or final report",
        description="Print a unit's report from its memory as tape text, JSON or image.",
    )
    p.add_argument("kind", choices=("zero", "final"))
    _unit_options(p)
    p.add_argument("--png", metavar="FILE", help="also write the tape with its QR code as PNG")
    add_json(p)
    p.set_defaults(run=_report)

    p = sub.add_parser(
        "transmit",
        help="send a unit's zero and final reports to the central server through its modem",
        description=(
            "Dial the server (e.g. the pty of 'pcos modem') and send the zero report, the "
            "final report and the audit-log head, signed and encrypted; the unit journals "
            "the transmission once every message is acknowledged."
        ),
    )
    _unit_options(p)
    add_link_arguments(p)
    add_json(p)
    p.set_defaults(run=_transmit)

    p = sub.add_parser(
        "takeover",
        help="import a failed unit's journal into a reserve unit of the same DEC",
        description="Reserve-unit takeover: count a failed unit's ballots on the reserve.",
    )
    _unit_options(p)
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="JOURNAL",
        help="the failed unit's journal.bin",
    )
    add_json(p)
    p.set_defaults(run=_takeover)

    p = sub.add_parser(
        "verify-log",
        help="check an audit log's hash chain and name the first bad record",
        description="Verify a unit's audit log; exit 1 and name the first bad record.",
    )
    p.add_argument("file", metavar="FILE", help="the unit's audit.log")
    p.add_argument("--head", metavar="HASH", help="head hash printed on a report (16+ hex)")
    add_json(p)
    p.set_defaults(run=_verify_log)

    p = commands.add_parser(
        "testdeck",
        help="generate and run a logic-and-accuracy test deck for a DEC",
        description="Run an L&A test deck through a fresh unit; exit 1 if it fails.",
    )
    _unit_options(p, memory=False)
    p.add_argument("--image-mode", action="store_true", help="render, scan and read the deck")
    p.add_argument(
        "--miscalibrate",
        action="store_true",
        help="read with targets registered one row off (must fail)",
    )
    add_json(p)
    p.set_defaults(run=_testdeck)

    report = commands.add_parser(
        "report",
        help="verify a unit's signed report from a photo or its text",
        description="Observers' offline check of a PCOS report's signed results.",
    )
    rsub = report.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    rsub.required = True
    p = rsub.add_parser(
        "verify",
        help="verify the QR code of a photo, or the base64 block of a tape's text",
        description="Verify signed results; compare with a report JSON (e.g. the website's).",
    )
    p.add_argument("file", metavar="PHOTO|TEXT", help="an image of the tape, or its text or JSON")
    p.add_argument("--key", metavar="HEX", help="the unit key fingerprint the CEC published")
    p.add_argument("--compare", metavar="JSON", help="a report JSON to compare with")
    add_json(p)
    p.set_defaults(run=_verify_report)


def _unit_options(p: argparse.ArgumentParser, memory: bool = True) -> None:
    add_election_source(p)
    p.add_argument("--dec", type=int, help="the DEC (precinct) number")
    p.add_argument("--contest", default="PR", help="PR, SMD or all (default: PR)")
    p.add_argument("--unit", help="unit id (default: DEC-CONTEST)")
    if memory:
        p.add_argument(
            "--unit-dir", metavar="DIR", help="the unit's memory (default var/device/UNIT)"
        )
    p.add_argument(
        "--group",
        type=int,
        default=1,
        metavar="N",
        help="journal group commit: fsync every N ballots (default 1)",
    )
    p.add_argument(
        "--policy",
        choices=[p.value for p in InvalidBallotPolicy],
        help="override the election's invalid-ballot policy",
    )
    p.add_argument("--clock", metavar="ISO", help="simulated clock start (default: system clock)")


# Building a unit ------------------------------------------------------------------------


def _contests(election: Election, dec: int, which: str) -> tuple[str, ...]:
    if not election.has_dec(dec):
        raise DeviceError(f"election {election.id} has no DEC {dec}")
    issued = tuple(dict.fromkeys(s.contest_id for s in election.styles_for(dec)))
    if which == "all":
        return issued
    wanted = tuple(c for c in issued if c == which or c.startswith(f"{which}-"))
    if not wanted:
        raise DeviceError(f"DEC {dec} issues {', '.join(issued)}; no {which} ballot")
    return wanted


def _rules(args: argparse.Namespace, election: Election) -> RuleSet:
    rules = RuleSet.named(election.rules)
    if args.policy:
        validity = dataclasses.replace(rules.validity, invalid_ballot_policy=args.policy)
        rules = dataclasses.replace(rules, validity=validity)
    return rules


def _clock(args: argparse.Namespace) -> Clock:
    return FakeClock(args.clock, tick=1.0) if args.clock else SystemClock()


def _config(args: argparse.Namespace, election: Election, storage: Any) -> UnitConfig:
    stored = stored_config(storage, args.group) if storage is not None else None
    if stored is not None:
        if args.dec is not None and args.dec != stored.dec:
            raise DeviceError(f"this memory belongs to unit {stored.unit} of DEC {stored.dec}")
        return stored
    if args.dec is None:
        raise DeviceError("--dec is required for a unit whose memory is new")
    contests = _contests(election, args.dec, args.contest)
    unit = args.unit or f"{args.dec}-{args.contest}"
    return UnitConfig(unit, args.dec, contests, args.group)


def _unit(args: argparse.Namespace, election: Election, *, images: bool = False) -> Pcos:
    """The unit whose memory is ``--unit-dir`` (or var/device/UNIT), reading images or
    ballot records."""
    if not args.unit_dir and args.dec is None:
        raise DeviceError("give --dec (or --unit-dir of an existing unit)")
    root = args.unit_dir or Path("var/device") / (args.unit or f"{args.dec}-{args.contest}")
    storage = DirStorage(root)
    config = _config(args, election, storage)
    rules = _rules(args, election)
    reader = ImageReader(election, config.dec, rules) if images else None
    feeder = Feeder(jam_every=getattr(args, "jam_every", 0))
    key = None
    if getattr(args, "keys", None):
        key = UnitKey(KeyStore(Path(args.keys)).unit_key(config.unit).sign.seed)
    return Pcos(
        config,
        election,
        storage,
        reader=reader,
        clock=_clock(args),
        rules=rules,
        feeder=feeder,
        key=key,
    )


def _save(unit: Pcos, report: Report, election: Election) -> None:
    if not isinstance(unit.storage, DirStorage):
        return
    tape.save(report, election, unit.storage.root)


# Commands -------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    election = load_election(args)
    unit = _unit(args, election, images=bool(args.images) or args.image_mode)
    if args.images:
        sheets = folder(args.images)
    else:
        contests = unit.config.contests
        contest = contests[0] if len(contests) == 1 else None
        sheets = generated(
            election,
            unit.config.dec,
            contest,
            args.generate,
            args.seed if args.box_seed is None else args.box_seed,
            images=args.image_mode,
        )
    live = not (args.quiet or args.json)
    tty = live and sys.stdout.isatty()
    shown = [0.0]

    def update(u: Pcos, _: Outcome) -> None:
        now = time.monotonic()
        if tty and now - shown[0] >= REFRESH_S:
            sys.stdout.write("\x1b[H\x1b[2J" + screen(u))
            sys.stdout.flush()
            shown[0] = now

    started = time.perf_counter()
    session = run(unit, sheets, close=not args.keep_open, on_outcome=update)
    elapsed = time.perf_counter() - started
    for report in (session.zero, session.final):
        if report is not None:
            _save(unit, report, election)
    unit.power_off()
    summary = _summary(unit, session, elapsed)
    if args.json:
        json.dump(summary, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    elif args.quiet:
        print(
            f"{unit.config.unit}: {summary['accepted']} accepted, {summary['returned']} returned, "
            f"state {summary['state']}"
        )
    else:
        sys.stdout.write(("\x1b[H\x1b[2J" if tty else "") + screen(unit))
        print(
            f"memory: {unit.storage.where('')}  ({len(session.outcomes)} sheets, {elapsed:.2f} s)"
        )
    return 0


def _transmit(args: argparse.Namespace) -> int:
    election = load_election(args)
    unit = _unit(args, election)
    result = unit.power_on()
    if not result.ok:
        raise DeviceError(f"the unit fails its self-test: {result.failures()}")
    if unit.key is None:
        raise DeviceError("the unit has no identity key")
    zero_json = unit.storage.root / "zero.json"
    if not zero_json.exists():
        raise DeviceError(f"no printed zero report at {zero_json}: run 'pcos device run' first")
    fingerprint = unit.fingerprint
    receipts: list = []

    def deliver(messages: list) -> None:
        receipts.extend(transmit(args, unit.config.unit, fingerprint, unit.config.dec, messages))

    deliver([uplink.zero_message(json.loads(zero_json.read_text(encoding="utf-8")))])
    sequence = unit.transmit(lambda report: deliver(uplink.closing_messages(report)))
    unit.power_off()
    summary = {
        "unit": unit.config.unit,
        "dec": unit.config.dec,
        "final_report_sequence": sequence,
        "acknowledged": [{"seq": r.seq, "accepted_at": r.accepted_at} for r in receipts],
    }
    emit(
        args,
        summary,
        lambda s: (
            f"{s['unit']}: {len(s['acknowledged'])} messages acknowledged "
            f"(final report #{s['final_report_sequence']})\n"
        ),
    )
    return 0


def _summary(unit: Pcos, session: Session, elapsed: float) -> dict[str, Any]:
    counts = unit.counters.summary()
    return {
        "unit": unit.config.unit,
        "dec": unit.config.dec,
        "state": unit.state.value,
        "accepted": counts["accepted"],
        "returned": sum(counts["returned"].values()),
        "counts": {c: t.to_json() for c, t in unit.counters.tallies().items()},
        "summary": counts,
        "sheets": len(session.outcomes),
        "seconds": round(elapsed, 3),
        "memory": unit.storage.where(""),
        "final_report_digest": session.final.digest if session.final else None,
    }


def _report(args: argparse.Namespace) -> int:
    election = load_election(args)
    unit = _unit(args, election)
    result = unit.power_on()
    if not result.ok:
        raise DeviceError(f"the unit's self-test failed: {result.failures()}")
    report = unit.print_zero_report() if args.kind == "zero" else unit.print_final_report()
    _save(unit, report, election)
    unit.power_off()
    if args.png:
        import cv2

        cv2.imwrite(args.png, tape.image(report, election))
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(tape.render(report, election))
    return 0


def _takeover(args: argparse.Namespace) -> int:
    election = load_election(args)
    data = Path(args.source).read_bytes()
    unit = _unit(args, election)
    session = Session()
    result = unit.power_on()
    if not result.ok:
        raise DeviceError(f"the reserve unit's self-test failed: {result.failures()}")
    if unit.state is State.READY:
        session.zero = unit.print_zero_report()
        _save(unit, session.zero, election)
    summary = unit.import_journal(data)
    unit.power_off()
    summary["accepted_now"] = unit.counters.accepted
    if args.json:
        json.dump(summary, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(
            f"{unit.config.unit} took over unit {summary['unit']}: {summary['ballots']} ballots "
            f"imported ({summary['torn_bytes']} torn bytes not counted); "
            f"now {unit.counters.accepted} ballots. Open the polls with 'pcos device run'."
        )
    return 0


def _verify_log(args: argparse.Namespace) -> int:
    data = Path(args.file).read_bytes()
    check = auditlog.verify(data, args.head)
    result = {
        "file": args.file,
        "ok": check.ok,
        "records": check.records,
        "bad_record": check.bad,
        "reason": check.reason,
        "head": {"seq": check.head_seq, "sha256": check.head_hash},
        "torn_bytes": len(check.torn),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(f"{args.file}: {'OK' if check.ok else 'TAMPERED'}: {check.describe()}")
    return 0 if check.ok else 1


def _testdeck(args: argparse.Namespace) -> int:
    election = load_election(args)
    if args.dec is None:
        raise DeviceError("--dec is required")
    contests = _contests(election, args.dec, args.contest)
    rules = _rules(args, election)
    reader: Reader = (
        ImageReader(election, args.dec, rules)
        if args.image_mode
        else IntentReader(election, args.dec, fingerprint(election))
    )
    if args.miscalibrate:
        reader = MiscalibratedReader(reader, election)
    deck = testdeck.generate(election, args.dec, contests, rules, images=args.image_mode)
    config = UnitConfig(args.unit or f"{args.dec}-testdeck", args.dec, contests, args.group)
    unit = Pcos(config, election, SimStorage(), reader=reader, clock=_clock(args), rules=rules)
    result = testdeck.check(deck, unit)
    if args.json:
        out = {
            "passed": result.passed,
            "ballots": result.ballots,
            "differences": list(result.differences),
            "report": result.report,
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.describe())
    return 0 if result.passed else 1


def _verify_report(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise SignedReportError(f"cannot decode the image {path}")
        envelope = envelope_from_text(read_qr(image))
    else:
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("{"):
            text = json.loads(text).get("signed", {}).get("qr", "")
        envelope = envelope_from_text(text)
    opened = open_signed(envelope)
    problems: list[str] = []
    if args.key and not opened.key_fingerprint.startswith(args.key.lower()):
        problems.append(
            f"signed by key {opened.key_fingerprint[:16]}…, not the published {args.key}"
        )
    if args.compare:
        report_json = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        problems += compare(opened, report_json)
    p = opened.payload
    result = {
        "valid": not problems,
        "signature": "valid",
        "key": opened.key_fingerprint,
        "key_checked": bool(args.key),
        "problems": problems,
        "payload": p,
    }
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        lines = [
            f"signature valid: {p['k']} report no. {p['n']} of unit {p['u']}, DEC {p['d']}, "
            f"printed {p['t']}",
            f"election {p['e']}",
            f"signed by key {opened.key_fingerprint}"
            + ("" if args.key else " (compare with the CEC's published unit keys, or pass --key)"),
        ]
        for contest, c in p["c"].items():
            votes = ", ".join(f"{o} {n}" for o, n in c["v"].items())
            lines.append(f"{contest}: {votes}; blank {c['b']}, overvote {c['o']}")
        lines += [f"MISMATCH: {x}" for x in problems]
        print("\n".join(lines))
    return 0 if not problems else 1
