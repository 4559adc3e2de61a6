"""Benchmark: verified packets/s into the central server, and page times on national data.

The national scenario's 4,988 active units each send their final results, sealed with
transport's sender code from the fixtures' ground truth (sealing is not timed).  Each
figure is the median of ``--runs`` runs, each on a fresh SQLite database (WAL,
synchronous=FULL), and every run must store every packet exactly once:

* ``gateway``: the real server (``server_stub.server.start``: gateway, intake, publisher,
  website) over loopback TCP, ``--connections`` units calling at a time, one connection
  per unit as a modem call would be.  Calls are served and packets verified by line
  workers (one process per core), then settled and stored by the server process with
  group commits, each ACK sent only after its group's commit.  The CPU time each
  process spent per packet is reported too (server, line workers, units).
* ``gateway_one_by_one`` (same run, alternating with ``gateway``, so that the ratio is
  fair on a shared machine): the same server with everything in its own process and one
  commit per packet, the way the gateway worked before line workers and group commit.
* ``gateway_night``: the same server, each unit's whole night over one call (zero
  report, results, audit-log head, each sent once the previous one is acknowledged,
  as ``pcos device transmit`` does): 14,964 packets.
* ``batch``: ``Intake.ingest`` in batches of ``--batch``, one commit per batch, in one
  thread (the HTTP endpoint's path; no publisher running).

The units run in a separate process, as they are separate machines: they send
pre-framed packets and keep the replies; every reply is then checked (an ACK signed by
the server for that unit, seq and content digest) outside the timed window, since a
unit's own verification costs the server nothing.

Then the website, filled with the national results, is timed with real HTTP requests
(national, region, district and DEC pages and the national API).  Writes JSON (machine,
load, commit, figures) to stdout and to ``--out``.

    .venv/bin/python bench/server.py [--runs 3] [--connections 64] [--out var/bench/server.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import selectors  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from multiprocessing.connection import Connection  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from election.model import Election  # noqa: E402
from fixtures import scenario, votes  # noqa: E402
from server_stub import auth, server  # noqa: E402
from server_stub.service import ResultsService  # noqa: E402
from tests.server_stub.pcos_sim import Fleet, provision, unit_tallies  # noqa: E402
from transport import frames, intake  # noqa: E402
from transport.crypto import VerifyKey  # noqa: E402
from transport.keys import KeyStore  # noqa: E402
from transport.packet import MessageType, read_reply  # noqa: E402

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


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# The units: a separate process ---------------------------------------------------------------


@dataclass
class _Line:
    """One unit's call in progress: its pre-framed packets, what of the current one is
    still to be sent, and the reply packets so far."""

    index: int
    wires: list[bytes]
    sock: socket.socket
    pending: bytes
    dialled: float
    reader: frames.FrameReader = field(default_factory=frames.FrameReader)
    reassembler: frames.Reassembler = field(default_factory=frames.Reassembler)
    replies: list[bytes] = field(default_factory=list)

    def replied(self, data: bytes) -> bool:
        """Take ``data`` from the line; True once a whole reply packet has been added."""
        for frame_bytes in self.reader.feed(data):
            frame = frames.decode(frame_bytes)
            if isinstance(frame, frames.Chunk):
                reply = self.reassembler.add(frame)
                if reply is not None:
                    self.replies.append(reply)
                    return True
        return False


def _dial_all(
    address: tuple[str, int], calls: list[list[bytes]], connections: int
) -> tuple[list[list[bytes] | None], list[float]]:
    """Make every call, ``connections`` at a time, from one thread: each call sends its
    packets one by one, each once the previous one is answered, as a unit does.
    Returns each call's replies and how long each call lasted (seconds, from dialling
    to its last answer: what a unit's modem line is held for).

    One thread polling every line, rather than a thread per line: the units' process
    shares the server's cores, and 64 threads contending for the GIL cost it about
    1.5 times the CPU per packet (measured: 138 against 92 µs).
    """
    replies: list[list[bytes] | None] = [None] * len(calls)
    durations: list[float] = []
    todo = iter(range(len(calls)))
    with selectors.DefaultSelector() as selector:

        def dial() -> None:
            index = next(todo, None)
            if index is None:
                return
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(address)  # in progress: writable once connected
            line = _Line(index, calls[index], sock, calls[index][0], time.perf_counter())
            selector.register(sock, selectors.EVENT_WRITE, line)

        for _ in range(connections):
            dial()
        while selector.get_map():
            ready = selector.select(timeout=60)
            if not ready:
                raise TimeoutError("no gateway answer for 60 s")
            for key, _ in ready:
                line: _Line = key.data
                if line.pending:
                    line.pending = line.pending[line.sock.send(line.pending) :]
                    if not line.pending:
                        selector.modify(line.sock, selectors.EVENT_READ, line)
                    continue
                data = line.sock.recv(65536)
                if not data:
                    raise ConnectionError("gateway closed the connection")
                if not line.replied(data):
                    continue
                if len(line.replies) < len(line.wires):
                    line.pending = line.wires[len(line.replies)]
                    selector.modify(line.sock, selectors.EVENT_WRITE, line)
                    continue
                selector.unregister(line.sock)
                line.sock.close()
                replies[line.index] = line.replies
                durations.append(time.perf_counter() - line.dialled)
                dial()
    return replies, durations


def _units(
    address: tuple[str, int], calls: list[list[bytes]], connections: int, out: Connection
) -> None:
    """Child process: every call, ``connections`` at a time; sends back (seconds, CPU
    seconds, replies in the order of ``calls``, each call's duration)."""
    out.recv()  # the parent's go
    start, cpu = time.perf_counter(), time.process_time()
    replies, durations = _dial_all(address, calls, connections)
    out.send((time.perf_counter() - start, time.process_time() - cpu, replies, durations))


def _send_all(
    address: tuple[str, int], calls: list[list[bytes]], connections: int
) -> tuple[float, float, list, list[float]]:
    """(seconds, the units' CPU seconds, replies, each call's seconds) of making every
    call."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_units, args=(address, calls, connections, theirs))
    child.start()
    ours.send("go")
    seconds, cpu, replies, durations = ours.recv()
    child.join()
    return seconds, cpu, replies, durations


def _acks(world: World, workload: Workload, replies: list[list[bytes] | None]) -> int:
    """How many replies are ACKs, signed by the server, for their packet's unit, seq and
    content digest (raises on anything else: a benchmark must not count wrong answers)."""
    key = VerifyKey(world.fleet.server.sign)
    count = 0
    for expected, answers in zip(workload.expected, replies, strict=True):
        assert answers is not None and len(answers) == len(expected)
        for (unit, seq, digest), reply in zip(expected, answers, strict=True):
            ack = read_reply(reply, key)
            assert ack.header.type is MessageType.ACK, ack.body
            assert (ack.header.unit, ack.header.seq, ack.body["digest"]) == (unit, seq, digest)
            count += 1
    return count


# The figures --------------------------------------------------------------------------------


@dataclass
class Workload:
    """Calls to make (pre-framed packets, in order) and what each ACK must name."""

    calls: list[list[bytes]]
    expected: list[list[tuple[str, int, bytes]]]

    @property
    def packets(self) -> int:
        return sum(len(c) for c in self.calls)


class World:
    """The election, its sealed packets and a factory of fresh servers.

    Two workloads: ``results``, each unit's final results over a call of its own; and
    ``night``, each unit's whole night over one call (zero report, results, audit-log
    head, each sent once the previous one is acknowledged, as ``pcos device transmit``
    does).
    """

    def __init__(self, work: Path):
        self.work = work
        self.election: Election = scenario.build("kg2021", "national", 0)
        truth = votes.generate(self.election, 0)
        self.keys: KeyStore = provision(work / "keys", self.election)
        self.fleet = Fleet(self.election, self.keys)
        t0 = time.perf_counter()
        self.packets: list[bytes] = []
        for dec in self.election.decs:
            for unit, payload in self._payloads(dec.number, truth):
                self.packets.append(
                    self.fleet.packet(
                        unit, dec.number, MessageType.RESULTS, 2, payload, 1_638_108_600
                    )
                )
        night: dict[str, list[bytes]] = {}
        for unit, packet in self.fleet.night(truth):
            night.setdefault(unit, []).append(packet)
        self.sealing_s = time.perf_counter() - t0
        self.workloads = {
            "results": self._workload([[p] for p in self.packets]),
            "night": self._workload(list(night.values())),
        }
        self.tokens = work / "tokens.json"
        auth.issue(self.election, self.tokens)
        self.runs = 0

    def _workload(self, calls: list[list[bytes]]) -> Workload:
        """Frames every packet (512-byte chunks, as on the line) and works out its ACK."""
        registry, server = self.keys.registry(), self.keys.server_keys()

        def expected(packet: bytes) -> tuple[str, int, bytes]:
            verified = intake.authenticate(
                packet, registry, server=server, election=self.fleet.fingerprint
            )
            return verified.unit, verified.seq, verified.digest

        return Workload(
            [[b"".join(frames.encode(c) for c in frames.split(p, 512)) for p in c] for c in calls],
            [[expected(p) for p in c] for c in calls],
        )

    def _payloads(self, dec: int, truth: votes.GroundTruth) -> list[tuple[str, dict]]:
        record = truth.decs[dec]
        tallies = unit_tallies(self.election, record)
        return [
            (unit, self.fleet.results_payload(record, t))
            for unit, t in zip(self.fleet.units[dec], tallies, strict=False)
        ]

    def options(self) -> argparse.Namespace:
        self.runs += 1
        return argparse.Namespace(
            db=str(self.work / f"run{self.runs}.db"),
            keys=str(self.keys.root),
            host="127.0.0.1",
            port=0,
            gateway_port=0,
            tokens=str(self.tokens),
            uploads=str(self.work / "uploads"),
            roll_margin=0,
            refresh=1.0,
        )

    def service(self) -> ResultsService:
        return server.build(self.election, self.options())


@dataclass
class GatewayRun:
    """One run through a freshly started server: packets/s, the CPU time each party
    spent per packet (the server process, its line workers, the units' process), and
    how long the calls lasted (ms: p50, p95, p99, max)."""

    rate: float
    cpu_us: dict[str, float]
    call_ms: dict[str, float]
    running: server.Running


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gateway_run(
    world: World, connections: int, workload: str = "results", **gateway: int
) -> GatewayRun:
    """Packets/s through a freshly started server (left running for the caller)."""
    work = world.workloads[workload]
    options = world.options()
    running = server.start(server.build(world.election, options), options, **gateway)
    time.sleep(1.0)  # line workers import their modules
    pids = getattr(running.gateway, "pids", [])
    workers_before = sum(_cpu_seconds(p) for p in pids)
    server_before = time.process_time()
    seconds, units_cpu, replies, durations = _send_all(
        running.gateway.address, work.calls, connections
    )
    server_cpu = time.process_time() - server_before
    workers_cpu = sum(_cpu_seconds(p) for p in pids) - workers_before
    acks = _acks(world, work, replies)
    stored = running.service.store.report_count()
    assert acks == stored == work.packets, (acks, stored)
    per_packet = 1e6 / work.packets
    cpu_us = {
        "server_process": round(server_cpu * per_packet),
        "line_workers": round(workers_cpu * per_packet),
        "units_process": round(units_cpu * per_packet),
    }
    ms = [1000 * d for d in durations]
    call_ms = {f"p{q}": round(_percentile(ms, q / 100), 1) for q in (50, 95, 99)}
    call_ms["max"] = round(max(ms), 1)
    return GatewayRun(work.packets / seconds, cpu_us, call_ms, running)


def night_run(world: World, connections: int) -> float:
    """Packets/s of the ``night`` workload: a unit's three messages per call."""
    done = gateway_run(world, connections, "night")
    done.running.stop()
    return done.rate


def batch_run(world: World, batch: int) -> float:
    service = world.service()
    t0 = time.perf_counter()
    for i in range(0, len(world.packets), batch):
        for verdict in service.intake.ingest(world.packets[i : i + batch]):
            assert verdict.status == "accepted", verdict.status
    seconds = time.perf_counter() - t0
    assert service.store.report_count() == len(world.packets)
    service.close()
    return len(world.packets) / seconds


def page_times(running: server.Running, requests: int) -> dict[str, list[float]]:
    election = running.service.election
    pages = {
        "national": "/?lang=en",
        "national_api": "/api/v1/national",
        "region": f"/region/{election.regions[0].code}",
        "district": f"/district/{election.districts[0].number}",
        "dec": f"/dec/{election.decs[0].number}",
    }
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=running.url) as client:
        for name, url in pages.items():
            client.get(url).raise_for_status()
            samples = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.get(url).raise_for_status()
                samples.append(1000 * (time.perf_counter() - t0))
            timings[name] = samples
    return timings


