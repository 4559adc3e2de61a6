"""From per-DEC counts to the election's outcome: tallies, PR seats, members, SMD results.

The server publishes with this, the auditor recomputes with it and the demo prints it,
so all three agree by construction.  Abroad DECs count in the nationwide PR contest but
in no region: the regional threshold is over the oblasts, Bishkek and Osh only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from election.model import PR_CONTEST_ID, Election
from election.rules import RuleSet
from election.seats import (
    PartySeats,
    PrAllocation,
    RegionResult,
    SmdResult,
    allocate_pr_for,
    decide_smd,
    elect_members,
)
from election.tally import ContestTally, total


class DecCounts(Protocol):
    """What one DEC contributes: participants (voters issued a ballot) and tallies."""

    @property
    def dec(self) -> int: ...

    @property
    def participants(self) -> int: ...

    @property
    def tallies(self) -> Mapping[str, ContestTally]: ...


@dataclass(frozen=True, slots=True)
class ElectionResults:
    """Everything the national results page shows, computed in one place."""

    decs_counted: int
    participants: int
    pr: ContestTally
    regional: Mapping[str, RegionResult]
    allocation: PrAllocation
    members: Mapping[str, PartySeats]
    smd: Mapping[str, SmdResult]


def compute(
    election: Election,
    counts: Iterable[DecCounts],
    rules: RuleSet,
    *,
    national: ContestTally | None = None,
) -> ElectionResults:
    """Aggregate DEC counts and apply the rules; DECs not in ``counts`` count as absent.

    ``national``, when given, is the PR total of ``counts`` as the caller keeps it
    (:class:`~election.tally.RunningTotal`), and is used instead of adding it up again.
    """
    by_contest: dict[str, list[ContestTally]] = {c: [] for c in election.contest_ids}
    regional_tallies: dict[str, list[ContestTally]] = {r.code: [] for r in election.regions}
    regional_participants = dict.fromkeys(regional_tallies, 0)
    participants = decs = 0
    for record in counts:
        dec = election.dec(record.dec)
        decs += 1
        participants += record.participants
        for contest, tally in record.tallies.items():
            by_contest[contest].append(tally)
        if dec.region is not None and PR_CONTEST_ID in record.tallies:
            regional_tallies[dec.region].append(record.tallies[PR_CONTEST_ID])
            regional_participants[dec.region] += record.participants
    if national is None:
        national = total(by_contest[PR_CONTEST_ID], PR_CONTEST_ID)
    regional = {  # a region's threshold is on votes: its preference votes are not summed
        code: RegionResult.from_tally(
            total(tallies, PR_CONTEST_ID, preferences=False), regional_participants[code]
        )
        for code, tallies in regional_tallies.items()
    }
    # Early on election night some region has no DEC reported yet: its threshold cannot
    # be judged, so the allocation says "not evaluated" (provisional) instead of failing.
    unreported = [code for code, n in regional_participants.items() if n == 0]
    allocation = allocate_pr_for(
        election,
        national,
        rules=rules.seats,
        participants=participants,
        regional=None if unreported else regional,
        regional_not_evaluated=bool(unreported),
    )
    smd = {
        d.contest_id: decide_smd(
            total(by_contest[d.contest_id], d.contest_id), election.options(d.contest_id)
        )
        for d in election.districts
    }
    return ElectionResults(
        decs_counted=decs,
        participants=participants,
        pr=national,
        regional=regional,
        allocation=allocation,
        members=elect_members(election, allocation, national, rules.seats),
        smd=smd,
    )
