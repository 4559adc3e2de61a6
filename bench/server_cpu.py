"""Micro-benchmark: the server process's CPU time per packet, without networking.

``bench/server.py`` measures the whole server; this isolates what the server process
does per packet once a line worker has authenticated it, so that a change to that path
can be measured in seconds instead of minutes and without the noise of the other
processes:

* ``unpickle``: decoding the groups of authenticated packets the line workers send up;
* ``commit``: :func:`transport.intake.settle` of each group against the intake's replay
  memory, with :meth:`Intake.commit` storing it in SQLite (WAL, synchronous=FULL) and
  feeding the ledger (parsing every payload);
* ``refresh``: :meth:`Publisher.refresh` every ``--every`` packets, as the background
  loop does about once a second (2,000 packets at the target rate of 2,000 packets/s).

Every packet of the national scenario (4,988 units' final results) is authenticated
and its ACK signed in advance outside the timed window, as the line workers do.  Times
are CPU seconds of this thread, reported as µs per packet: min and median over
``--repeats`` runs, each on a fresh database.

The sealed packets and keys are built once (about 30 s) and kept in ``--cache``.
``--code DIR ...`` runs the measurement once per directory, in turns and each in a
fresh process importing the project from that directory, to compare two versions of
the code on the same machine at the same time (e.g. an unpacked ``git archive`` of the
base commit against ``.``)::

    .venv/bin/python bench/server_cpu.py [--group 32] [--every 2000] [--repeats 5]
    .venv/bin/python bench/server_cpu.py --code var/base . --repeats 5
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _world(cache: Path) -> tuple[list[bytes], Path]:
    """The sealed packets and the key directory, built once into ``cache``."""
    packets_file = cache / "packets.pickle"
    if not packets_file.exists():
        sys.path.insert(0, str(ROOT / "bench"))
        import server as bench_server  # bench/server.py: the same World

        world = bench_server.World(cache)
        packets_file.write_bytes(pickle.dumps(world.packets))
    return pickle.loads(packets_file.read_bytes()), cache / "keys"


def measure(cache: Path, group: int, every: int, repeats: int) -> dict:
    """One process's figures for the code it imports (see the module docstring)."""
    from dataclasses import replace

    from fixtures import scenario
    from server_stub.auth import Auth, issue
    from server_stub.service import ResultsService
    from server_stub.store_sqlite import SqliteStore
    from transport import intake
    from transport.keys import KeyStore
    from transport.line_workers import tune_gc
    from transport.packet import message_id

    packets, keys_dir = _world(cache)
    election = scenario.build("kg2021", "national", 0)
    keys = KeyStore(keys_dir)
    work = Path(tempfile.mkdtemp(prefix="pcos-server-cpu-"))
    issue(election, work / "tokens.json")

    def service() -> ResultsService:
        return ResultsService(
            election=election,
            store=SqliteStore(work / f"run{time.monotonic_ns()}.db"),
            registry=keys.registry(),
            server_keys=keys.server_keys(),
            auth=Auth.load(work / "tokens.json"),
            uploads_dir=work / "uploads",
        )

    first = service()
    now = int(time.time())
    checked = []
    for data in packets:
        verified = intake.authenticate(
            data, first.registry, server=first.server_keys, election=first.fingerprint
        )
        ack = intake.signed_ack(verified, first.server_keys, now)
        checked.append((message_id(data), replace(verified, ack=ack)))
    first.close()
    groups = [checked[i : i + group] for i in range(0, len(checked), group)]
    pickled = [pickle.dumps([(n, m, c) for n, (m, c) in enumerate(g)]) for g in groups]
    tune_gc()

    runs = []
    for _ in range(repeats):
        svc = service()
        spent = {"unpickle": 0.0, "commit": 0.0, "refresh": 0.0}
        refreshes, since = 0, 0
        for blob, items in zip(pickled, groups, strict=True):
            t0 = time.thread_time()
            pickle.loads(blob)
            t1 = time.thread_time()
            verdicts = intake.settle(
                items, svc.intake, svc.intake.commit, svc.server_keys, svc.fingerprint, now
            )
            t2 = time.thread_time()
            spent["unpickle"] += t1 - t0
            spent["commit"] += t2 - t1
            assert all(v.status == "accepted" for v in verdicts)
            since += len(items)
            if since >= every or blob is pickled[-1]:
                t3 = time.thread_time()
                svc.publisher.refresh()
                spent["refresh"] += time.thread_time() - t3
                refreshes, since = refreshes + 1, 0
        national = svc.snapshot.national
        assert national["progress"]["decs_published"] == len(election.decs), national["progress"]
        assert not svc.publisher.alarms
        runs.append({k: 1e6 * v / len(packets) for k, v in spent.items()})
        svc.close()
    return {"packets": len(packets), "refreshes": refreshes, "us_per_packet": summary(runs)}


def summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Min and median of each part over the runs, and of their total."""
    totals = [{**r, "total": sum(r.values())} for r in runs]
    return {
        k: {
            "min": round(min(r[k] for r in totals), 1),
            "median": round(statistics.median(r[k] for r in totals), 1),
        }
        for k in totals[0]
    }


def parser_for(doc: str) -> argparse.ArgumentParser:
    """The options of a CPU micro-benchmark: the packet cache, repeats, and code trees
    to compare in turns."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--cache", default=str(ROOT / "var" / "bench" / "server-cpu-cache"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--code", nargs="*", help="project directories to compare, in turns")
    parser.add_argument("--rounds", type=int, default=1, help="turns per --code directory")
    parser.add_argument("--root", default=str(ROOT), help="the project directory to import")
    return parser


def in_turns(script: str, cache: Path, codes: list[str], rounds: int, options: list[str]) -> dict:
    """``script``'s figures for each project directory in ``codes``, ``rounds`` times, in
    turns and each in a fresh process (the sealed packets in ``cache`` built first)."""
    _world(cache)
    results: dict[str, list] = {}
    for _ in range(rounds):
        for code in codes:
            out = subprocess.run(
                [sys.executable, script, "--cache", str(cache), "--root", code, *options],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results.setdefault(code, []).append(json.loads(out)["us_per_packet"])
    return results


def main() -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--group", type=int, default=32, help="packets per group commit")
    parser.add_argument("--every", type=int, default=2000, help="packets between refreshes")
    args = parser.parse_args()
    cache = Path(args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    options = [
        "--group",
        str(args.group),
        "--every",
        str(args.every),
        "--repeats",
        str(args.repeats),
    ]
    if not args.code:
        sys.path.insert(0, str(Path(args.root).resolve()))
        result = measure(cache, args.group, args.every, args.repeats)
        print(json.dumps(result, indent=1))
        return 0
    print(json.dumps(in_turns(__file__, cache, args.code, args.rounds, options), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
