"""The central server's parts wired together, without any network: what tests build.

:class:`ResultsService` owns the store, the intake (transport verification plus durable
storage), the in-memory ledger and the publisher.  The web app and the modem gateway
are thin shells around it, so everything a page shows can be driven and checked in
process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from election import definition
from election.model import Election
from election.rules import RuleSet
from server_stub import uploads, views
from server_stub.auth import Auth
from server_stub.errors import NotFound
from server_stub.intake import Intake
from server_stub.ledger import Ledger
from server_stub.publish import Publisher, Snapshot
from server_stub.store import SqlStore, StoredProtocol
from transport.keys import Registry, ServerKeys


@dataclass
class ResultsService:
    election: Election
    store: SqlStore
    registry: Registry
    server_keys: ServerKeys
    auth: Auth
    uploads_dir: Path
    rules: RuleSet | None = None
    roll_margin: int = 0
    clock: Callable[[], float] = time.time
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        self.fingerprint = definition.fingerprint(self.election)
        self.rules = self.rules or RuleSet.named(self.election.rules)
        self.store.migrate(self.fingerprint)
        self.ledger = Ledger()
        self.ledger.add_reports(self.store.reports())
        for protocol in self.store.protocols():
            self.ledger.add_protocol(protocol)
        self.intake = Intake(
            self.store, self.registry, self.server_keys, self.fingerprint, clock=self.clock
        )
        self.intake.listeners.append(self.ledger.add_reports)
        self.publisher = Publisher(
            self.election, self.ledger, self.rules, self.roll_margin, clock=self.clock
        )
        self.publisher.refresh()

    @property
    def snapshot(self) -> Snapshot:
        return self.publisher.snapshot

    # Page data --------------------------------------------------------------------------

    def national(self) -> dict[str, Any]:
        return self._stamped(self.snapshot.national)

    def region(self, code: str) -> dict[str, Any]:
        view = self.snapshot.regions.get(code)
        if view is None:
            raise NotFound(f"no region {code!r}")
        return self._stamped(view)

    def district(self, number: int) -> dict[str, Any]:
        view = self.snapshot.districts.get(number)
        if view is None:
            raise NotFound(f"no district {number}")
        return self._stamped(view)

    def dec(self, number: int) -> dict[str, Any]:
        snapshot = self.snapshot
        if not self.election.has_dec(number):
            raise NotFound(f"no DEC {number}")
        view = views.dec(
            self.publisher.names,
            snapshot.states[number],
            self.ledger.arrivals(number),
            self.ledger.protocols_of(number),
        )
        return self._stamped(view)

    def discrepancies(self) -> dict[str, Any]:
        snapshot = self.snapshot
        rows = views.discrepancy_list(
            self.publisher.names, snapshot.states, dict(self.ledger.protocols)
        )
        return self._stamped({"level": "discrepancies", "rows": rows})

    def quarantine(self) -> dict[str, Any]:
        return self._stamped(
            {"level": "quarantine", "rows": views.quarantine(self.snapshot.states)}
        )

    def status(self) -> dict[str, Any]:
        return self._stamped(
            {
                "level": "status",
                "alarms": self.publisher.alarms[-20:],
                "progress": self.snapshot.national["progress"],
            }
        )

    def _stamped(self, view: dict[str, Any]) -> dict[str, Any]:
        s = self.snapshot
        return {**view, "snapshot": {"version": s.version, "generated_at": s.generated_at}}

    # Writes -----------------------------------------------------------------------------

    def upload_protocol(
        self, header: str | None, protocol_json: bytes, scan: uploads.Scan | None
    ) -> StoredProtocol:
        """Check everything (token, JSON, DEC, scan) before writing anything."""
        self.auth.commission(header)
        protocol = uploads.parse_protocol(protocol_json, self.election)
        commission = self.auth.check_dec(header, self.election, protocol.dec)
        if scan is not None:
            uploads.check_filename(scan.filename)
            uploads.image_type(scan.data)
        stored = uploads.save(self.store, self.uploads_dir, protocol, commission, scan)
        self.ledger.add_protocol(stored)
        return stored

    def protocol_image(self, protocol_id: int) -> tuple[Path, str]:
        for p in self.ledger.protocols.values():
            if p.id == protocol_id and p.image_name and p.image_type:
                return self.uploads_dir / p.image_name, p.image_type
        raise NotFound(f"no scan for protocol {protocol_id}")

    def close(self) -> None:
        self.publisher.stop()
        self.store.close()
