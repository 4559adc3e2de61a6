"""The server's half of exactly-once: transport verifies, this stores and remembers.

:class:`Intake` is both the gateway's sink and its :class:`transport.intake.ReplayState`.
The gateway calls, for one packet, ``verify`` (reads the replay state), ``sink`` and then
``acknowledge``, which makes the ACK and calls :meth:`Intake.record`.  The sink only
stages the report; :meth:`record` writes it together with its replay record (nonce,
digest, ACK bytes) in one durable transaction and returns only after the commit, and the
gateway sends the ACK only after that.  So an ACK is never sent for a packet that is not
on disk, and a packet on disk is always remembered for replay: the one-transaction rule
of docs/PROTOCOL.md section 7.

:meth:`Intake.ingest` does the same for many packets with one commit (a modem bank's
batch, the HTTP endpoint and the benchmark): every reply is released only after the
batch is durable.

The replay memory is kept in dictionaries, loaded from the store at start-up: the
database is written on every packet but read only when the server starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from server_stub.errors import StoreError
from server_stub.store import SqlStore, StoredReport
from transport import canonical, intake
from transport.errors import Rejected, StoreFailed
from transport.intake import Accepted, VerifiedPacket
from transport.keys import Registry, ServerKeys
from transport.packet import message_id

Listener = Callable[[Sequence[StoredReport]], None]


@dataclass
class _Overlay:
    """Replay records of a batch not yet committed, seen through to the durable ones."""

    base: Intake
    staged: dict[tuple[str, int], tuple[VerifiedPacket, Accepted]] = field(default_factory=dict)
    highest: dict[str, int] = field(default_factory=dict)
    nonces: dict[str, set[bytes]] = field(default_factory=dict)
    pending: VerifiedPacket | None = None  # the packet being acknowledged

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        hit = self.staged.get((unit, seq))
        return hit[1] if hit else self.base.accepted(unit, seq)

    def highest_seq(self, unit: str) -> int:
        return max(self.highest.get(unit, 0), self.base.highest_seq(unit))

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        return nonce in self.nonces.get(unit, ()) or self.base.nonce_used(unit, nonce)

    def record(self, unit: str, seq: int, nonce: bytes, accepted: Accepted) -> None:
        assert self.pending is not None
        self.staged[unit, seq] = (self.pending, accepted)
        self.highest[unit] = max(seq, self.highest.get(unit, 0))
        self.nonces.setdefault(unit, set()).add(nonce)


@dataclass(frozen=True)
class Outcome:
    """What happened to one packet of a batch: the reply to send and its verdict."""

    reply: bytes
    status: str  # "accepted", "duplicate" or a rejection code
    error: Rejected | None = None
    report: StoredReport | None = None


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
        self._staged = threading.local()
        for report in store.reports():
            self._remember(report)

    def _remember(self, r: StoredReport) -> None:
        self._accepted[r.unit, r.seq] = Accepted(r.digest, r.ack)
        self._highest[r.unit] = max(r.seq, self._highest.get(r.unit, 0))
        self._nonces.setdefault(r.unit, set()).add(r.nonce)

    # ReplayState ------------------------------------------------------------------------

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        return self._accepted.get((unit, seq))

    def highest_seq(self, unit: str) -> int:
        return self._highest.get(unit, 0)

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        return nonce in self._nonces.get(unit, ())

    def record(self, unit: str, seq: int, nonce: bytes, accepted: Accepted) -> None:
        """Commit the staged report with its ACK; returns only once it is durable."""
        packet: VerifiedPacket | None = getattr(self._staged, "packet", None)
        self._staged.packet = None
        if packet is None or (packet.unit, packet.seq) != (unit, seq):
            raise StoreFailed("no staged report for this ACK", unit=unit, seq=seq)
        self._commit([self._report(packet, accepted.ack)])

    # Sink -------------------------------------------------------------------------------

    def __call__(self, packet: VerifiedPacket) -> None:
        """The gateway's sink: stage the packet for :meth:`record` (same thread)."""
        self._staged.packet = packet

    # Batches ----------------------------------------------------------------------------

    def ingest(self, packets: Sequence[bytes]) -> list[Outcome]:
        """Verify every packet, store the new ones in one transaction, then reply.

        A failed commit turns every new packet's reply into a transient NACK
        (``store-failed``): nothing of the batch is stored or remembered.
        """
        now = int(self.clock())
        overlay = _Overlay(self)
        outcomes: list[Outcome | None] = []
        fresh: list[tuple[int, VerifiedPacket, bytes]] = []
        for data in packets:
            try:
                verified = intake.verify(
                    data, self.registry, overlay, server=self.server, election=self.election
                )
            except Rejected as exc:
                outcomes.append(self._refusal(exc, data, now))
                continue
            overlay.pending = verified
            ack = intake.acknowledge(verified, overlay, self.server, now)
            if verified.duplicate:
                outcomes.append(Outcome(ack, "duplicate"))
            else:
                fresh.append((len(outcomes), verified, ack))
                outcomes.append(None)
        reports = [self._report(v, ack) for _, v, ack in fresh]
        try:
            self._commit(reports)
        except StoreError as exc:
            for i, v, _ in fresh:
                error = StoreFailed(f"store failed: {exc}", unit=v.unit, seq=v.seq)
                outcomes[i] = self._refusal(error, packets[i], now)
        else:
            for (i, _, ack), report in zip(fresh, reports, strict=True):
                outcomes[i] = Outcome(ack, "accepted", report=report)
        return [o for o in outcomes if o is not None]

    def _refusal(self, exc: Rejected, data: bytes, now: int) -> Outcome:
        reply = intake.refuse(exc, message_id(data), self.server, self.election, now)
        return Outcome(reply, exc.code, error=exc)

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
            payload=canonical.dumps(p.payload),
        )

    def _commit(self, reports: list[StoredReport]) -> None:
        if not reports:
            return
        with self._lock:
            ids = self.store.add_reports(reports)
            stored = [replace(r, id=i) for r, i in zip(reports, ids, strict=True)]
            for r in stored:
                self._remember(r)
        for listener in self.listeners:
            listener(stored)
