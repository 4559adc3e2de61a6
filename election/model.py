"""The election's static world: geography, contestants, polling stations and ballots.

Everything here is a frozen dataclass so a definition, once validated, cannot drift
while a scanner, a server and an auditor each hold a reference to it.  Identity is by
stable string ids (party ``P07``, SMD candidate ``D04-C03``) so that ballots, packets and
reports can name an option without carrying the object.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

AGAINST_ALL = "AGAINST_ALL"
"""Option id of the "against all" box, present in every contest."""

LANGUAGES = ("ky", "ru")
"""Ballot languages: Kyrgyz and Russian share one geometry."""


class BallotKind(enum.StrEnum):
    """The two ballots of the 2021 mixed election."""

    PR = "PR"
    SMD = "SMD"


class Sex(enum.StrEnum):
    FEMALE = "F"
    MALE = "M"


@dataclass(frozen=True, slots=True)
class Region:
    """An oblast or a city of republican significance (Bishkek, Osh).

    ``seed_group`` is the row of the CEC's districting table the region belongs to: the
    report gives Osh city and Osh oblast as one row, so figures quoted from it are grouped.
    """

    code: str
    name: str
    seed_group: str


@dataclass(frozen=True, slots=True)
class District:
    """A single-mandate district (SMD), numbered in the seed's order."""

    number: int
    region: str
    name: str

    @property
    def contest_id(self) -> str:
        return smd_contest_id(self.number)


@dataclass(frozen=True, slots=True)
class ListCandidate:
    """A candidate on a party list; ``position`` is the number voters mark in part 2."""

    party: str
    position: int
    name: str
    sex: Sex


@dataclass(frozen=True, slots=True)
class Party:
    """A registered party; ``ballot_position`` is its place on the PR ballot (1-based)."""

    id: str
    name: str
    ballot_position: int
    candidates: tuple[ListCandidate, ...]


@dataclass(frozen=True, slots=True)
class SmdCandidate:
    """A candidate in a single-mandate district, ``nominated_by`` a party id or None."""

    id: str
    district: int
    name: str
    sex: Sex
    ballot_position: int
    nominated_by: str | None = None


@dataclass(frozen=True, slots=True)
class Dec:
    """A precinct election commission (polling station).

    Abroad DECs have no district and no region and issue the PR ballot only, so their
    ``roll_smd`` is zero.  ``units`` is how many PCOS scanners stand at the station.
    """

    number: int
    roll_pr: int
    roll_smd: int
    units: int
    district: int | None = None
    region: str | None = None
    country: str = "Kyrgyzstan"
    city: str = ""

    @property
    def abroad(self) -> bool:
        return self.district is None

    @property
    def ballot_kinds(self) -> tuple[BallotKind, ...]:
        return (BallotKind.PR,) if self.abroad else (BallotKind.PR, BallotKind.SMD)


@dataclass(frozen=True, slots=True)
class BallotStyle:
    """What a scanner must know to read a page: the contest and the printed language.

    The PR ballot has one style per language for the whole country; an SMD ballot has
    one per district and language.
    """

    kind: BallotKind
    language: str
    district: int | None = None

    @property
    def contest_id(self) -> str:
        return PR_CONTEST_ID if self.kind is BallotKind.PR else smd_contest_id(self.district)


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """How many PCOS units the election has, and how they are split (see docs)."""

    total: int
    reserve: int


