"""The published snapshot: the only thing the website and the API read.

A :class:`Publisher` re-evaluates the DECs that changed, recomputes the results with
``election.results.compute`` over published DECs only, builds the page data and checks
it (:func:`server_stub.invariants.view_violations`).  A snapshot that fails is not
published: the previous one stays up and the failure is kept as an alarm for operators.
Readers take ``publisher.snapshot`` (one reference, swapped atomically), so a page never
mixes two snapshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from election.errors import PcosLabError
from election.model import Election
from election.results import ElectionResults, compute
from election.rules import RuleSet
from server_stub import views
from server_stub.aggregate import AWAITING, DecState, evaluate
from server_stub.invariants import Problem, view_violations
from server_stub.ledger import Ledger


@dataclass(frozen=True)
class Snapshot:
    """One consistent published state; ``version`` is the ledger version it reflects."""

    version: int
    generated_at: float
    states: Mapping[int, DecState]
    results: ElectionResults
    national: dict[str, Any]
    regions: Mapping[str, dict[str, Any]]
    districts: Mapping[int, dict[str, Any]]


@dataclass
class Publisher:
    election: Election
    ledger: Ledger
    rules: RuleSet
    roll_margin: int = 0
    clock: Callable[[], float] = time.time
    alarms: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = views.Names(self.election)
        self._states: dict[int, DecState] = {
            d.number: DecState(d.number, AWAITING, d.units) for d in self.election.decs
        }
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused = -1  # a ledger version whose snapshot failed its checks
        self.snapshot: Snapshot = self._build(0)

    def refresh(self) -> Snapshot:
        """Publish a new snapshot if anything changed and it passes its checks."""
        with self._lock:
            version, dirty = self.ledger.take_dirty()
            if version in (self.snapshot.version, self._refused) and not dirty:
                return self.snapshot
            for dec in dirty:
                state = evaluate(
                    self.election, dec, self.ledger.arrivals(dec), roll_margin=self.roll_margin
                )
                if dec in self._states or state.status != AWAITING:
                    self._states[dec] = state
            try:
                candidate = self._build(version)
                problems = self._check(candidate)
            except PcosLabError as exc:  # election.results refuses impossible totals too
                candidate, problems = self.snapshot, [Problem("compute", str(exc))]
            if problems:
                self._refused = version
                self.alarms.append(
                    {
                        "at": self.clock(),
                        "version": version,
                        "problems": [p.to_json() for p in problems],
                    }
                )
                return self.snapshot
            self.snapshot = candidate
            return candidate

    def _build(self, version: int) -> Snapshot:
        states = dict(self._states)
        known = {n: s for n, s in states.items() if self.election.has_dec(n)}
        published = [_Counts(s) for s in known.values() if s.published]
        results = compute(self.election, published, self.rules)
        names, margin = self.names, self.roll_margin
        return Snapshot(
            version=version,
            generated_at=self.clock(),
            states=states,
            results=results,
            national=views.national(names, self.rules, states, results, margin),
            regions={
                r.code: views.region(names, known, r.code, margin) for r in self.election.regions
            },
            districts={
                d.number: views.district(names, known, results, d.number, margin)
                for d in self.election.districts
            },
        )

    @staticmethod
    def _check(snapshot: Snapshot) -> list[Problem]:
        problems = view_violations(snapshot.national)
        for view in [*snapshot.regions.values(), *snapshot.districts.values()]:
            problems += view_violations(view)
        return problems

    # Background refresh -----------------------------------------------------------------

    def start(self, interval: float = 1.0) -> None:
        """Refresh every ``interval`` seconds in a daemon thread until :meth:`stop`."""

        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


@dataclass(frozen=True)
class _Counts:
    """A published DEC state in the shape ``election.results.compute`` reads."""

    state: DecState

    @property
    def dec(self) -> int:
        return self.state.dec

    @property
    def participants(self) -> int:
        return self.state.participants or 0

    @property
    def tallies(self) -> Mapping[str, Any]:
        return self.state.tallies
