"""SIGKILL the server mid-ingest, restart it: every acknowledged packet is in the store.

The server runs as a real process (``python -m server_stub.server``); units send over
the gateway and count the ACKs they verify.  After the kill nothing may be missing that
was acknowledged, and sending everything again after the restart yields only
duplicates (with the first ACKs) for what was stored and acceptances for the rest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from election import definition
from server_stub.store_sqlite import SqliteStore
from tests.server_stub.pcos_sim import WireClient
from transport.packet import MessageType


def _start(
    tmp: Path, election_file: Path, keys: Path, tokens: Path
) -> tuple[subprocess.Popen, dict]:
    process = subprocess.Popen(
        [sys.executable, "-m", "server_stub.server", "--election", str(election_file),
         "--db", str(tmp / "results.db"), "--keys", str(keys), "--tokens", str(tokens),
         "--uploads", str(tmp / "uploads"), "--port", "0", "--gateway-port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def _address(info: dict) -> tuple[str, int]:
    host, port = info["gateway"].rsplit(":", 1)
    return host, int(port)


def test_acknowledged_packets_survive_sigkill(election, fleet, keys, tokens, tmp_path):
    election_file = definition.save(election, tmp_path / "election.json")
    packets = [
        (unit, fleet.packet(unit, dec, MessageType.HEARTBEAT, seq, {"n": seq}, 1_638_108_000 + seq))
        for seq in range(1, 41)
        for dec, units in fleet.units.items()
        for unit in units
    ]
    by_unit: dict[str, list[bytes]] = {}
    for unit, packet in packets:
        by_unit.setdefault(unit, []).append(packet)
    process, info = _start(tmp_path, election_file, keys.root, tokens[0])
    acked: dict[tuple[str, int], bytes] = {}
    lock = threading.Lock()

    def unit_sends(unit: str) -> None:
        try:
            client = WireClient(_address(info), fleet.server.sign, timeout=10)
            for packet in by_unit[unit]:
                reply = client.send(packet)
                if reply.header.type is MessageType.ACK:
                    with lock:
                        acked[reply.header.unit, reply.header.seq] = reply.packet
        except (OSError, ConnectionError):
            return  # the server died under us: what was acknowledged is what counts

    threads = [threading.Thread(target=unit_sends, args=(u,)) for u in by_unit]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < len(packets) // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    for t in threads:
        t.join()
    assert 0 < len(acked) < len(packets), "the kill must land mid-ingest"

    stored = {(r.unit, r.seq) for r in SqliteStore(tmp_path / "results.db").reports()}
    assert set(acked) <= stored

    process, info = _start(tmp_path, election_file, keys.root, tokens[0])
    try:
        client = WireClient(_address(info), fleet.server.sign)
        for _, packet in packets:
            reply = client.send(packet)
            assert reply.header.type is MessageType.ACK
            first = acked.get((reply.header.unit, reply.header.seq))
            assert first is None or first == reply.packet
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    final = SqliteStore(tmp_path / "results.db").reports()
    assert len(final) == len(packets) == len({(r.unit, r.seq) for r in final})
