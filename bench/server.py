"""Benchmark: verified packets/s into the central server, and page times on national data.

The national scenario's 4,988 active units each send their final results (sealed with
transport's sender code from the fixtures' ground truth; sealing is not timed):

* ``batch``: through ``Intake.ingest`` in batches, one durable SQLite commit (WAL,
  synchronous=FULL) per batch, replies released after the commit;
* ``gateway``: over loopback TCP through transport's gateway, 16 units at a time, one
  commit per packet (the gateway handles one packet at a time), every ACK verified.

Then the website, filled with the national results, is timed with real HTTP requests
(national, region, district and DEC pages and the national API).  Writes JSON (machine,
commit, figures) to stdout and to ``--out``.

    .venv/bin/python bench/server.py [--batch 250] [--requests 100] [--out var/bench/server.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402

from fixtures import scenario, votes  # noqa: E402
from server_stub import auth, server  # noqa: E402
from server_stub.service import ResultsService  # noqa: E402
from server_stub.store_sqlite import SqliteStore  # noqa: E402
from tests.server_stub.pcos_sim import Fleet, provision, transmit, unit_tallies  # noqa: E402
from transport.packet import MessageType  # noqa: E402

TARGET_PACKETS_S = 2000
TARGET_P95_MS = 200


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{'-dirty' if dirty else ''}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=250, help="packets per commit (batch path)")
    parser.add_argument("--requests", type=int, default=100, help="requests per page")
    parser.add_argument("--out", default="var/bench/server.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pcos-bench-server-"))
    election = scenario.build("kg2021", "national", 0)
    truth = votes.generate(election, 0)
    keys = provision(work / "keys", election)
    fleet = Fleet(election, keys)
    t0 = time.perf_counter()
    by_unit: dict[str, list[bytes]] = {}
    for dec in election.decs:
        record = truth.decs[dec.number]
        for unit, tallies in zip(
            fleet.units[dec.number], unit_tallies(election, record), strict=False
        ):
            payload = fleet.results_payload(record, tallies)
            by_unit[unit] = [
                fleet.packet(unit, dec.number, MessageType.RESULTS, 2, payload, 1_638_108_600)
            ]
    packets = [p for ps in by_unit.values() for p in ps]
    sealing_s = time.perf_counter() - t0
    tokens = work / "tokens.json"
    auth.issue(election, tokens)

    def service(db: Path) -> ResultsService:
        return ResultsService(
            election,
            SqliteStore(db),
            keys.registry(),
            keys.server_keys(),
            auth.Auth.load(tokens),
            work / "uploads",
        )

    batch = service(work / "batch.db")
    t0 = time.perf_counter()
    statuses: dict[str, int] = {}
    for i in range(0, len(packets), args.batch):
        for outcome in batch.intake.ingest(packets[i : i + args.batch]):
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    batch_s = time.perf_counter() - t0
    batch_stored = batch.store.report_count()
    batch.close()

    options = argparse.Namespace(
        db=str(work / "gateway.db"),
        keys=str(keys.root),
        host="127.0.0.1",
        port=0,
        gateway_port=0,
        tokens=str(tokens),
        uploads=str(work / "uploads"),
        roll_margin=0,
        refresh=1.0,
    )
    running = server.start(server.build(election, options), options)
    t0 = time.perf_counter()
    replies = transmit(running.gateway.address, fleet.server.sign, by_unit, workers=16)
    gateway_s = time.perf_counter() - t0
    acks = sum(r.header.type is MessageType.ACK for r in replies.values())
    gateway_stored = running.service.store.report_count()
    snapshot_t0 = time.perf_counter()
    running.service.publisher.refresh()
    snapshot_s = time.perf_counter() - snapshot_t0
    progress = running.service.national()["progress"]

    district = election.districts[0].number
    region = election.regions[0].code
    pages = {
        "national": "/?lang=en",
        "national_api": "/api/v1/national",
        "region": f"/region/{region}",
        "district": f"/district/{district}",
        "dec": f"/dec/{election.decs[0].number}",
    }
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=running.url) as client:
        for name, url in pages.items():
            client.get(url).raise_for_status()
            samples = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                client.get(url).raise_for_status()
                samples.append(1000 * (time.perf_counter() - t0))
            timings[name] = samples
    running.stop()
    every = [v for s in timings.values() for v in s]
    p95 = _percentile(every, 0.95)

    result = {
        "benchmark": "server",
        "what": "national results packets (4,988 units) into SQLite; page times on national data",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min": os.getloadavg()[0],
        },
        "commit": _commit(),
        "units": len(by_unit),
        "packets": len(packets),
        "packet_bytes_mean": round(statistics.mean(len(p) for p in packets)),
        "sealing_s": round(sealing_s, 2),
        "batch": {
            "packets_per_s": round(len(packets) / batch_s, 1),
            "seconds": round(batch_s, 2),
            "batch_size": args.batch,
            "stored": batch_stored,
            "statuses": statuses,
        },
        "gateway": {
            "packets_per_s": round(len(packets) / gateway_s, 1),
            "seconds": round(gateway_s, 2),
            "acks": acks,
            "stored": gateway_stored,
            "workers": 16,
        },
        "snapshot_refresh_s": round(snapshot_s, 3),
        "decs_published": progress["decs_published"],
        "pages_ms": {
            name: {"p50": round(statistics.median(s), 2), "p95": round(_percentile(s, 0.95), 2)}
            for name, s in timings.items()
        },
        "p95_ms_all_pages": round(p95, 2),
        "targets": {"packets_per_s": TARGET_PACKETS_S, "p95_ms": TARGET_P95_MS},
        "meets_targets": {
            "batch_packets_per_s": len(packets) / batch_s >= TARGET_PACKETS_S,
            "gateway_packets_per_s": len(packets) / gateway_s >= TARGET_PACKETS_S,
            "p95_ms": p95 <= TARGET_P95_MS,
        },
    }
    text = json.dumps(result, indent=1)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
