"""Verdicts: what the marks on one ballot count for, under a :class:`ValidityRules`.

Every ballot gets exactly one verdict.  A mark the rules cannot place (an option id the
contest does not have, a number part 2 does not print, a number on an SMD ballot) is a
:class:`BallotError`, never a silently dropped mark: it means the reader or the generator
is wrong, and a count built on it would be wrong too.

The case the ballot design makes possible: part 2 prints the same numbered boxes for
every party, so a voter can mark number 40 for a party with 30 candidates.  What that
means is the rule ``preference_beyond_list``: ``void`` (default) voids the preference
and keeps the party vote, with the marked number kept in the verdict; ``error`` raises
:class:`BallotError` so the caller must decide.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from election.ballots import MarkedBallot
from election.errors import PcosLabError
from election.model import AGAINST_ALL, PR_CONTEST_ID, BallotKind, Election
from election.rules import InvalidBallotPolicy, PreferenceBeyondList, ValidityRules


class BallotError(PcosLabError):
    """Marks that no rule can place: the reading or the ballot is wrong, not the voter."""

    code = "bad_ballot"


class VerdictKind(enum.StrEnum):
    VOTE = "vote"
    BLANK = "blank"
    OVERVOTE = "overvote"


class Preference(enum.StrEnum):
    """What part 2 of a PR ballot counts for.

    ``preference``: exactly one number on the chosen party's list.  ``none``: no number
    (credited to the first candidate when the rules say so).  ``void``: two or more
    numbers, or one past the list under ``preference_beyond_list = void``.
    ``not_applicable``: SMD ballots, "against all", blank and overvoted ballots.
    """

    PREFERENCE = "preference"
    NONE = "none"
    VOID = "void"
    NOT_APPLICABLE = "not_applicable"

    def phrase(self, credited: int | None) -> str:
        """The words a summary line uses, so the CLI and the overlay say it alike."""
        credit = f", No. {credited} credited" if credited else ""
        return {
            Preference.PREFERENCE: f"preference No. {credited}",
            Preference.NONE: f"no preference{credit}",
            Preference.VOID: "preference void",
        }.get(self, "")


class Handling(enum.StrEnum):
    """What the scanner does with the sheet after reading it."""

    ACCEPT = "accept"
    RETURN_WITH_WARNING = "return-with-warning"


@dataclass(frozen=True, slots=True)
class ContestSpec:
    """What judging a ballot needs to know of its contest.

    ``list_lengths`` maps each party to its number of list candidates (PR only).
    """

    contest: str
    kind: BallotKind
    options: tuple[str, ...]
    list_lengths: Mapping[str, int] = field(default_factory=dict)
    option_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "list_lengths", MappingProxyType(dict(self.list_lengths)))
        object.__setattr__(self, "option_set", frozenset(self.options))

    @classmethod
    def of(cls, election: Election, contest_id: str) -> ContestSpec:
        if contest_id not in election.contest_ids:
            raise BallotError(f"election {election.id} has no contest {contest_id}")
        options = election.options(contest_id)
        if contest_id != PR_CONTEST_ID:
            return cls(contest_id, BallotKind.SMD, options)
        lengths = {p.id: len(p.candidates) for p in election.parties}
        return cls(contest_id, BallotKind.PR, options, lengths)


@dataclass(frozen=True, slots=True)
class ContestVerdict:
    """The one verdict a ballot gets.

    ``option`` is the chosen option of a vote (None when blank or overvoted).
    ``credited_position`` is the list position that receives the preference vote: the
    marked number, 1 for an unmarked part 2 under ``no_preference_means_first``, else
    None.  ``preference_marks`` keeps every part-2 number read, also those that count
    for nothing, so a report can show them.
    """

    contest: str
    kind: VerdictKind
    option: str | None = None
    preference: Preference = Preference.NOT_APPLICABLE
    credited_position: int | None = None
    preference_marks: tuple[int, ...] = ()

    @property
    def valid(self) -> bool:
        return self.kind is VerdictKind.VOTE


def judge(ballot: MarkedBallot, spec: ContestSpec, rules: ValidityRules) -> ContestVerdict:
    """The verdict for one ballot of ``spec``'s contest."""
    if ballot.style.contest_id != spec.contest:
        raise BallotError(
            f"a ballot of contest {ballot.style.contest_id} cannot be judged as {spec.contest}"
        )
    kind, option, preference, credited = classify(spec, rules, ballot.options, ballot.preferences)
    return ContestVerdict(
        spec.contest, kind, option, preference, credited, tuple(sorted(ballot.preferences))
    )