@dataclass(frozen=True, slots=True)
class Election:
    """A complete, validated election definition.

    Build one with :func:`election.definition.load` or a fixtures scenario; the
    constructor does not validate, the loader does.
    """

    id: str
    name: str
    date: str
    regions: tuple[Region, ...]
    districts: tuple[District, ...]
    parties: tuple[Party, ...]
    smd_candidates: tuple[SmdCandidate, ...]
    decs: tuple[Dec, ...]
    seats_pr: int
    seats_smd: int
    units: UnitPlan
    rules: str = "kg2021"
    _index: dict = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index = {
            "party": {p.id: p for p in self.parties},
            "district": {d.number: d for d in self.districts},
            "dec": {d.number: d for d in self.decs},
            "region": {r.code: r for r in self.regions},
            "smd_by_district": {},
        }
        for cand in self.smd_candidates:
            index["smd_by_district"].setdefault(cand.district, []).append(cand)
        for number, cands in index["smd_by_district"].items():
            index["smd_by_district"][number] = tuple(sorted(cands, key=lambda c: c.ballot_position))
        object.__setattr__(self, "_index", index)
        # The server asks for a contest's options for every DEC it evaluates.
        index["options"] = {c: self._options(c) for c in self.contest_ids}
        index["ballot_options"] = {c: _votes_lines(o) for c, o in index["options"].items()}
        index["list_lengths"] = MappingProxyType({p.id: len(p.candidates) for p in self.parties})
        index["contests_at"] = {}  # filled as DECs are asked for (contests_at)

    # Look-ups ---------------------------------------------------------------------------

    def party(self, party_id: str) -> Party:
        return self._index["party"][party_id]

    def district(self, number: int) -> District:
        return self._index["district"][number]

    def dec(self, number: int) -> Dec:
        return self._index["dec"][number]

    def region(self, code: str) -> Region:
        return self._index["region"][code]

    def has_dec(self, number: int) -> bool:
        return number in self._index["dec"]

    def candidates_in(self, district: int) -> tuple[SmdCandidate, ...]:
        return self._index["smd_by_district"].get(district, ())

    @property
    def parties_in_ballot_order(self) -> tuple[Party, ...]:
        return tuple(sorted(self.parties, key=lambda p: p.ballot_position))

    @property
    def seats_total(self) -> int:
        return self.seats_pr + self.seats_smd

    # Contests ---------------------------------------------------------------------------

    def options(self, contest_id: str) -> tuple[str, ...]:
        """Option ids of a contest in ballot order, "against all" last."""
        known = self._index["options"].get(contest_id)
        return known if known is not None else self._options(contest_id)

    def ballot_options(self, contest_id: str) -> tuple[str, ...]:
        """The options with a votes line on the protocol: :meth:`options` without
        "against all", which has a line of its own."""
        known = self._index["ballot_options"].get(contest_id)
        return known if known is not None else _votes_lines(self._options(contest_id))

    @property
    def list_lengths(self) -> Mapping[str, int]:
        """Each party's number of list candidates (the highest preference position)."""
        return self._index["list_lengths"]

    def _options(self, contest_id: str) -> tuple[str, ...]:
        if contest_id == PR_CONTEST_ID:
            return (*(p.id for p in self.parties_in_ballot_order), AGAINST_ALL)
        district = district_of_contest(contest_id)
        return (*(c.id for c in self.candidates_in(district)), AGAINST_ALL)

    @property
    def contest_ids(self) -> tuple[str, ...]:
        return (PR_CONTEST_ID, *(d.contest_id for d in self.districts))

    def styles_for(self, dec_number: int) -> tuple[BallotStyle, ...]:
        """Every ballot style a DEC may legitimately scan."""
        dec = self.dec(dec_number)
        styles = [BallotStyle(BallotKind.PR, lang) for lang in LANGUAGES]
        if not dec.abroad:
            styles += [BallotStyle(BallotKind.SMD, lang, dec.district) for lang in LANGUAGES]
        return tuple(styles)

    def contests_at(self, dec_number: int) -> frozenset[str]:
        """The contests of :meth:`styles_for`, kept once asked for: the server checks
        them for every DEC it evaluates."""
        known = self._index["contests_at"].get(dec_number)
        if known is None:
            known = frozenset(style.contest_id for style in self.styles_for(dec_number))
            self._index["contests_at"][dec_number] = known
        return known

    @property
    def max_list_length(self) -> int:
        return max((len(p.candidates) for p in self.parties), default=0)


PR_CONTEST_ID = "PR"


def smd_contest_id(district: int | None) -> str:
    if district is None:
        raise ValueError("an SMD contest needs a district number")
    return f"SMD-{district:02d}"


def district_of_contest(contest_id: str) -> int:
    """Inverse of :func:`smd_contest_id`; raises ValueError on anything else."""
    prefix, _, number = contest_id.partition("-")
    if prefix != "SMD" or not number.isdigit():
        raise ValueError(f"not an SMD contest id: {contest_id!r}")
    return int(number)


def _votes_lines(options: tuple[str, ...]) -> tuple[str, ...]:
    """A contest's options without "against all" (the protocol's votes lines)."""
    return tuple(o for o in options if o != AGAINST_ALL)
