"""Machine count against manual protocol, line by line.

The manual count is the final result and the machine count the preliminary one; where
they differ the verification group decides whether to recount.  Only lines both sides
know are compared: ballots found, invalid, valid, each option and "against all".
"""

from __future__ import annotations

from typing import Any

from election.model import AGAINST_ALL, Election
from election.protocol import Protocol, control_relations
from election.tally import ContestTally


def compare(machine: ContestTally, manual: Protocol) -> list[dict[str, Any]]:
    """Every line where the two differ, with both numbers and manual minus machine."""
    pairs = [
        ("found", machine.ballots, manual.found),
        ("invalid", machine.invalid, manual.invalid),
        ("valid", machine.valid, manual.valid),
    ]
    options = dict.fromkeys([*manual.votes, *machine.votes])
    for option in options:
        if option == AGAINST_ALL:
            continue
        pairs.append((f"votes.{option}", machine.votes.get(option, 0), manual.votes.get(option, 0)))
    pairs.append(("against_all", machine.votes.get(AGAINST_ALL, 0), manual.against_all))
    return [
        {"line": line, "machine": a, "manual": b, "difference": b - a}
        for line, a, b in pairs
        if a != b
    ]


def protocol_problems(protocol: Protocol, election: Election) -> list[dict[str, Any]]:
    """The protocol's own broken control relations (a sheet that disagrees with itself)."""
    return [
        {"relation": v.relation.value, "lines": list(v.lines), "message": v.message}
        for v in control_relations(protocol, election)
    ]