def classify(
    spec: ContestSpec,
    rules: ValidityRules,
    options: frozenset[str],
    preferences: frozenset[int],
) -> tuple[VerdictKind, str | None, Preference, int | None]:
    """The verdict as a plain tuple (kind, option, preference, credited position).

    The single implementation of the rules: :func:`judge` wraps it, and
    :func:`election.counting.count` calls it directly to avoid an object per ballot.
    """
    if preferences:
        _check_numbers(spec, rules, preferences)
    if len(options) != 1:
        unknown = options - spec.option_set
        if unknown:
            raise _unknown(spec, unknown)
        kind = VerdictKind.BLANK if not options else VerdictKind.OVERVOTE
        return kind, None, Preference.NOT_APPLICABLE, None
    (option,) = options
    if option not in spec.option_set:
        raise _unknown(spec, options)
    if spec.kind is BallotKind.SMD or option == AGAINST_ALL:
        return VerdictKind.VOTE, option, Preference.NOT_APPLICABLE, None
    length = spec.list_lengths[option]
    if not preferences:
        credited = 1 if rules.no_preference_means_first and length else None
        return VerdictKind.VOTE, option, Preference.NONE, credited
    if len(preferences) > 1:
        return VerdictKind.VOTE, option, Preference.VOID, None
    (position,) = preferences
    if position <= length:
        return VerdictKind.VOTE, option, Preference.PREFERENCE, position
    if rules.preference_beyond_list is PreferenceBeyondList.ERROR:
        raise BallotError(
            f"{spec.contest}: preference number {position} marked for {option}, whose list "
            f"has {length} candidates (rule preference_beyond_list = error)"
        )
    return VerdictKind.VOTE, option, Preference.VOID, None


def handling(verdict: ContestVerdict, rules: ValidityRules) -> Handling:
    """Accept the sheet, or return it with a warning, as the invalid-ballot policy says.

    Under ``return-with-warning`` a blank, an overvote and a void preference (an
    overvote in part 2: the voter's preference would be lost) come back; the voter may
    cast the ballot anyway, and it is then counted by its verdict like any other.
    """
    if rules.invalid_ballot_policy is InvalidBallotPolicy.ACCEPT_INVALID:
        return Handling.ACCEPT
    if verdict.kind is not VerdictKind.VOTE or verdict.preference is Preference.VOID:
        return Handling.RETURN_WITH_WARNING
    return Handling.ACCEPT


def _check_numbers(spec: ContestSpec, rules: ValidityRules, preferences: frozenset[int]) -> None:
    if spec.kind is BallotKind.SMD:
        raise BallotError(
            f"{spec.contest}: an SMD ballot has no numbered part, but numbers "
            f"{sorted(preferences)} were read"
        )
    bad = [n for n in preferences if type(n) is not int or not 1 <= n <= rules.preference_boxes]
    if bad:
        raise BallotError(
            f"{spec.contest}: part 2 prints numbers 1..{rules.preference_boxes}, "
            f"but {sorted(map(repr, bad))} were read"
        )


def _unknown(spec: ContestSpec, unknown: frozenset[str]) -> BallotError:
    return BallotError(
        f"{spec.contest}: marks on options the contest does not have: {sorted(unknown)}"
    )
