"""Benchmark: packets sealed and verified per second, and seconds to deliver one DEC's
results through the modem emulator over a 9,600 bps line.

Sealing is what a scanner does (X25519 with a fresh ephemeral key, HKDF, ChaCha20-Poly1305,
Ed25519 signature); verifying is what the server does per packet (the reverse, plus the
replay checks).  Delivery runs the real device link, the pty modem emulator and the
gateway end to end, with the ``rural-9600`` profile and with ``hostile`` limited to 9,600
bps.  Writes JSON (machine, commit, figures) to stdout and to ``--out``.

    .venv/bin/python bench/transport.py [--seconds 3] [--seeds 3] [--out var/bench/transport.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the package it measures: drop its own directory from the import
# path so that `import transport` finds the package, not this script.
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import cryptography  # noqa: E402
import serial  # noqa: E402

from election.model import AGAINST_ALL, PR_CONTEST_ID, smd_contest_id  # noqa: E402
from election.tally import ContestTally  # noqa: E402
from harness import provenance  # noqa: E402
from transport import canonical, intake  # noqa: E402
from transport.gateway import Gateway, MemorySink  # noqa: E402
from transport.impair import PROFILES  # noqa: E402
from transport.keys import KeyStore  # noqa: E402
from transport.link import Link, Outgoing, RetryPolicy, seal_outgoing  # noqa: E402
from transport.modem import ModemEmulator  # noqa: E402
from transport.packet import MessageType  # noqa: E402

ELECTION = "be" * 32
UNIT = "PCOS-0001"


def dec_results(dec: int) -> dict:
    """A full-size final report of one home DEC: PR (21 parties, 54 preference positions
    each) and SMD tallies with plausible counts."""
    parties = [f"P{i:02d}" for i in range(1, 22)]
    pr = ContestTally(
        PR_CONTEST_ID,
        votes={
            **{p: 50 + (dec * 7 + i * 13) % 300 for i, p in enumerate(parties)},
            AGAINST_ALL: 21,
        },
        blank=4,
        overvote=3,
        preferences={
            p: {pos: (dec + pos * i) % 40 for pos in range(1, 55)} for i, p in enumerate(parties)
        },
    )
    smd = ContestTally(
        smd_contest_id(1 + dec % 36), votes={f"C{i}": 100 + i * 17 for i in range(9)}
    )
    return {"dec": dec, "contests": [pr.to_json(), smd.to_json()]}


def _rate(seconds: float, step) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(count)
        count += 1
    return count / (time.perf_counter() - start)


def crypto_rates(store: KeyStore, seconds: float) -> dict:
    server_public, unit = store.server_public(), store.unit_key(UNIT)
    payload = dec_results(1001)

    def sealed(seq: int):
        item = Outgoing(MessageType.RESULTS, seq + 1, 1_638_118_800, payload)
        return seal_outgoing(item, unit, server_public, ELECTION, 1001)

    seal_rate = _rate(seconds, sealed)
    packets = [sealed(i).packet for i in range(200)]
    registry, server = store.registry(), store.server_keys()

    def verify(i: int) -> None:
        intake.verify(
            packets[i % 200], registry, intake.MemoryReplayState(), server=server, election=ELECTION
        )

    verify_rate = _rate(seconds, verify)
    return {
        "payload_bytes": len(canonical.dumps(payload)),
        "packet_bytes": len(packets[0]),
        "seal_per_second": round(seal_rate, 1),
        "verify_per_second": round(verify_rate, 1),
    }


def delivery(store: KeyStore, profile_name: str, seed: int) -> dict:
    """One DEC's results (one packet) over the 9,600 bps line; dialling timed apart."""
    line = PROFILES[profile_name]
    if line.rate != 9600:
        line = line.with_rate(9600)
    sink = MemorySink()
    gateway = Gateway(
        store.registry(), intake.MemoryReplayState(), store.server_keys(), ELECTION, sink
    )
    gateway.start()
    modem = ModemEmulator(gateway.address, line, seed=seed)
    server_public, unit = store.server_public(), store.unit_key(UNIT)
    item = Outgoing(MessageType.RESULTS, 1, 1_638_118_800, dec_results(1000 + seed))
    sealed = seal_outgoing(item, unit, server_public, ELECTION, 1001)
    try:
        with Link(
            modem.start(), server_public, number="0312", policy=RetryPolicy(), seed=seed
        ) as link:
            start = time.perf_counter()
            link.connect(time.monotonic() + 600)  # dial first: the two figures separate
            dialled = time.perf_counter()
            link.deliver(sealed)
            done = time.perf_counter()
            stats = dict(link.stats)
    finally:
        modem.stop()
        gateway.stop()
    assert sink.calls[(UNIT, 1)] == 1
    return {
        "seed": seed,
        "dial_seconds": round(dialled - start, 3),
        "deliver_seconds": round(done - dialled, 3),
        "total_seconds": round(done - start, 3),
        "packet_bytes": len(sealed.packet),
        "line_bytes_sent": stats["bytes_sent"],
        "redials": stats["dials"] - 1,
        "timeouts": stats["timeouts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per crypto figure")
    parser.add_argument("--seeds", type=int, default=3, help="delivery runs per profile")
    parser.add_argument("--out", default="var/bench/transport.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = KeyStore(Path(tmp) / "keys")
        store.provision([UNIT], seed=1)
        rates = crypto_rates(store, args.seconds)
        deliveries = {
            name: [delivery(store, name, seed) for seed in range(args.seeds)]
            for name in ("rural-9600", "hostile")
        }
    result = {
        "benchmark": "transport",
        "commit": provenance.commit(),
        "machine": provenance.machine(
            cryptography=cryptography.__version__, pyserial=serial.VERSION
        ),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        **rates,
        "delivery_9600bps": {
            name: {
                "median_deliver_seconds": statistics.median(r["deliver_seconds"] for r in runs),
                "median_total_seconds": statistics.median(r["total_seconds"] for r in runs),
                "runs": runs,
            }
            for name, runs in deliveries.items()
        },
    }
    text = json.dumps(result, indent=1)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
