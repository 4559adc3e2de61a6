"""A DEC's state from its units' reports: awaiting, partial, quarantined or published.

A DEC counts only when every unit it has sent final results (the latest report of each
unit wins, so a corrected report replaces, never adds to, the earlier one) and those
results pass the publish-time invariants.  Until then its numbers stay out of every
total; a quarantined DEC is shown with its reasons and without its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from election.model import Election
from election.tally import ContestTally, total
from server_stub import reports
from server_stub.invariants import Problem, dec_problems
from server_stub.ledger import Arrival
from transport.packet import MessageType

AWAITING, PARTIAL, QUARANTINED, PUBLISHED = "awaiting", "partial", "quarantined", "published"


@dataclass(frozen=True)
class DecState:
    """What the server may say about one DEC.  ``tallies`` and ``participants`` are set
    only when ``status`` is published."""

    dec: int
    status: str
    units_expected: int
    units_reported: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    participants: int | None = None
    participants_source: str = ""
    tallies: Mapping[str, ContestTally] = field(default_factory=dict)
    last_result_at: float | None = None

    @property
    def published(self) -> bool:
        return self.status == PUBLISHED


def latest_results(arrivals: list[Arrival]) -> dict[str, Arrival]:
    """Each unit's final report with the highest seq."""
    latest: dict[str, Arrival] = {}
    for a in arrivals:
        if a.type is MessageType.RESULTS and (a.unit not in latest or a.seq > latest[a.unit].seq):
            latest[a.unit] = a
    return latest


def evaluate(
    election: Election, dec: int, arrivals: list[Arrival], *, roll_margin: int = 0
) -> DecState:
    """The state of DEC ``dec`` given everything received for it."""
    expected = election.dec(dec).units if election.has_dec(dec) else 0
    latest = latest_results(arrivals)
    units = tuple(sorted(latest))
    base = {"dec": dec, "units_expected": expected, "units_reported": units}
    if not latest:
        return DecState(status=AWAITING, **base)
    last = max(a.received_at for a in latest.values())
    base["last_result_at"] = last
    if not election.has_dec(dec):
        problem = Problem("unknown-dec", f"the election has no DEC {dec}")
        return DecState(status=QUARANTINED, problems=(problem,), **base)
    problems = [
        Problem("payload", f"{a.unit} seq {a.seq}: {a.problem}")
        for a in latest.values()
        if a.problem
    ]
    if problems:
        return DecState(status=QUARANTINED, problems=tuple(problems), **base)
    results = [a.parsed for a in latest.values() if isinstance(a.parsed, reports.Results)]
    if len(latest) > expected:
        problem = Problem("units", f"{len(latest)} units sent results; the DEC has {expected}")
        return DecState(status=QUARANTINED, problems=(problem,), **base)
    if len(latest) < expected:
        return DecState(status=PARTIAL, **base)
    contests = sorted({c for r in results for c in r.tallies})
    allowed = election.contests_at(dec)
    problems += [
        Problem("contest", f"contest {c} is not voted at DEC {dec}")
        for c in contests
        if c not in allowed
    ]
    problems += [
        Problem("contest", f"no results for contest {c}") for c in sorted(allowed - set(contests))
    ]
    stated = {r.participants for r in results if r.participants is not None}
    if len(stated) > 1:
        problems.append(
            Problem("participants", f"units disagree on participants: {sorted(stated)}")
        )
    if problems:
        return DecState(status=QUARANTINED, problems=tuple(problems), **base)
    tallies = {c: total((r.tallies[c] for r in results if c in r.tallies), c) for c in contests}
    if stated:
        participants, source = stated.pop(), "stated by the units"
    else:
        participants = max(t.ballots for t in tallies.values())
        source = "ballots found (the units stated no participants)"
    problems = dec_problems(election, dec, tallies, participants, roll_margin=roll_margin)
    if problems:
        return DecState(status=QUARANTINED, problems=tuple(problems), **base)
    return DecState(
        status=PUBLISHED,
        participants=participants,
        participants_source=source,
        tallies=tallies,
        **base,
    )
