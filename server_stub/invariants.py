"""Publish-time invariants: the numbers a results page may show.

On election night 2021 the CEC site showed party shares summing to over 150%.  Here a
DEC's numbers reach a page only if, for every contest, they pass the manual protocol's
control relations (``election.protocol.control_relations``: ballots found <= issued <=
roll + margin, valid + invalid = found, votes + "against all" = valid, preference votes
within party votes, options exactly the ballot's) and the share checks (each share of
participants <= 100%, all shares together <= 100%).  A DEC that fails is quarantined
with these reasons.  Then the assembled page data is checked again
(:func:`view_violations`) before a snapshot replaces the published one, so a bug in
aggregation or rendering cannot publish impossible numbers either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from election.model import AGAINST_ALL, PR_CONTEST_ID, Election
from election.protocol import Protocol, Relation, control_relations
from election.tally import ContestTally


@dataclass(frozen=True)
class Problem:
    """Why numbers are not published: a short code and a sentence with the numbers."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def machine_protocol(
    election: Election, dec: int, tally: ContestTally, participants: int
) -> Protocol:
    """A machine count written as a protocol, so the protocol's relations apply to it.

    A scanner knows nothing of ballots received and cancelled, so ``received`` is set to
    ``issued`` and ``cancelled`` to 0 (that relation then holds trivially); every other
    line is the machine's or the definition's.  Options are listed in ballot order, and
    any option the ballot does not have is kept so the definition check names it.
    """
    record = election.dec(dec)
    roll = record.roll_pr if tally.contest == PR_CONTEST_ID else record.roll_smd
    options = election.ballot_options(tally.contest)
    votes = {o: tally.votes.get(o, 0) for o in options}
    votes.update({o: n for o, n in tally.votes.items() if o not in votes and o != AGAINST_ALL})
    return Protocol._adopt(
        dec=dec,
        contest=tally.contest,
        roll=roll,
        received=participants,
        issued=participants,
        cancelled=0,
        found=tally.ballots,
        invalid=tally.invalid,
        valid=tally.valid,
        votes=MappingProxyType(votes),
        against_all=tally.votes.get(AGAINST_ALL, 0),
        preferences=tally.preferences,
    )


def share_problems(where: str, votes: Mapping[str, int], participants: int) -> list[Problem]:
    """Each option's share of participants <= 100%, and all together <= 100%.

    Exact integer comparisons: a share is never rounded before it is checked.
    """
    out = []
    for option, n in votes.items():
        if n > participants:
            pct = "∞" if participants == 0 else f"{100 * n / participants:.2f}%"
            out.append(
                Problem(
                    "share",
                    f"{where}: {option} has {n} votes of {participants} participants ({pct})",
                )
            )
    total = sum(votes.values())
    if total > participants:
        pct = "∞" if participants == 0 else f"{100 * total / participants:.2f}%"
        out.append(
            Problem(
                "share-sum",
                f"{where}: shares sum to {pct} ({total} votes, {participants} participants)",
            )
        )
    return out


def dec_problems(
    election: Election,
    dec: int,
    tallies: Mapping[str, ContestTally],
    participants: int,
    *,
    roll_margin: int = 0,
) -> list[Problem]:
    """Every reason one complete DEC's machine numbers may not be published."""
    out = []
    for contest, tally in tallies.items():
        protocol = machine_protocol(election, dec, tally, participants)
        for v in control_relations(protocol, election, roll_margin=roll_margin):
            if v.relation is not Relation.RECEIVED:
                out.append(Problem(f"relation:{v.relation.value}", f"{contest}: {v.message}"))
        out += share_problems(contest, tally.votes, participants)
    return out


def view_violations(view: Mapping[str, Any]) -> list[Problem]:
    """Checks on an assembled page view (national, region or district) before publishing.

    Works on any mapping with ``participants`` and ``contests`` (each with ``options``
    holding ``votes`` and ``share_pct``, plus ``blank`` and ``overvote``).
    """
    out = []
    participants = view["participants"]
    name = view.get("name", "view")
    if view.get("roll") is not None and participants > view["roll"] + view.get("margin", 0):
        out.append(Problem("turnout", f"{name}: {participants} participants, roll {view['roll']}"))
    for contest in view["contests"]:
        options = contest["options"]
        votes = {o["id"]: o["votes"] for o in options}
        where = f"{name} {contest['contest']}"
        out += share_problems(where, votes, participants)
        ballots = sum(votes.values()) + contest["blank"] + contest["overvote"]
        if ballots > participants:
            out.append(Problem("ballots", f"{where}: {ballots} ballots, {participants} voters"))
        shown = [o["share_pct"] for o in options]
        if any(s > 100 for s in shown) or sum(shown) > 100 + 0.005 * len(shown):
            out.append(Problem("share-shown", f"{where}: shares shown sum to {sum(shown):.2f}%"))
    return out
