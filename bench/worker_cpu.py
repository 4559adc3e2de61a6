"""Micro-benchmark: a line worker's CPU time per packet, without sockets or processes.

``bench/server.py`` measures the whole server on a shared, noisy machine, where the CPU
time of the same code swings by a third from run to run.  This isolates what a line
worker does per packet, in one thread, so that a change to that path can be compared in
seconds, old and new in turns:

* ``frame``: the call's bytes cut into frames, decoded and reassembled
  (``Switchboard.frame``);
* ``authenticate``: transport's checks and the ACK signed in advance
  (``Switchboard.authenticate`` with ``presign``);
* ``pipe``: pickling the authenticated packet for the server process, and unpickling its
  verdict;
* ``answer``: the reply frames (``Switchboard.answered``).

Every packet of the national scenario (4,988 units' final results, framed as their
units send them) goes through once per repeat, on a fresh switchboard.  Times are CPU
seconds of this thread per packet, in µs: min and median over ``--repeats``.  The sealed
packets and keys are shared with ``bench/server_cpu.py`` (``--cache``, built once).
``--code DIR ...`` runs the measurement once per directory, in turns and each in a
fresh process importing the project from that directory::

    .venv/bin/python bench/worker_cpu.py [--repeats 5]
    .venv/bin/python bench/worker_cpu.py --code var/base . --rounds 3
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(cache: Path, repeats: int) -> dict:
    """One process's figures for the code it imports (see the module docstring)."""
    sys.path.append(str(ROOT / "bench"))
    from server_cpu import _world, summary  # the same sealed packets and keys

    from election.definition import fingerprint
    from fixtures import scenario
    from transport import frames
    from transport.gateway import Switchboard
    from transport.intake import Verdict
    from transport.keys import KeyStore
    from transport.line_workers import tune_gc

    packets, keys_dir = _world(cache)
    keys = KeyStore(keys_dir)
    registry, server = keys.registry(), keys.server_keys()
    election = fingerprint(scenario.build("kg2021", "national", 0))
    calls = [b"".join(frames.encode(c) for c in frames.split(p)) for p in packets]
    tune_gc()

    runs = []
    for _ in range(repeats):
        board = Switchboard(registry, server, election, presign=True)
        spent = dict.fromkeys(("frame", "authenticate", "pipe", "answer"), 0.0)
        for call in calls:
            t0 = time.thread_time()
            reader, packet, message = frames.FrameReader(), None, b""
            for wire in reader.feed(call):
                packet, message, _ = board.frame(wire)
            t1 = time.thread_time()
            assert packet is not None, "a call's frames did not make its packet"
            checked = board.authenticate(packet)
            t2 = time.thread_time()
            pickle.dumps([(1, message, checked)])
            verdict = pickle.loads(pickle.dumps([(1, Verdict(checked.ack, "accepted"))]))[0][1]
            t3 = time.thread_time()
            board.answered(message, verdict)
            t4 = time.thread_time()
            for name, took in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[name] += took
        assert board.stats["accepted"] == len(calls), board.stats
        runs.append({k: 1e6 * v / len(calls) for k, v in spent.items()})
    return {"packets": len(calls), "us_per_packet": summary(runs)}


def main() -> int:
    sys.path.append(str(ROOT / "bench"))
    from server_cpu import in_turns, parser_for

    args = parser_for(__doc__).parse_args()
    cache = Path(args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    if not args.code:
        sys.path.insert(0, str(Path(args.root).resolve()))
        print(json.dumps(measure(cache, args.repeats), indent=1))
        return 0
    options = ["--repeats", str(args.repeats)]
    print(json.dumps(in_turns(__file__, cache, args.code, args.rounds, options), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
