"""A stand-in for the PCOS units until the device exists: fixtures truth -> sealed packets.

Every DEC's units are provisioned with transport's key store and send what a unit would
send on election night: a zero report, the final results and the audit-log head.  A
home DEC's first unit counts the PR ballot and its second the SMD ballot; an abroad
DEC's two units split the PR ballots between them.  Packets are sealed with transport's
sender-side code, so the server sees exactly what a real unit's link would deliver.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from election import definition
from election.model import AGAINST_ALL, PR_CONTEST_ID, Election
from election.tally import ContestTally
from fixtures.votes import DecTruth, GroundTruth
from transport import frames
from transport.crypto import VerifyKey
from transport.keys import KeyStore, ServerPublic, UnitKey
from transport.packet import Header, MessageType, Reply, read_reply, seal

T_OPEN, T_CLOSE = 1_638_064_800, 1_638_108_000  # 28 Nov 2021 08:00 and 20:00, UTC+6


def unit_ids(election: Election) -> dict[int, list[str]]:
    return {
        d.number: [f"PCOS-{d.number}-{k}" for k in range(1, d.units + 1)] for d in election.decs
    }


def provision(root: Path, election: Election, seed: int = 1) -> KeyStore:
    keys = KeyStore(root)
    keys.provision([u for units in unit_ids(election).values() for u in units], seed=seed)
    return keys


def _half(n: int, first: bool) -> int:
    return n // 2 if first else n - n // 2


def split(tally: ContestTally, first: bool) -> ContestTally:
    """One of two units' share of a DEC's ballots of one contest."""
    return ContestTally(
        tally.contest,
        {o: _half(n, first) for o, n in tally.votes.items()},
        _half(tally.blank, first),
        _half(tally.overvote, first),
        {
            p: {pos: _half(n, first) for pos, n in prefs.items()}
            for p, prefs in tally.preferences.items()
        },
    )


def unit_tallies(election: Election, record: DecTruth) -> list[dict[str, ContestTally]]:
    """Each unit's tallies, in unit order."""
    dec = election.dec(record.dec)
    pr = record.tallies[PR_CONTEST_ID]
    if dec.abroad:
        return [{PR_CONTEST_ID: split(pr, True)}, {PR_CONTEST_ID: split(pr, False)}][: dec.units]
    smd = election.district(dec.district).contest_id
    return [{PR_CONTEST_ID: pr}, {smd: record.tallies[smd]}][: dec.units]


def cvrs(tally: ContestTally) -> list[dict[str, Any]]:
    """Ballot records that add up to ``tally`` (preferences credited in list order)."""
    out: list[dict[str, Any]] = []
    for option, n in sorted(tally.votes.items()):
        positions = [
            pos for pos, k in sorted(tally.preferences.get(option, {}).items()) for _ in range(k)
        ]
        for i in range(n):
            record: dict[str, Any] = {"c": tally.contest, "k": "vote", "o": option}
            if i < len(positions) and option != AGAINST_ALL:
                record["p"] = positions[i]
            out.append(record)
    out += [{"c": tally.contest, "k": "blank"}] * tally.blank
    out += [{"c": tally.contest, "k": "overvote"}] * tally.overvote
    return out


@dataclass
class Fleet:
    """Every unit of an election, ready to seal packets for the server."""

    election: Election
    keys: KeyStore
    with_cvrs: bool = False

    def __post_init__(self) -> None:
        self.fingerprint = definition.fingerprint(self.election)
        self.server: ServerPublic = self.keys.server_public()
        self.units = unit_ids(self.election)
        self._keys: dict[str, UnitKey] = {}

    def key(self, unit: str) -> UnitKey:
        if unit not in self._keys:
            self._keys[unit] = self.keys.unit_key(unit)
        return self._keys[unit]

    def packet(
        self, unit: str, dec: int, kind: MessageType, seq: int, payload: Mapping[str, Any], ts: int
    ) -> bytes:
        header = Header(kind, unit, self.fingerprint, dec, seq, ts)
        return seal(header, dict(payload), self.key(unit).sign, self.server.kex)

    def results_payload(
        self, record: DecTruth, tallies: Mapping[str, ContestTally]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "dec": record.dec,
            "participants": record.participants,
            "contests": [t.to_json() for _, t in sorted(tallies.items())],
        }
        if self.with_cvrs:
            payload["cvrs"] = [r for t in tallies.values() for r in cvrs(t)]
        return payload

    def dec_packets(self, record: DecTruth) -> Iterator[tuple[str, bytes]]:
        """(unit, packet) for a DEC's night: zero reports, results, audit heads."""
        units = self.units[record.dec]
        for unit, tallies in zip(units, unit_tallies(self.election, record), strict=False):
            zero = {
                "dec": record.dec,
                "contests": [ContestTally(c).to_json() for c in sorted(tallies)],
            }
            head = hashlib.sha256(f"{unit}/{record.dec}".encode()).hexdigest()
            yield (
                unit,
                self.packet(unit, record.dec, MessageType.ZERO_REPORT, 1, zero, T_OPEN - 1800),
            )
            yield (
                unit,
                self.packet(
                    unit,
                    record.dec,
                    MessageType.RESULTS,
                    2,
                    self.results_payload(record, tallies),
                    T_CLOSE + 600,
                ),
            )
            yield (
                unit,
                self.packet(
                    unit,
                    record.dec,
                    MessageType.AUDIT_HEAD,
                    3,
                    {"head": head, "count": 100},
                    T_CLOSE + 601,
                ),
            )

    def night(self, truth: GroundTruth) -> list[tuple[str, bytes]]:
        return [p for d in self.election.decs for p in self.dec_packets(truth.decs[d.number])]


class WireClient:
    """A unit's line to the gateway over loopback TCP, without a modem: stop-and-wait,
    one packet at a time, as transport's frames carry it.  Returns the verified reply."""

    def __init__(self, address: tuple[str, int], server_sign: bytes, timeout: float = 30.0):
        self.sock = socket.create_connection(address, timeout=timeout)
        self.key = VerifyKey(server_sign)
        self.reader = frames.FrameReader()
        self.reassembler = frames.Reassembler()

    def send(self, packet: bytes) -> Reply:
        self.sock.sendall(b"".join(frames.encode(c) for c in frames.split(packet, 512)))
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("gateway closed the connection")
            for wire in self.reader.feed(data):
                frame = frames.decode(wire)
                if isinstance(frame, frames.Chunk):
                    reply = self.reassembler.add(frame)
                    if reply is not None:
                        return read_reply(reply, self.key)

    def close(self) -> None:
        self.sock.close()


def transmit(
    address: tuple[str, int],
    server_sign: bytes,
    by_unit: Mapping[str, list[bytes]],
    workers: int = 16,
) -> dict[tuple[str, int], Reply]:
    """Every unit sends its packets in order over its own connection; ``workers`` units
    at a time.  Returns the verified reply to each (unit, seq)."""
    replies: dict[tuple[str, int], Reply] = {}
    queue = list(by_unit.items())
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                _, packets = queue.pop()
            client = WireClient(address, server_sign)
            try:
                for packet in packets:
                    reply = client.send(packet)
                    with lock:
                        replies[reply.header.unit, reply.header.seq] = reply
            finally:
                client.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies
