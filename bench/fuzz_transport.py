"""Fuzz benchmark: 100,000 hostile inputs to the receiver, counting crashes (goal: 0).

A crash is any exception other than a typed rejection, or a rejected input that changed
the replay state.  Random bytes rarely get past the CRC, so most cases are built to reach
deeper: damaged real frames, random bodies wrapped in a valid CRC and COBS, damaged real
packets, and well-formed packets with random header values signed by a registered unit
(which exercise header validation, the AEAD and the sequence rules).  Every wire frame
also goes through the gateway's receive path (decode, reassembly, verification, replies).
Seeded: the same seed replays the same cases.  Writes JSON (machine, commit, figures) to
stdout and to ``--out``.

    .venv/bin/python bench/fuzz_transport.py [--cases 100000] [--seed 0]
        [--out var/bench/fuzz_transport.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/transport.py would shadow the transport package: drop this directory from the path.
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import Counter  # noqa: E402

from harness import provenance  # noqa: E402
from transport import canonical, cobs, crc, errors, frames, intake  # noqa: E402
from transport.gateway import Gateway, MemorySink  # noqa: E402
from transport.keys import KeyStore  # noqa: E402
from transport.packet import Header, MessageType, parse, seal, signed_bytes  # noqa: E402

ELECTION = "f0" * 32
UNITS = ["PCOS-0001", "PCOS-0002"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        i, op = rng.randrange(len(out)), rng.randrange(6)
        if op == 0:
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[i] = rng.randrange(256)
        elif op == 2:
            del out[i : i + rng.randint(1, 8)]
        elif op == 3:
            out[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 4:
            out = out[:i]
        else:
            j = rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
    return bytes(out)


VALUES = [0, 1, -1, 2**63, 2**64 - 1, "", "PCOS-0001", ELECTION, "0" * 16, b"", bytes(12),
          bytes(32), None, True, 1.5, [], {}, "x" * 200]  # fmt: skip


class Fuzzer:
    def __init__(self, store: KeyStore, seed: int):
        self.rng = random.Random(seed)
        self.registry = store.registry()
        self.server = store.server_keys()
        self.replay = intake.MemoryReplayState()
        self.signers = {u: store.unit_key(u).sign for u in UNITS}
        server_public = store.server_public()
        self.packets = []
        for seq, size in ((1, 10), (2, 900), (3, 5000)):
            header = Header(MessageType.RESULTS, "PCOS-0001", ELECTION, 7, seq, 1_638_118_800)
            payload = {"pad": "v" * size, "seq": seq}
            self.packets.append(seal(header, payload, self.signers["PCOS-0001"], server_public.kex))
        verified = self._verify(self.packets[0])
        intake.acknowledge(verified, self.replay, self.server, now=1)
        self.wires = [frames.encode(c) for p in self.packets for c in frames.split(p, 200)]
        self.gateway = Gateway(self.registry, self.replay, self.server, ELECTION, MemorySink())
        self.kinds: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.crashes: list[dict] = []

    def _verify(self, data: bytes) -> intake.VerifiedPacket:
        return intake.verify(
            data, self.registry, self.replay, server=self.server, election=ELECTION
        )

    # Case generators ------------------------------------------------------------------------

    def random_bytes(self) -> bytes:
        data = self.rng.randbytes(self.rng.randint(0, 700))
        return b"\x83" + data if self.rng.random() < 0.3 else data

    def damaged_frame(self) -> bytes:
        return mutate(self.rng.choice(self.wires), self.rng)

    def crc_valid_frame(self) -> bytes:
        rng = self.rng
        body = bytearray(rng.randbytes(rng.randint(0, 600)))
        if body and rng.random() < 0.8:
            body[:3] = bytes([1, rng.choice([1, 2, 3]), 0])[: len(body)]
        return cobs.encode(crc.append(bytes(body))) + b"\x00"

    def damaged_packet(self) -> bytes:
        return mutate(self.rng.choice(self.packets), self.rng)

    def signed_odd_header(self) -> bytes:
        """A real body under a header with random changes, validly signed by a unit."""
        rng = self.rng
        envelope = parse(self.rng.choice(self.packets))
        fields = canonical.loads(envelope.header_bytes)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice([*fields, "extra"])
            if rng.random() < 0.2:
                fields.pop(key, None)
            else:
                fields[key] = rng.choice(VALUES)
        try:
            header_bytes = canonical.dumps(fields)
        except canonical.CanonicalError:
            header_bytes = canonical.dumps({"ver": 1})
        body = envelope.body if rng.random() < 0.8 else mutate(envelope.body, rng)
        signer = self.signers[rng.choice(UNITS)]
        signature = signer.sign(signed_bytes(header_bytes, body))
        return canonical.dumps([header_bytes, body, signature])

    # Running -------------------------------------------------------------------------------

    def case(self, index: int) -> None:
        kind = self.rng.choice(
            [
                "random_bytes",
                "damaged_frame",
                "crc_valid_frame",
                "damaged_packet",
                "signed_odd_header",
            ]
        )
        data = getattr(self, kind)()
        self.kinds[kind] += 1
        before = self.replay.snapshot()
        try:
            try:
                verified = self._verify(data)
                self.outcomes["duplicate" if verified.duplicate else "verified"] += 1
            except errors.Rejected as exc:
                self.outcomes[exc.code] += 1
                if self.replay.snapshot() != before:
                    raise AssertionError("a rejection changed the replay state") from exc
            with contextlib.suppress(errors.Rejected):
                frames.decode(data)
            self.gateway.receive(data if data.endswith(b"\x00") else data + b"\x00")
        except Exception as exc:
            self.crashes.append(
                {
                    "case": index,
                    "kind": kind,
                    "input": data.hex(),
                    "error": repr(exc),
                    "traceback": traceback.format_exc(limit=4),
                }
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="var/bench/fuzz_transport.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = KeyStore(Path(tmp) / "keys")
        store.provision(UNITS, seed=3)
        fuzzer = Fuzzer(store, args.seed)
        start = time.perf_counter()
        for index in range(args.cases):
            fuzzer.case(index)
        seconds = time.perf_counter() - start
        fuzzer.gateway.stop()
    result = {
        "benchmark": "fuzz_transport",
        "commit": provenance.commit(),
        "machine": provenance.machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": args.seed,
        "cases": args.cases,
        "crashes": len(fuzzer.crashes),
        "seconds": round(seconds, 2),
        "cases_per_second": round(args.cases / seconds, 1),
        "cases_by_kind": dict(sorted(fuzzer.kinds.items())),
        "verify_outcomes": dict(sorted(fuzzer.outcomes.items())),
        "gateway_counters": dict(sorted(fuzzer.gateway.stats.items())),
        "crash_examples": fuzzer.crashes[:5],
    }
    text = json.dumps(result, indent=1)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    sys.exit(1 if fuzzer.crashes else 0)


if __name__ == "__main__":
    main()
