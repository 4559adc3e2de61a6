"""The unit's counters, kept in RAM and rebuilt exactly from the journal at start-up.

There is one way to change a count: :meth:`Counters.add`, with a ballot record as the
journal holds it.  Live scanning and replay both call it with the same record, so the
counters after a restart cannot differ from the counters before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from election.model import Election
from election.tally import ContestTally
from election.validity import ContestVerdict, VerdictKind


def ballot_record(
    seq: int, verdict: ContestVerdict, marginal: int, after_warning: bool, label: str
) -> dict[str, Any]:
    """The journal record of one accepted ballot (keys are short: a national simulation
    writes millions of them).  No time is recorded: with the order it could tell which
    voter cast which ballot."""
    return {
        "t": "ballot",
        "n": seq,
        "c": verdict.contest,
        "k": verdict.kind.value,
        "o": verdict.option,
        "p": verdict.credited_position,
        "m": marginal,
        "w": after_warning,
        "s": label,
    }


class ContestCounters:
    """Counts of one contest: votes per option, invalid ballots by verdict, preference
    votes, ballots cast after a warning and marginal marks."""

    def __init__(self, contest: str, options: Iterable[str]) -> None:
        self.contest = contest
        self.votes = dict.fromkeys(options, 0)
        self.invalid = {VerdictKind.BLANK.value: 0, VerdictKind.OVERVOTE.value: 0}
        self.preferences: dict[str, dict[int, int]] = {}
        self.after_warning = 0
        self.marginal_ballots = 0
        self.marginal_marks = 0

    def tally(self) -> ContestTally:
        return ContestTally(
            self.contest,
            self.votes,
            blank=self.invalid[VerdictKind.BLANK.value],
            overvote=self.invalid[VerdictKind.OVERVOTE.value],
            preferences=self.preferences,
        )


class Counters:
    """All counts of a unit: per contest it accepts, plus returned sheets by reason."""

    def __init__(self, election: Election, contests: Iterable[str]) -> None:
        self.contests = {c: ContestCounters(c, election.options(c)) for c in contests}
        self.returned: Counter[str] = Counter()
        self.accepted = 0

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one ballot record; raises KeyError/ValueError on a record that does
        not fit the unit's contests (the caller turns that into corruption)."""
        counters = self.contests[record["c"]]
        kind = VerdictKind(record["k"])
        if kind is VerdictKind.VOTE:
            option = record["o"]
            if option not in counters.votes:
                raise ValueError(f"a vote for unknown option {option!r}")
            counters.votes[option] += 1
            position = record["p"]
            if position is not None:
                positions = counters.preferences.setdefault(option, {})
                positions[position] = positions.get(position, 0) + 1
        else:
            counters.invalid[kind.value] += 1
        counters.after_warning += bool(record["w"])
        if record["m"]:
            counters.marginal_ballots += 1
            counters.marginal_marks += record["m"]
        self.accepted += 1

    def tallies(self) -> dict[str, ContestTally]:
        return {c: counters.tally() for c, counters in self.contests.items()}

    def summary(self) -> dict[str, Any]:
        """Totals for screens and reports."""
        return {
            "accepted": self.accepted,
            "cast_after_warning": sum(c.after_warning for c in self.contests.values()),
            "marginal_ballots": sum(c.marginal_ballots for c in self.contests.values()),
            "marginal_marks": sum(c.marginal_marks for c in self.contests.values()),
            "returned": dict(sorted(self.returned.items())),
        }
