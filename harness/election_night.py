"""Election night end to end: ballots → scanners → modems → server → website.

Every DEC's units are simulated as the real ones work: each is powered on, prints its
zero report, counts its box (in image mode every ballot is marked, printed, scanned and
read by the ballot reader), closes, prints its final report to files, then dials the
central server through its own Hayes modem emulator and sends its reports, signed and
encrypted.  The server runs in this process on loopback; the units run in worker
processes (spawned, so the server's threads are never forked), as many as the machine
has cores.  At the end the server's published totals are checked against the seeded
ground truth: the run says whether the spine lost, doubled or changed anything.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from election import definition
from election.model import PR_CONTEST_ID, Election
from election.tally import total
from fixtures import scenario, votes

Echo = Callable[[str], None]

DAY_START = "2021-11-28T07:30:00+06:00"


@dataclass(frozen=True)
class UnitPlan:
    """One PCOS unit: which DEC, which contests it counts, and which share of the box."""

    unit: str
    dec: int
    contests: tuple[str, ...]
    share: int
    shares: int


@dataclass(frozen=True)
class NightOptions:
    scale: str = "tiny"
    seed: int = 0
    out: Path = Path("var/demo")
    images: bool = True
    mark_policy: str = "typical"
    modem_profile: str = "clean"
    workers: int = max(1, min(2, os.cpu_count() or 1))


@dataclass
class UnitResult:
    """What a unit's worker reports back: its printed files and its transmission."""

    unit: str
    dec: int
    contests: tuple[str, ...]
    ballots: int
    accepted: int
    returned: dict[str, int]
    marginal: int
    seconds: float
    sent: int
    send_seconds: float
    files: list[str] = field(default_factory=list)


@dataclass
class NightRun:
    election: Election
    truth: votes.GroundTruth
    units: list[UnitResult]
    url: str
    gateway: str
    db: Path
    mismatches: list[str]
    server: Any = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def plan_units(election: Election) -> list[UnitPlan]:
    """Home DECs: unit 1 counts the PR ballot, unit 2 the SMD ballot (as in January 2021,
    one unit per ballot); abroad DECs issue the PR ballot only and split the box between
    their units."""
    plans = []
    for dec in election.decs:
        contests = tuple(dict.fromkeys(s.contest_id for s in election.styles_for(dec.number)))
        for k in range(1, dec.units + 1):
            unit = f"PCOS-{dec.number}-{k}"
            if len(contests) == dec.units:
                plans.append(UnitPlan(unit, dec.number, (contests[k - 1],), 0, 1))
            else:
                plans.append(UnitPlan(unit, dec.number, (PR_CONTEST_ID,), k - 1, dec.units))
    return plans


def run(options: NightOptions, echo: Echo = print) -> NightRun:
    """The whole night; the server keeps running until :meth:`NightRun.stop`."""
    from server_stub import server
    from transport.keys import KeyStore

    out = options.out
    _fresh(out)
    election = scenario.build("kg2021", options.scale, seed=options.seed)
    definition_path = definition.save(election, out / "election.json")
    truth = votes.generate(election, seed=options.seed)
    plans = plan_units(election)
    echo(
        f"[1/4] {election.name}: {len(election.decs):,} DECs, {len(plans):,} PCOS units, "
        f"{truth.participants:,} voters in the ground truth (seed {options.seed})"
    )

    keys = KeyStore(out / "keys")
    keys.provision([p.unit for p in plans], seed=options.seed)
    args = argparse.Namespace(
        db=str(out / "server" / "results.db"),
        keys=str(out / "keys"),
        host="127.0.0.1",
        port=0,
        gateway_port=0,
        tokens=str(out / "server" / "tokens.json"),
        uploads=str(out / "server" / "uploads"),
        roll_margin=0,
        refresh=0.5,
    )
    running = server.start(server.build(election, args), args)
    info = running.info()
    echo(f"[2/4] central server up: website {info['url']}, modem gateway {info['gateway']}")

    mode = "image mode (mark, print, scan, read)" if options.images else "intent mode"
    echo(
        f"[3/4] polling day on {options.workers} core(s), {mode}; modems '{options.modem_profile}'"
    )
    units = list(_count_and_send(options, definition_path, plans, info["gateway"], echo))

    echo("[4/4] waiting for the server to publish, then checking it against the ground truth")
    mismatches = _compare(running.service, election, truth)
    return NightRun(
        election, truth, units, info["url"], info["gateway"], Path(args.db), mismatches, running
    )


