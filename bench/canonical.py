"""Micro-benchmark: microseconds per ``transport.canonical.loads`` of what the server
decodes per packet (the outer array, the header map, the decrypted results payload), for
this tree's module and for the module at ``--base`` (read from git), alternated in one
process.  Payloads are every eighth DEC's units' final results of the kg2021 scenario
(distinct, about 500 bytes each); each figure is the best of ``--repeats`` passes.

    .venv/bin/python bench/canonical.py [--base HEAD] [--decs 200] [--repeats 25]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Make the repository's packages (fixtures, tests.server_stub) importable from anywhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import subprocess
import tempfile
import time
import types

from fixtures import scenario, votes
from tests.server_stub.pcos_sim import Fleet, provision, unit_tallies
from transport import canonical
from transport.packet import MessageType


def baseline(rev: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:transport/canonical.py"], check=True, capture_output=True
    ).stdout
    module = types.ModuleType("canonical_base")
    exec(compile(source, f"{rev}:transport/canonical.py", "exec"), module.__dict__)
    return module


def samples(decs: int) -> dict[str, list[bytes]]:
    election = scenario.build("kg2021", "national", 0)
    truth = votes.generate(election, 0)
    keys = provision(Path(tempfile.mkdtemp()) / "keys", election)
    fleet = Fleet(election, keys)
    out: dict[str, list[bytes]] = {"packet": [], "header": [], "payload": []}
    for dec in election.decs[::8][:decs]:
        record = truth.decs[dec.number]
        units = fleet.units[dec.number]
        for unit, tallies in zip(units, unit_tallies(election, record), strict=False):
            payload = fleet.results_payload(record, tallies)
            packet = fleet.packet(unit, dec.number, MessageType.RESULTS, 2, payload, 1_638_108_600)
            out["packet"].append(packet)
            out["header"].append(canonical.loads(packet)[0])
            out["payload"].append(canonical.dumps(payload))
    return out


def best_pass_us(loads, data: list[bytes]) -> float:
    start = time.perf_counter()
    for item in data:
        loads(item)
    return (time.perf_counter() - start) / len(data) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--decs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    base = baseline(args.base)
    for kind, data in samples(args.decs).items():
        assert [base.loads(d) for d in data] == [canonical.loads(d) for d in data]
        old = new = float("inf")
        for _ in range(args.repeats):
            old = min(old, best_pass_us(base.loads, data))
            new = min(new, best_pass_us(canonical.loads, data))
        then, now = f"{args.base}: {old:6.1f} us", f"this tree: {new:6.1f} us"
        print(f"{kind:8s} x{len(data)}  {then}  {now}  ({new / old:.2f}x)")


if __name__ == "__main__":
    main()
