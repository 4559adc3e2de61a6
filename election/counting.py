"""Ballots to tallies: the count a scanner keeps and an auditor repeats.

:func:`count` returns a tally for every contest of the election, in
``Election.contest_ids`` order, with every option present (zero when unmarked), so that
a tally always shows each party and candidate and ``count(a + b)`` equals
``count(a) + count(b)`` contest by contest.  Preference votes are kept only for the
positions that received some.

The loop keeps plain counters and calls :func:`election.validity.classify` directly, so
no object is built per ballot; :func:`tally` does the same from verdicts already made.
"""

from __future__ import annotations

from collections.abc import Iterable

from election.ballots import MarkedBallot
from election.model import BallotStyle, Election
from election.rules import RuleSet
from election.tally import ContestTally
from election.validity import BallotError, ContestSpec, ContestVerdict, VerdictKind, classify


class _Counters:
    """Mutable counts of one contest while counting."""

    __slots__ = ("contest", "invalid", "preferences", "votes")

    def __init__(self, spec: ContestSpec) -> None:
        self.contest = spec.contest
        self.votes = dict.fromkeys(spec.options, 0)
        self.invalid = {VerdictKind.BLANK: 0, VerdictKind.OVERVOTE: 0}
        self.preferences: dict[str, dict[int, int]] = {}

    def add(self, kind: VerdictKind, option: str | None, credited: int | None) -> None:
        if kind is not VerdictKind.VOTE:
            self.invalid[kind] += 1
            return
        self.votes[option] += 1
        if credited is not None:
            positions = self.preferences.setdefault(option, {})
            positions[credited] = positions.get(credited, 0) + 1

    def freeze(self) -> ContestTally:
        return ContestTally(
            contest=self.contest,
            votes=self.votes,
            blank=self.invalid[VerdictKind.BLANK],
            overvote=self.invalid[VerdictKind.OVERVOTE],
            preferences=self.preferences,
        )


def count(
    ballots: Iterable[MarkedBallot], election: Election, rules: RuleSet
) -> dict[str, ContestTally]:
    """Tallies of every contest from marked ballots, under ``rules.validity``.

    Raises :class:`BallotError` on the first ballot that cannot be counted: a DEC the
    election does not have, a style that DEC does not issue (an SMD ballot abroad, or of
    another district), or marks no rule can place.
    """
    validity = rules.validity
    specs = {cid: ContestSpec.of(election, cid) for cid in election.contest_ids}
    counters = {cid: _Counters(spec) for cid, spec in specs.items()}
    routes: dict[tuple[int, BallotStyle], tuple[ContestSpec, _Counters]] = {}
    for ballot in ballots:
        key = (ballot.dec, ballot.style)
        route = routes.get(key)
        if route is None:
            contest = _check_style(election, ballot.dec, ballot.style)
            route = routes[key] = (specs[contest], counters[contest])
        spec, counter = route
        kind, option, _, credited = classify(spec, validity, ballot.options, ballot.preferences)
        counter.add(kind, option, credited)
    return {cid: c.freeze() for cid, c in counters.items()}


def tally(verdicts: Iterable[ContestVerdict], election: Election) -> dict[str, ContestTally]:
    """Tallies of every contest from verdicts already made by :func:`judge`."""
    counters = {cid: _Counters(ContestSpec.of(election, cid)) for cid in election.contest_ids}
    for verdict in verdicts:
        counter = counters.get(verdict.contest)
        if counter is None:
            raise BallotError(f"a verdict of contest {verdict.contest}, not in {election.id}")
        if verdict.kind is VerdictKind.VOTE and verdict.option not in counter.votes:
            raise BallotError(f"{verdict.contest}: a vote for unknown option {verdict.option}")
        counter.add(verdict.kind, verdict.option, verdict.credited_position)
    return {cid: c.freeze() for cid, c in counters.items()}


def _check_style(election: Election, dec: int, style: BallotStyle) -> str:
    if not election.has_dec(dec):
        raise BallotError(f"a ballot from DEC {dec}, which election {election.id} does not have")
    if style not in election.styles_for(dec):
        raise BallotError(f"DEC {dec} does not issue ballots of style {style}")
    return style.contest_id