def _fresh(out: Path) -> None:
    """Start from an empty run folder, removing only what a previous run wrote."""
    for name in ("units", "server", "keys", "election.json"):
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _count_and_send(
    options: NightOptions, definition_path: Path, plans: list[UnitPlan], gateway: str, echo: Echo
) -> Iterator[UnitResult]:
    context = multiprocessing.get_context("spawn")
    job = {
        "definition": str(definition_path),
        "seed": options.seed,
        "out": str(options.out),
        "images": options.images,
        "mark_policy": options.mark_policy,
        "modem_profile": options.modem_profile,
        "gateway": gateway,
    }
    with ProcessPoolExecutor(options.workers, mp_context=context) as pool:
        futures = [pool.submit(unit_job, job, plan) for plan in plans]
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            returned = sum(result.returned.values())
            echo(
                f"      [{done:>{len(str(len(plans)))}}/{len(plans)}] {result.unit} "
                f"({', '.join(result.contests)}): {result.ballots} ballots in "
                f"{result.seconds:.1f} s, {result.accepted} accepted, {returned} returned, "
                f"{result.marginal} marginal; {result.sent} messages ACKed in "
                f"{result.send_seconds:.1f} s"
            )
            yield result


def unit_job(job: dict[str, Any], plan: UnitPlan) -> UnitResult:
    """One unit's polling day, in a worker process."""
    from device import uplink
    from device.clock import FakeClock
    from device.hardware import ImageReader, Sheet, image_sheets
    from device.machine import Pcos, UnitConfig
    from device.session import run as run_session
    from device.signing import UnitKey
    from device.storage import DirStorage
    from device.tape import save
    from election.rules import RuleSet
    from transport.impair import profile
    from transport.keys import KeyStore
    from transport.link import Link, transmit
    from transport.modem import ModemEmulator

    election = definition.load(job["definition"])
    truth = votes.generate(election, seed=job["seed"])
    ballots = [
        b
        for i, b in enumerate(votes.ballots(truth, plan.dec, plan.contests[0]))
        if i % plan.shares == plan.share
    ]
    rules = RuleSet.named(election.rules)
    if job["images"]:
        sheets = image_sheets(election, ballots, job["seed"], job["mark_policy"])
        reader = ImageReader(election, plan.dec, rules)
    else:
        sheets = (Sheet(f"intent-{i:06d}", intent=b) for i, b in enumerate(ballots, 1))
        reader = None
    out = Path(job["out"])
    folder = out / "units" / plan.unit
    keys = KeyStore(out / "keys")
    unit_key = keys.unit_key(plan.unit)
    unit = Pcos(
        UnitConfig(plan.unit, plan.dec, plan.contests),
        election,
        DirStorage(folder),
        reader=reader,
        clock=FakeClock(DAY_START, tick=30.0),
        key=UnitKey(unit_key.sign.seed),
        rules=rules,
    )
    started = time.perf_counter()
    session = run_session(unit, sheets)
    seconds = time.perf_counter() - started
    files = [
        str(p) for report in (session.zero, session.final) for p in save(report, election, folder)
    ]

    host, port = job["gateway"].rsplit(":", 1)
    # Each unit's line has its own impairments: one seed per (run seed, unit).
    line_seed = int.from_bytes(hashlib.sha256(f"{job['seed']}/{plan.unit}".encode()).digest()[:4])
    modem = ModemEmulator((host, int(port)), profile(job["modem_profile"]), seed=line_seed)
    server_public = keys.server_public()
    fingerprint = definition.fingerprint(election)
    started = time.perf_counter()
    try:
        with Link(modem.start(), server_public, number="112", seed=line_seed) as link:

            def deliver(messages: list) -> None:
                receipts.extend(
                    transmit(link, unit_key, server_public, fingerprint, plan.dec, messages)
                )

            receipts: list = []
            deliver([uplink.zero_message(session.zero.to_json())])
            unit.transmit(lambda report: deliver(uplink.closing_messages(report)))
    finally:
        modem.stop()
    summary = unit.counters.summary()
    unit.power_off()
    return UnitResult(
        plan.unit,
        plan.dec,
        plan.contests,
        len(ballots),
        summary["accepted"],
        dict(summary["returned"]),
        summary["marginal_ballots"],
        seconds,
        len(receipts),
        time.perf_counter() - started,
        files,
    )


def _compare(service: Any, election: Election, truth: votes.GroundTruth) -> list[str]:
    """Every DEC's published tallies, summed per contest, against the ground truth.

    Waits (up to 30 s) until the publisher has every DEC; a DEC still awaiting or in
    quarantine is itself a mismatch.
    """
    deadline = time.monotonic() + 30
    while True:
        states = service.publisher.refresh().states
        if all(s.published for s in states.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    mismatches = [
        f"DEC {n}: {s.status} {'; '.join(p.message for p in s.problems)}".strip()
        for n, s in sorted(states.items())
        if not s.published
    ]
    published = [s for s in states.values() if s.published]
    for contest in election.contest_ids:
        got = total((s.tallies[contest] for s in published if contest in s.tallies), contest)
        if got != truth.total(contest):
            mismatches.append(
                f"{contest}: server {got.to_json()} != truth {truth.total(contest).to_json()}"
            )
    return mismatches
