"""The server's half of exactly-once: transport verifies, this stores and remembers.

:class:`Intake` is the gateway's :class:`transport.gateway.BatchStore` and the replay
state it reads (a :class:`transport.intake.ReplayView`).  The gateway authenticates
packets, groups them, checks each group against this replay memory with
:func:`transport.intake.settle`, and calls :meth:`Intake.commit` once per group:
``commit`` writes every new report together with its replay record (nonce, digest, ACK
bytes) in one durable transaction and returns only after the commit; the gateway sends
the group's ACKs only after that.  So an ACK is never sent for a packet that is not on
disk, and a packet on disk is always remembered for replay: the one-transaction rule of
docs/PROTOCOL.md section 7, with one fsync for a whole group (group commit).

:meth:`Intake.ingest` does the same for a list of packets in the calling thread (the
HTTP endpoint and tests).

The replay memory is kept in dictionaries, loaded from the store at start-up: the
database is written on every commit but read only when the server starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from server_stub.store import SqlStore, StoredReport
from transport import intake
from transport.errors import Rejected
from transport.intake import Accepted, Staged, Verdict, VerifiedPacket
from transport.keys import Registry, ServerKeys
from transport.packet import message_id

# Called after each commit with the stored reports and their payloads, already decoded.
Listener = Callable[[Sequence[StoredReport], Sequence[Mapping[str, Any]]], None]


class Intake:
    """Verification (transport's), durable storage and replay memory for one election."""

    def __init__(
        self,
        store: SqlStore,
        registry: Registry,
        server: ServerKeys,
        election: str,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.registry = registry
        self.server = server
        self.election = election
        self.clock = clock
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._accepted: dict[tuple[str, int], Accepted] = {}
        self._highest: dict[str, int] = {}
        self._nonces: dict[str, set[bytes]] = {}
        for report in store.reports():
            self._remember(report)

    def _remember(self, r: StoredReport) -> None:
        self._accepted[r.unit, r.seq] = Accepted(r.digest, r.ack)
        self._highest[r.unit] = max(r.seq, self._highest.get(r.unit, 0))
        self._nonces.setdefault(r.unit, set()).add(r.nonce)

    # ReplayView -------------------------------------------------------------------------

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        return self._accepted.get((unit, seq))

    def highest_seq(self, unit: str) -> int:
        return self._highest.get(unit, 0)

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        return nonce in self._nonces.get(unit, ())

    # BatchStore -------------------------------------------------------------------------

    def commit(self, batch: Sequence[Staged]) -> None:
        """Store the reports with their ACKs in one transaction; returns once durable.

        Raises :class:`~server_stub.errors.StoreError` (nothing stored, nothing
        remembered) when the database refuses.
        """
        reports = [self._report(packet, accepted.ack) for packet, accepted in batch]
        with self._lock:
            ids = self.store.add_reports(reports)
            stored = [replace(r, id=i) for r, i in zip(reports, ids, strict=True)]
            for r in stored:
                self._remember(r)
        payloads = [packet.payload for packet, _ in batch]
        for listener in self.listeners:
            listener(stored, payloads)

    # Batches ----------------------------------------------------------------------------

    def ingest(self, packets: Sequence[bytes]) -> list[Verdict]:
        """Verify every packet, store the new ones in one transaction, then reply.

        A failed commit turns every new packet's reply into a transient NACK
        (``store-failed``): nothing of the batch is stored or remembered.
        """
        group = [(message_id(data), self._authenticate(data)) for data in packets]
        now = int(self.clock())
        return intake.settle(group, self, self.commit, self.server, self.election, now)

    def _authenticate(self, data: bytes) -> VerifiedPacket | Rejected:
        try:
            return intake.authenticate(
                data, self.registry, server=self.server, election=self.election
            )
        except Rejected as exc:
            return exc

    # Storage ----------------------------------------------------------------------------

    def _report(self, p: VerifiedPacket, ack: bytes) -> StoredReport:
        h = p.header
        assert h.nonce is not None
        return StoredReport(
            unit=h.unit,
            seq=h.seq,
            type=int(h.type),
            dec=h.dec,
            unit_ts=h.ts,
            received_at=self.clock(),
            nonce=h.nonce,
            digest=p.digest,
            ack=ack,
            packet=p.packet,
            payload=p.plaintext,
        )