def _summary(rates: list[float]) -> dict[str, Any]:
    return {
        "packets_per_s": round(statistics.median(rates), 1),
        "runs": [round(r, 1) for r in rates],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    parser.add_argument("--connections", type=int, default=64, help="units calling at a time")
    parser.add_argument("--batch", type=int, default=250, help="packets per ingest() call")
    parser.add_argument("--requests", type=int, default=100, help="requests per page")
    parser.add_argument("--out", default="var/bench/server.json")
    args = parser.parse_args()

    world = World(Path(tempfile.mkdtemp(prefix="pcos-bench-server-")))
    load_before = _machine()["load_average_1min"]
    grouped: list[float] = []
    one_by_one: list[float] = []
    batches: list[float] = []
    cpu: list[dict[str, float]] = []
    call_ms: list[dict[str, float]] = []
    nights: list[float] = []
    for run in range(args.runs):  # alternating, so that both see the same machine
        done = gateway_run(world, args.connections, workers=0, max_batch=1)
        done.running.stop()
        one_by_one.append(done.rate)
        grouped_run = gateway_run(world, args.connections)
        grouped.append(grouped_run.rate)
        cpu.append(grouped_run.cpu_us)
        call_ms.append(grouped_run.call_ms)
        running = grouped_run.running
        if run < args.runs - 1:  # the last one stays up for the page times
            running.stop()
        batches.append(batch_run(world, args.batch))
        nights.append(night_run(world, args.connections))
    snapshot_t0 = time.perf_counter()
    running.service.publisher.refresh()
    snapshot_s = time.perf_counter() - snapshot_t0
    progress = running.service.national()["progress"]
    groups = running.gateway.groups
    timings = page_times(running, args.requests)
    running.stop()
    every = [v for s in timings.values() for v in s]
    p95 = _percentile(every, 0.95)
    gateway = _summary(grouped)
    cpu_us = {k: statistics.median(c[k] for c in cpu) for k in cpu[0]}
    result = {
        "benchmark": "server",
        "what": "national results packets (4,988 units) into SQLite; page times on national data",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {**_machine(), "load_average_1min_at_start": load_before},
        "commit": _commit(),
        "units": len(world.packets),
        "packet_bytes_mean": round(statistics.mean(len(p) for p in world.packets)),
        "sealing_s": round(world.sealing_s, 2),
        "gateway": {
            **gateway,
            "connections": args.connections,
            "line_worker_processes": os.cpu_count(),
            "cpu_us_per_packet": cpu_us,
            # What the CPU time per packet would allow if every core were ours; a
            # derived figure, to read the measured rate against on a shared machine.
            "cpu_bound_packets_per_s": round((os.cpu_count() or 1) * 1e6 / sum(cpu_us.values())),
            # How long a unit's call lasted, dialling to ACK (medians over the runs).
            "call_ms": {k: statistics.median(c[k] for c in call_ms) for k in call_ms[0]},
            "group_commit": {"max_batch": 256, "groups_last_run": groups},
        },
        "gateway_night": {
            **_summary(nights),
            "units_per_s": round(statistics.median(nights) / 3, 1),
            "packets": world.workloads["night"].packets,
        },
        "gateway_one_by_one": {**_summary(one_by_one), "connections": args.connections},
        "gateway_speedup": round(statistics.median(grouped) / statistics.median(one_by_one), 2),
        "batch": {**_summary(batches), "batch_size": args.batch},
        "snapshot_refresh_s": round(snapshot_s, 3),
        "decs_published": progress["decs_published"],
        "pages_ms": {
            name: {"p50": round(statistics.median(s), 2), "p95": round(_percentile(s, 0.95), 2)}
            for name, s in timings.items()
        },
        "p95_ms_all_pages": round(p95, 2),
        "targets": {"packets_per_s": TARGET_PACKETS_S, "p95_ms": TARGET_P95_MS},
        "meets_targets": {
            "gateway_packets_per_s": gateway["packets_per_s"] >= TARGET_PACKETS_S,
            "gateway_night_packets_per_s": statistics.median(nights) >= TARGET_PACKETS_S,
            "batch_packets_per_s": statistics.median(batches) >= TARGET_PACKETS_S,
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
