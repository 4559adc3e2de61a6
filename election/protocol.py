"""The manual count protocol of a DEC and its control relations.

The protocol is the final result (the machine count is preliminary), written by hand on
election night, so it is modelled as the paper states it: every line is a number the
commission wrote, none is derived from another.  That is what makes the control
relations meaningful -- they catch a sheet whose own lines disagree -- and why the
constructor accepts any numbers: a bad sheet must be representable to be reported.

One protocol per DEC and contest (the PR ballot and the district's SMD ballot are
counted and reported separately).  Lines, in the order of the form:

==================  =========================================================
``roll``            voters on the roll of the DEC (for this ballot)
``received``        ballots the DEC received
``issued``          ballots issued to voters
``cancelled``       unused ballots, cancelled after the close
``found``           ballots found in the ballot box(es)
``invalid``         invalid ballots (blank, overvoted, unreadable)
``valid``           valid ballots
``votes.<id>``      votes for each party or candidate, in ballot order
``against_all``     votes "against all"
``preferences.<party>.<n>``  PR only: preference votes for list position n
==================  =========================================================

:func:`control_relations` checks the relations every correct sheet satisfies (see
:class:`Relation`); the server runs it before publishing a protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from election.errors import PcosLabError
from election.model import AGAINST_ALL, PR_CONTEST_ID, Election

TOTAL_LINES = ("roll", "received", "issued", "cancelled", "found", "invalid", "valid")
"""The totals section of the form, in order."""


class ProtocolFormatError(PcosLabError):
    """Protocol data that is not a protocol at all (missing line, not a whole number)."""

    code = "bad_protocol"


@dataclass(frozen=True, slots=True)
class Protocol:
    """One DEC's manual count of one contest, line by line as written.

    ``votes`` maps party or candidate ids to votes in ballot order, without "against
    all", which has its own line.  ``preferences`` maps a party id to {list position:
    preference votes} (PR only; positions without votes may be left out).
    """

    dec: int
    contest: str
    roll: int
    received: int
    issued: int
    cancelled: int
    found: int
    invalid: int
    valid: int
    votes: Mapping[str, int]
    against_all: int
    preferences: Mapping[str, Mapping[int, int]] = field(default_factory=dict)

    @classmethod
    def _adopt(cls, **lines: Any) -> Protocol:
        """A protocol over mappings that are read-only already and will not change (a
        fresh votes map and a tally's preferences): every line, without the copies
        :meth:`__post_init__` makes of what it is handed.  The server writes every
        DEC's machine count as a protocol to check it, and copying each party's
        preference votes was a third of that."""
        protocol = object.__new__(cls)
        for name, value in lines.items():
            object.__setattr__(protocol, name, value)
        return protocol

    def __post_init__(self) -> None:
        object.__setattr__(self, "votes", MappingProxyType(dict(self.votes)))
        prefs = {party: MappingProxyType(dict(p)) for party, p in self.preferences.items()}
        object.__setattr__(self, "preferences", MappingProxyType(prefs))

    def lines(self) -> dict[str, Any]:
        """Every line by name (``votes.P03``, ``preferences.P03.7``), in form order."""
        out: dict[str, Any] = {name: getattr(self, name) for name in TOTAL_LINES}
        out.update({f"votes.{option}": n for option, n in self.votes.items()})
        out["against_all"] = self.against_all
        for party, positions in self.preferences.items():
            out.update({f"preferences.{party}.{pos}": n for pos, n in positions.items()})
        return out

    def with_line(self, name: str, value: int) -> Protocol:
        """A copy with one line (named as in :meth:`lines`) rewritten."""
        kind, _, rest = name.partition(".")
        if name in TOTAL_LINES or name == "against_all":
            return replace(self, **{name: value})
        if kind == "votes" and rest in self.votes:
            return replace(self, votes={**self.votes, rest: value})
        party, _, pos = rest.partition(".")
        if kind == "preferences" and pos.isdigit() and party in self.preferences:
            positions = {**self.preferences[party], int(pos): value}
            return replace(self, preferences={**self.preferences, party: positions})
        raise KeyError(f"no line {name!r} on the protocol of DEC {self.dec} {self.contest}")

    @property
    def option_votes(self) -> dict[str, int]:
        """Votes per option with "against all" under ``AGAINST_ALL``, as a tally has them."""
        return {**self.votes, AGAINST_ALL: self.against_all}

    def to_json(self) -> dict[str, Any]:
        """Plain data; list positions become strings as JSON requires."""
        return {
            "dec": self.dec,
            "contest": self.contest,
            **{name: getattr(self, name) for name in TOTAL_LINES},
            "votes": dict(self.votes),
            "against_all": self.against_all,
            "preferences": {
                party: {str(pos): n for pos, n in positions.items()}
                for party, positions in self.preferences.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Protocol:
        """Read :meth:`to_json` data; a missing line or a non-integer count is a
        :class:`ProtocolFormatError` naming the line.  Negative counts are accepted
        here and reported by :func:`control_relations`."""
        if not isinstance(data, Mapping):
            raise ProtocolFormatError("a protocol must be a JSON object")
        contest = data.get("contest")
        if not isinstance(contest, str) or not contest:
            raise ProtocolFormatError("contest: missing or not a string")
        totals = {name: _whole(data.get(name), name) for name in ("dec", *TOTAL_LINES)}
        votes = _counts(data.get("votes"), "votes", str)
        preferences = data.get("preferences", {})
        if not isinstance(preferences, Mapping):
            raise ProtocolFormatError("preferences: must be an object")
        return cls(
            contest=contest,
            **totals,
            votes=votes,
            against_all=_whole(data.get("against_all"), "against_all"),
            preferences={
                party: _counts(positions, f"preferences.{party}", _position)
                for party, positions in preferences.items()
            },
        )


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolFormatError(f"{name}: missing or not a whole number, got {value!r}")
    return value


def _position(key: str) -> int:
    if not key.isdigit():
        raise ValueError(key)
    return int(key)


def _counts(data: Any, name: str, key_type: Callable[[str], Any]) -> dict[Any, int]:
    if not isinstance(data, Mapping):
        raise ProtocolFormatError(f"{name}: missing or not an object")
    out = {}
    for key, value in data.items():
        try:
            parsed = key_type(key)
        except ValueError:
            raise ProtocolFormatError(f"{name}: bad key {key!r}") from None
        out[parsed] = _whole(value, f"{name}.{key}")
    return out


class Relation(enum.StrEnum):
    """The control relations of a protocol, checked in this order.

    ``non_negative``  every line is a whole number >= 0.
    ``received``      issued + cancelled = received: every ballot is accounted for.
    ``found_issued``  found <= issued: the box holds no ballot that was not issued
                      (fewer is possible: a voter may leave with a ballot).
    ``found``         valid + invalid = found.
    ``valid``         the votes lines plus "against all" sum to valid.
    ``roll``          issued <= roll + margin (voters added on the day, if the law allows).
    ``preferences``   a party's preference votes sum to at most its votes, only for
                      parties on the protocol and positions >= 1 (and, with the
                      election, on its list).
    ``definition``    with the election: the DEC exists and issues this contest, the
                      votes lines are exactly its options, and the roll line is the
                      definition's roll.
    """

    NON_NEGATIVE = "non_negative"
    RECEIVED = "received"
    FOUND_ISSUED = "found_issued"
    FOUND = "found"
    VALID = "valid"
    ROLL = "roll"
    PREFERENCES = "preferences"
    DEFINITION = "definition"


@dataclass(frozen=True, slots=True)
class Violation:
    """A relation a protocol breaks, the lines involved, and a sentence with the numbers.

    ``lines`` are names as in :meth:`Protocol.lines`; a ``definition`` violation names
    the field it concerns (``dec``, ``contest``, ``votes``, ``roll``, ``preferences``).
    """

    relation: Relation
    lines: tuple[str, ...]
    message: str


def control_relations(
    protocol: Protocol, election: Election | None = None, *, roll_margin: int = 0
) -> list[Violation]:
    """Every broken control relation of ``protocol``, in :class:`Relation` order.

    An empty list means the sheet is internally consistent -- not that it is right: a
    ballot counted on the wrong party's pile keeps every sum.  Only comparison with the
    machine count or a recount finds that.  With ``election`` the sheet is also checked
    against the definition.  If a line is not a whole number, only that is reported.
    """
    p = protocol
    not_whole, negative = _bad_counts(p)
    if not_whole:
        return not_whole
    found = negative
    votes = sum(p.votes.values())
    # Each check's lines and message are written only if it fails: the server checks
    # every DEC's machine count, and nearly every one passes.
    checks = [
        (p.issued + p.cancelled == p.received, Relation.RECEIVED, lambda: (
         ("issued", "cancelled", "received"),
         f"issued {p.issued} + cancelled {p.cancelled} = {p.issued + p.cancelled}, "
         f"but received {p.received}")),
        (p.found <= p.issued, Relation.FOUND_ISSUED, lambda: (
         ("found", "issued"), f"found {p.found} exceeds issued {p.issued}")),
        (p.valid + p.invalid == p.found, Relation.FOUND, lambda: (
         ("valid", "invalid", "found"),
         f"valid {p.valid} + invalid {p.invalid} = {p.valid + p.invalid}, "
         f"but found {p.found}")),
        (votes + p.against_all == p.valid, Relation.VALID, lambda: (
         (*(f"votes.{o}" for o in p.votes), "against_all", "valid"),
         f"votes {votes} + against all {p.against_all} = {votes + p.against_all}, "
         f"but valid {p.valid}")),
        (p.issued <= p.roll + roll_margin, Relation.ROLL, lambda: (
         ("issued", "roll"),
         f"issued {p.issued} exceeds roll {p.roll}"
         + (f" + margin {roll_margin}" if roll_margin else ""))),
    ]  # fmt: skip
    found += [Violation(rel, *written()) for ok, rel, written in checks if not ok]
    found += _preferences(p, election)
    if election is not None:
        found += _definition(p, election)
    return found


def _bad_counts(p: Protocol) -> tuple[list[Violation], list[Violation]]:
    """Lines that are not whole numbers, and lines that are negative.

    The server checks every DEC's machine count this way as it arrives, so a sheet of
    plain non-negative ints (nearly every sheet) is recognised from its values alone,
    before any line is named.
    """
    values = [getattr(p, name) for name in TOTAL_LINES]
    values += p.votes.values()
    values.append(p.against_all)
    for positions in p.preferences.values():
        values += positions.values()
    if set(map(type, values)) <= {int} and min(values) >= 0:
        return [], []
    not_whole, negative = [], []
    for name, value in p.lines().items():
        if isinstance(value, bool) or not isinstance(value, int):
            message = f"{name} is not a whole number: {value!r}"
            not_whole.append(Violation(Relation.NON_NEGATIVE, (name,), message))
        elif value < 0:
            message = f"{name} is negative: {value}"
            negative.append(Violation(Relation.NON_NEGATIVE, (name,), message))
    return not_whole, negative


def _preferences(p: Protocol, election: Election | None) -> list[Violation]:
    lengths = election.list_lengths if election else None
    out = []
    for party, positions in p.preferences.items():
        line = f"preferences.{party}"
        if party not in p.votes:
            out.append(Violation(Relation.PREFERENCES, (line,), f"{party} has no votes line"))
            continue
        top = None if lengths is None else lengths.get(party, 0)
        bad = _off_list(positions, top)
        if bad:
            message = f"{party}: positions {bad} are not on its list"
            out.append(Violation(Relation.PREFERENCES, (line,), message))
        total = sum(positions.values())
        if total > p.votes[party]:
            message = f"{party}: preference votes {total} exceed its votes {p.votes[party]}"
            out.append(Violation(Relation.PREFERENCES, (line, f"votes.{party}"), message))
    return out


def _off_list(positions: Mapping[Any, int], top: int | None) -> list[Any]:
    """The positions that are not whole numbers from 1 to ``top`` (any, if None).

    Nearly every sheet has none, which min and max show without a loop in Python: the
    server checks every DEC's machine count with its hundreds of positions this way.
    """
    if not positions or (
        set(map(type, positions)) == {int}
        and min(positions) >= 1
        and (top is None or max(positions) <= top)
    ):
        return []
    return [
        pos
        for pos in positions
        if type(pos) is not int or pos < 1 or (top is not None and pos > top)
    ]


def _definition(p: Protocol, election: Election) -> list[Violation]:
    if not election.has_dec(p.dec):
        return [Violation(Relation.DEFINITION, ("dec",), f"{election.id} has no DEC {p.dec}")]
    dec = election.dec(p.dec)
    if p.contest not in election.contests_at(p.dec):
        message = f"DEC {p.dec} does not issue ballots of contest {p.contest}"
        return [Violation(Relation.DEFINITION, ("contest",), message)]
    out = []
    options = election.ballot_options(p.contest)
    if tuple(p.votes) != options:
        message = f"votes lines {list(p.votes)} are not the ballot's options {list(options)}"
        out.append(Violation(Relation.DEFINITION, ("votes",), message))
    roll = dec.roll_pr if p.contest == PR_CONTEST_ID else dec.roll_smd
    if p.roll != roll:
        message = f"roll {p.roll} differs from the definition's {roll}"
        out.append(Violation(Relation.DEFINITION, ("roll",), message))
    if p.preferences and p.contest != PR_CONTEST_ID:
        out.append(Violation(Relation.DEFINITION, ("preferences",), "an SMD has no preferences"))
    return out
