"""The published snapshot: the only thing the website and the API read.

A :class:`Publisher` re-evaluates the DECs that changed, recomputes the results with
``election.results.compute`` over published DECs only, builds the page data and checks
it (:func:`server_stub.invariants.view_violations`).  A snapshot that fails is not
published: the previous one stays up and the failure is kept as an alarm for operators.
Readers take ``publisher.snapshot`` (one reference, swapped atomically), so a page never
mixes two snapshots.

Refreshing runs in the server process beside the intake, so it is kept cheap: a region's
or a district's page data is rebuilt only when one of its DECs' states changed (the last
build's views, keyed by the very state objects), and the background loop paces
itself by the CPU time a refresh took (:data:`BUSY_SHARE`), so that on national data it
never takes more than a fixed share of the process from intake.  Every snapshot, reused
parts included, is checked in full before it is published.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from election.errors import PcosLabError
from election.model import PR_CONTEST_ID, Election
from election.results import ElectionResults, compute
from election.rules import RuleSet
from election.tally import ContestTally, RunningTotal
from server_stub import views
from server_stub.aggregate import AWAITING, DecState, evaluate
from server_stub.invariants import Problem, view_violations
from server_stub.ledger import Ledger

# The background refresh may use at most this share of the server's CPU time: after a
# refresh that took ``c`` seconds of CPU it waits at least ``c / BUSY_SHARE - c``.
BUSY_SHARE = 0.2


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
        self._members = _members(self.election)
        self._views: dict[Hashable, dict[str, Any]] = {}  # the last build's area views
        self._national = RunningTotal(PR_CONTEST_ID)  # by DEC, as of the last build
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
        national = self._national_pr(c.state for c in published)
        results = compute(self.election, published, self.rules, national=national)
        names, margin = self.names, self.roll_margin
        built: dict[Hashable, dict[str, Any]] = {}
        regions = {
            r.code: self._view(
                built,
                self._key(("region", r.code), known),
                lambda c=r.code: views.region(names, known, c, margin),
            )
            for r in self.election.regions
        }
        districts = {
            d.number: self._view(
                built,
                (self._key(("district", d.number), known), results.smd.get(d.contest_id)),
                lambda n=d.number: views.district(names, known, results, n, margin),
            )
            for d in self.election.districts
        }
        self._views = built
        return Snapshot(
            version=version,
            generated_at=self.clock(),
            states=states,
            results=results,
            national=views.national(names, self.rules, states, results, margin),
            regions=regions,
            districts=districts,
        )

    def _national_pr(self, published: Iterable[DecState]) -> ContestTally:
        """The PR total of the published DECs, brought up to date from the last build's
        by the DECs whose tally changed, whatever changed them (identity, as in
        :meth:`_key`: a new evaluation is a new object)."""
        wanted = {s.dec: s.tallies[PR_CONTEST_ID] for s in published if PR_CONTEST_ID in s.tallies}
        for dec in self._national.keys_held():
            if dec not in wanted:
                self._national.discard(dec)
        for dec, tally in wanted.items():
            self._national.put(dec, tally)
        return self._national.tally()

    def _key(self, area: tuple[str, Any], known: Mapping[int, DecState]) -> tuple:
        """What an area's view is built from: the area and its DECs' state objects (a
        district's view also shows its SMD outcome, which callers add to the key)."""
        return (area, tuple(_Same(known[n]) for n in self._members[area]))

    def _view(
        self,
        built: dict[Hashable, dict[str, Any]],
        key: Hashable,
        build: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """The last build's view for ``key`` if there is one, else a new one."""
        view = self._views.get(key)
        built[key] = view if view is not None else build()
        return built[key]

    @staticmethod
    def _check(snapshot: Snapshot) -> list[Problem]:
        problems = view_violations(snapshot.national)
        for view in [*snapshot.regions.values(), *snapshot.districts.values()]:
            problems += view_violations(view)
        return problems

    # Background refresh -----------------------------------------------------------------

    def start(self, interval: float = 1.0) -> None:
        """Refresh every ``interval`` seconds in a daemon thread until :meth:`stop`, and
        less often when a refresh costs more than :data:`BUSY_SHARE` of the CPU (on
        national data during ingest), so that publishing never starves the intake."""

        def loop() -> None:
            pause = interval
            while not self._stop.wait(pause):
                began = time.thread_time()
                self.refresh()
                pause = pause_after(time.thread_time() - began, interval)

        self._thread = threading.Thread(target=loop, name="publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def pause_after(spent: float, interval: float) -> float:
    """Seconds to wait after a refresh that took ``spent`` seconds of CPU: ``interval``,
    or longer so that refreshing takes at most :data:`BUSY_SHARE` of the time."""
    return max(interval, spent / BUSY_SHARE - spent)


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


@dataclass(frozen=True)
class _Same:
    """A DEC state compared by identity: the publisher replaces a state object whenever
    it evaluates the DEC again, so the same object means the same numbers, and the
    comparison costs nothing (value equality would compare every tally)."""

    state: DecState

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.state is self.state

    def __hash__(self) -> int:
        return id(self.state)


def _members(election: Election) -> dict[tuple[str, Any], tuple[int, ...]]:
    """The DECs of every region and district, in the election's order."""
    members: dict[tuple[str, Any], list[int]] = {}
    for r in election.regions:
        members[("region", r.code)] = [d.number for d in election.decs if d.region == r.code]
    for district in election.districts:
        members[("district", district.number)] = [
            d.number for d in election.decs if d.district == district.number
        ]
    return {area: tuple(numbers) for area, numbers in members.items()}
