"""Everything the server has received, held in memory for the pages.

The store is the durable record; the ledger is its working copy, fed by the intake
after each commit and by uploads, and rebuilt from the store at start-up.  It parses
each payload once and keeps it with its arrival facts, so that building a published
snapshot never touches the database or decodes CBOR again.  Reports fresh from the
intake come with their verified packet's payload (checked canonical by transport,
decoded once in this process), so only reports reloaded from the store are decoded here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server_stub import reports
from server_stub.store import StoredProtocol, StoredReport
from transport import canonical
from transport.packet import MessageType


@dataclass(frozen=True)
class Arrival:
    """One stored report as the pages show it; ``problem`` says why it cannot count."""

    id: int
    unit: str
    seq: int
    type: MessageType
    dec: int
    unit_ts: int
    received_at: float
    digest: str
    parsed: reports.Parsed
    problem: str | None


def arrival(report: StoredReport, payload: Mapping[str, Any] | None = None) -> Arrival:
    """Parse a stored report; an unreadable payload becomes a ``problem``, never an error.

    ``payload`` is ``canonical.loads(report.payload)`` when the caller already has it
    (the intake does: the verified packet's payload, decoded once); decoding again
    would cost as much as the parse itself.
    """
    kind = MessageType(report.type)
    parsed: reports.Parsed = None
    problem = None
    try:
        if payload is None:
            payload = canonical.loads(report.payload)
        parsed = reports.parse(kind, report.dec, payload)
    except (canonical.CanonicalError, reports.PayloadError) as exc:
        problem = f"{kind.name} payload: {exc}"
    assert report.id is not None
    return Arrival(
        report.id,
        report.unit,
        report.seq,
        kind,
        report.dec,
        report.unit_ts,
        report.received_at,
        report.digest.hex(),
        parsed,
        problem,
    )


class Ledger:
    """Reports by DEC and the latest manual protocol per (DEC, contest).

    ``version`` grows with every change so the publisher knows when to rebuild, and
    ``dirty`` names the DECs whose state must be evaluated again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_dec: dict[int, list[Arrival]] = {}
        self.protocols: dict[tuple[int, str], StoredProtocol] = {}
        self.version = 0
        self.dirty: set[int] = set()

    def add_reports(
        self,
        stored: Iterable[StoredReport],
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Add reports; ``payloads``, when given, are their decoded payloads in order."""
        items = list(stored)
        decoded = payloads if payloads is not None else [None] * len(items)
        if len(decoded) != len(items):
            raise ValueError(f"{len(items)} reports but {len(decoded)} payloads")
        with self._lock:
            for report, payload in zip(items, decoded, strict=True):
                item = arrival(report, payload)
                self.by_dec.setdefault(item.dec, []).append(item)
                self.dirty.add(item.dec)
            self.version += 1

    def add_protocol(self, protocol: StoredProtocol) -> None:
        with self._lock:
            self.protocols[protocol.dec, protocol.contest] = protocol
            self.dirty.add(protocol.dec)
            self.version += 1

    def take_dirty(self) -> tuple[int, set[int]]:
        """The current version and the DECs changed since the last call."""
        with self._lock:
            dirty, self.dirty = self.dirty, set()
            return self.version, dirty

    def arrivals(self, dec: int) -> list[Arrival]:
        with self._lock:
            return list(self.by_dec.get(dec, ()))

    def protocols_of(self, dec: int) -> dict[str, StoredProtocol]:
        with self._lock:
            return {c: p for (d, c), p in self.protocols.items() if d == dec}
