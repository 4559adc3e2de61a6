"""Seats: PR allocation with its explanation, members inside a party, SMD outcomes.

Every rule of :class:`~election.rules.SeatRules` is either applied or recorded as not
applied in the result; nothing is skipped silently.  Arithmetic is exact (integers and
fractions) so that two machines, or a machine and an auditor's spreadsheet done right,
agree to the last seat.

Tie rules (docs/rules.md):

- Largest remainders: equal remainders → more votes → earlier ballot position.
- Inside a party: more preference votes → earlier list position.
- SMD: no tie is broken; an exact tie at the top is flagged for the commission.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from election.errors import PcosLabError
from election.model import AGAINST_ALL, PR_CONTEST_ID, Election, ListCandidate, Party, Sex
from election.rules import SeatRules, ThresholdBase
from election.tally import ContestTally


class SeatError(PcosLabError):
    """Inputs a seat calculation cannot use, or a rule it was asked to skip silently."""

    code = "bad_seat_input"


# Inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegionResult:
    """PR votes of one region (options as in the national tally) and its participants.

    ``participants`` may be None only when the threshold base is valid votes.
    """

    votes: Mapping[str, int]
    participants: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "votes", MappingProxyType(dict(self.votes)))

    @classmethod
    def from_tally(cls, tally: ContestTally, participants: int | None) -> RegionResult:
        return cls(tally.votes, participants)


# PR allocation result --------------------------------------------------------------------


class RegionalCheck(enum.StrEnum):
    """Whether the regional threshold was applied."""

    EVALUATED = "evaluated"
    OFF = "off"
    NOT_EVALUATED = "not-evaluated"


@dataclass(frozen=True, slots=True)
class PartyResult:
    """One party's line in the allocation.

    ``quota_seats`` and ``remainder`` come from the largest-remainder round that fixed the
    party's seats (the remainder is the fractional part of votes / quota);
    ``remainder_seat`` says whether it won a seat by remainder; ``capped`` whether it
    exceeded the cap and was held to it.  ``reasons`` says why a party did not qualify.
    """

    party: str
    ballot_position: int
    votes: int
    share: Fraction
    qualified: bool
    reasons: tuple[str, ...] = ()
    quota_seats: int = 0
    remainder: Fraction = Fraction(0)
    remainder_seat: bool = False
    capped: bool = False
    seats: int = 0


@dataclass(frozen=True, slots=True)
class LrRound:
    """One Hare/largest-remainder pass: ``seats`` among ``parties`` with ``quota``.

    A second pass happens only when the first gave some party more than the cap
    (``over_cap``): those are held to the cap and the other parties share the rest.
    ``ties`` describes remainder ties at the seat boundary and how they were broken.
    """

    seats: int
    votes: int
    quota: Fraction
    parties: tuple[str, ...]
    over_cap: tuple[str, ...]
    ties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PrAllocation:
    """The PR result with everything a report needs to show how it was reached."""

    seats: int
    rules: SeatRules
    participants: int | None
    valid_votes: int
    threshold_base: int
    regional: RegionalCheck
    regions: tuple[str, ...]
    cap: int | None
    parties: tuple[PartyResult, ...]
    rounds: tuple[LrRound, ...]
    unfilled: int
    notes: tuple[str, ...]

    @property
    def quota(self) -> Fraction | None:
        """The Hare quota of the first round (None when no party qualified)."""
        return self.rounds[0].quota if self.rounds else None

    @property
    def won(self) -> dict[str, int]:
        """Seats per party that won any, in ballot order."""
        return {p.party: p.seats for p in self.parties if p.seats}

    def seats_of(self, party: str) -> int:
        for row in self.parties:
            if row.party == party:
                return row.seats
        raise SeatError(f"party {party!r} is not in this allocation")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; shares, remainders and quotas as floats for display."""
        return {
            "seats": self.seats,
            "rules": self.rules.to_dict(),
            "participants": self.participants,
            "valid_votes": self.valid_votes,
            "threshold_base": self.threshold_base,
            "regional": self.regional.value,
            "regions": list(self.regions),
            "cap": self.cap,
            "quota": None if self.quota is None else float(self.quota),
            "parties": [
                {
                    "party": p.party,
                    "ballot_position": p.ballot_position,
                    "votes": p.votes,
                    "share": float(p.share),
                    "qualified": p.qualified,
                    "reasons": list(p.reasons),
                    "quota_seats": p.quota_seats,
                    "remainder": float(p.remainder),
                    "remainder_seat": p.remainder_seat,
                    "capped": p.capped,
                    "seats": p.seats,
                }
                for p in self.parties
            ],
            "rounds": [
                {
                    "seats": r.seats,
                    "votes": r.votes,
                    "quota": float(r.quota),
                    "parties": list(r.parties),
                    "over_cap": list(r.over_cap),
                    "ties": list(r.ties),
                }
                for r in self.rounds
            ],
            "unfilled": self.unfilled,
            "notes": list(self.notes),
        }

    def explain(self) -> str:
        """A plain-text table of the allocation, for a report or a terminal."""
        base = self.rules.threshold_base.value.replace("_", " ")
        lines = [
            f"PR seats {self.seats}; threshold {_pct(self.rules.national_threshold)} of "
            f"{base} ({self.threshold_base:,}); regional threshold {self.regional.value}"
            + (f" in {len(self.regions)} regions" if self.regions else "")
            + f"; cap {self.cap if self.cap is not None else 'none'}",
        ]
        for n, rnd in enumerate(self.rounds, 1):
            lines.append(
                f"round {n}: {rnd.seats} seats, {rnd.votes:,} votes, quota {float(rnd.quota):,.2f}"
                + (f", over the cap: {', '.join(rnd.over_cap)}" if rnd.over_cap else "")
            )
            lines += [f"  tie: {t}" for t in rnd.ties]
        lines.append(
            f"{'#':>2} {'party':<12} {'votes':>10} {'share':>7} {'quota':>5} "
            f"{'remainder':>9} {'+1':>2} {'cap':>3} {'seats':>5}  note"
        )
        for p in self.parties:
            plus = "+1" if p.remainder_seat else ""
            capped = "cap" if p.capped else ""
            lines.append(
                f"{p.ballot_position:>2} {p.party:<12} {p.votes:>10,} {_pct(p.share):>7} "
                f"{p.quota_seats:>5} {float(p.remainder):>9.4f} {plus:>2} {capped:>3} "
                f"{p.seats:>5}  {'; '.join(p.reasons)}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# PR allocation ---------------------------------------------------------------------------


def allocate_pr(
    votes: Mapping[str, int] | ContestTally,
    *,
    seats: int,
    ballot_order: Sequence[str],
    rules: SeatRules,
    participants: int | None = None,
    regional: Mapping[str, RegionResult] | None = None,
    regions: Collection[str] | None = None,
    regional_not_evaluated: bool = False,
) -> PrAllocation:
    """Allocate ``seats`` PR seats.

    ``votes`` holds party votes (and "against all", which counts toward the valid votes
    but never wins a seat); parties in ``ballot_order`` without an entry have 0 votes.
    ``participants`` is the number of voters who took part (the kg2021 threshold base).
    ``regional`` maps each region to its votes; when ``regions`` is given the mapping
    must cover exactly those regions.  With the regional rule on, ``regional=None`` is
    an error unless ``regional_not_evaluated=True``, and the result then says the rule
    was not evaluated.
    """
    votes = dict(votes.votes if isinstance(votes, ContestTally) else votes)
    _check_count(seats, "seats", minimum=1)
    order = _check_order(ballot_order)
    for option, n in votes.items():
        _check_count(n, f"votes[{option}]")
        if option != AGAINST_ALL and option not in order:
            raise SeatError(f"votes for {option!r}, which is not in the ballot order")
    valid = sum(votes.values())
    base = _threshold_base(rules, participants, valid, "national")
    status, region_codes, regional_failures = _regional_check(
        rules, votes, order, regional, regions, regional_not_evaluated
    )

    rows: dict[str, PartyResult] = {}
    for position, party in enumerate(order, 1):
        n = votes.get(party, 0)
        share = Fraction(n, base) if base else Fraction(0)
        reasons = [] if n else ["no votes"]
        if n and share < rules.national_threshold:
            reasons.append(
                "below the national threshold: "
                + _shortfall(n, rules.national_threshold, base, rules.threshold_base)
            )
        reasons += regional_failures.get(party, [])
        rows[party] = PartyResult(party, position, n, share, not reasons, tuple(reasons))

    cap = None
    if rules.max_seat_share is not None:
        cap = rules.max_seat_share.numerator * seats // rules.max_seat_share.denominator
    rounds, fixed, unfilled = _allocate_with_cap(
        [(p, r.votes, r.ballot_position) for p, r in rows.items() if r.qualified], seats, cap
    )
    parties = tuple(replace(row, **fixed.get(row.party, {})) for row in rows.values())
    notes = _notes(rules, status, unfilled, any(r.qualified for r in rows.values()))
    return PrAllocation(
        seats=seats,
        rules=rules,
        participants=participants,
        valid_votes=valid,
        threshold_base=base,
        regional=status,
        regions=region_codes,
        cap=cap,
        parties=parties,
        rounds=tuple(rounds),
        unfilled=unfilled,
        notes=notes,
    )


def allocate_pr_for(
    election: Election,
    tally: ContestTally,
    *,
    rules: SeatRules,
    participants: int | None = None,
    regional: Mapping[str, RegionResult] | None = None,
    regional_not_evaluated: bool = False,
) -> PrAllocation:
    """:func:`allocate_pr` with the seat count, ballot order and regions of ``election``."""
    if tally.contest != PR_CONTEST_ID:
        raise SeatError(f"PR seats need the {PR_CONTEST_ID} tally, not {tally.contest}")
    return allocate_pr(
        tally,
        seats=election.seats_pr,
        ballot_order=[p.id for p in election.parties_in_ballot_order],
        rules=rules,
        participants=participants,
        regional=regional,
        regions=[r.code for r in election.regions],
        regional_not_evaluated=regional_not_evaluated,
    )


def _allocate_with_cap(
    qualifying: list[tuple[str, int, int]], seats: int, cap: int | None
) -> tuple[list[LrRound], dict[str, dict[str, Any]], int]:
    """Largest remainders; parties over the cap are held to it and the others share the
    rest by the same method, until no one is over.  Seats no party may take stay
    unfilled (e.g. one qualifying party under a 50 % cap)."""
    rounds: list[LrRound] = []
    fixed: dict[str, dict[str, Any]] = {}
    active, remaining = qualifying, seats
    while active:
        whole, remainders, by_remainder, quota, ties = _largest_remainders(active, remaining)
        won = {p: whole[p] + (p in by_remainder) for p, _, _ in active}
        over = tuple(p for p, _, _ in active if cap is not None and won[p] > cap)
        rounds.append(
            LrRound(
                seats=remaining,
                votes=sum(v for _, v, _ in active),
                quota=quota,
                parties=tuple(p for p, _, _ in active),
                over_cap=over,
                ties=ties,
            )
        )
        for party, _, _ in active:
            if over and party not in over:
                continue
            fixed[party] = {
                "quota_seats": whole[party],
                "remainder": remainders[party],
                "remainder_seat": party in by_remainder,
                "capped": bool(over),
                "seats": cap if over else won[party],
            }
        if not over:
            return rounds, fixed, 0
        remaining -= cap * len(over)
        active = [t for t in active if t[0] not in over]
    return rounds, fixed, remaining


def _largest_remainders(
    parties: list[tuple[str, int, int]], seats: int
) -> tuple[dict[str, int], dict[str, Fraction], set[str], Fraction, tuple[str, ...]]:
    """Hare quota, whole quotas, then one seat each to the largest remainders.

    Remainders are compared exactly as integers ``votes * seats mod total``; ties go to
    more votes, then to the earlier ballot position.
    """
    total = sum(v for _, v, _ in parties)
    whole: dict[str, int] = {}
    rest: dict[str, int] = {}
    for party, n, _ in parties:
        whole[party], rest[party] = divmod(n * seats, total)
    left = seats - sum(whole.values())
    ranked = sorted(parties, key=lambda t: (-rest[t[0]], -t[1], t[2]))
    winners = {t[0] for t in ranked[:left]}
    ties: tuple[str, ...] = ()
    if 0 < left < len(ranked) and rest[ranked[left - 1][0]] == rest[ranked[left][0]]:
        last, first_out = ranked[left - 1], ranked[left]
        tied = [t[0] for t in ranked if rest[t[0]] == rest[last[0]]]
        by = "more votes" if last[1] != first_out[1] else "the earlier ballot position"
        ties = (
            f"equal remainders for {', '.join(tied)}: the last remainder seat went to "
            f"{last[0]} over {first_out[0]} by {by}",
        )
    remainders = {p: Fraction(r, total) for p, r in rest.items()}
    return whole, remainders, winners, Fraction(total, seats), ties


def _threshold_base(rules: SeatRules, participants: int | None, valid: int, where: str) -> int:
    if participants is not None:
        _check_count(participants, f"{where} participants")
        if participants < valid:
            raise SeatError(
                f"{where}: {participants:,} participants but {valid:,} valid votes; "
                "a voter casts at most one PR ballot"
            )
    if rules.threshold_base is ThresholdBase.VALID_VOTES:
        return valid
    if participants is None:
        raise SeatError(f"{where}: the threshold base is participants, but none were given")
    return participants


def _regional_check(
    rules: SeatRules,
    national: Mapping[str, int],
    order: Sequence[str],
    regional: Mapping[str, RegionResult] | None,
    regions: Collection[str] | None,
    not_evaluated: bool,
) -> tuple[RegionalCheck, tuple[str, ...], dict[str, list[str]]]:
    """Which parties fail the regional threshold, and where; or why it was not checked."""
    threshold = rules.regional_threshold
    if threshold is None:
        return RegionalCheck.OFF, (), {}
    if regional is None:
        if not not_evaluated:
            raise SeatError(
                f"the regional threshold ({_pct(threshold)} in every region) is on but no "
                "regional results were given; pass them, or pass regional=None with "
                "regional_not_evaluated=True to record that it was not evaluated"
            )
        return RegionalCheck.NOT_EVALUATED, (), {}
    if not_evaluated:
        raise SeatError("regional results were given and also declared not evaluated")
    if not regional:
        raise SeatError("the regional threshold needs at least one region")
    if regions is not None and set(regional) != set(regions):
        missing = sorted(set(regions) - set(regional))
        extra = sorted(set(regional) - set(regions))
        raise SeatError(f"regional results: missing regions {missing}, unknown regions {extra}")
    summed: dict[str, int] = {}
    failures: dict[str, list[str]] = {}
    for code in sorted(regional):
        result = regional[code]
        for option, n in result.votes.items():
            _check_count(n, f"regional[{code}].votes[{option}]")
            if option != AGAINST_ALL and option not in order:
                raise SeatError(f"regional[{code}]: votes for {option!r}, not in the ballot order")
            summed[option] = summed.get(option, 0) + n
        base = _threshold_base(
            rules, result.participants, sum(result.votes.values()), f"regional[{code}]"
        )
        if base == 0:
            raise SeatError(f"regional[{code}]: no participants, so no share can be computed")
        for party in order:
            n = result.votes.get(party, 0)
            if Fraction(n, base) < threshold:
                failures.setdefault(party, []).append(
                    f"below the regional threshold in {code}: "
                    + _shortfall(n, threshold, base, rules.threshold_base)
                )
    for option, n in summed.items():
        if n > national.get(option, 0):
            raise SeatError(
                f"regional votes for {option} sum to {n:,}, more than its national "
                f"{national.get(option, 0):,}"
            )
    return RegionalCheck.EVALUATED, tuple(sorted(regional)), failures


def _notes(
    rules: SeatRules, status: RegionalCheck, unfilled: int, any_qualified: bool
) -> tuple[str, ...]:
    notes = []
    if status is RegionalCheck.OFF:
        notes.append("regional threshold: off in these rules")
    elif status is RegionalCheck.NOT_EVALUATED:
        notes.append(
            f"regional threshold ({_pct(rules.regional_threshold)} in every region) NOT "
            "evaluated: no regional results were given; this allocation is provisional"
        )
    if unfilled:
        why = "every qualifying party is at the cap" if any_qualified else "no party qualified"
        notes.append(f"{unfilled} seat(s) unfilled: {why}")
    return tuple(notes)


# Members inside a party ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElectedCandidate:
    """An elected list candidate; ``rank`` is the place in the party's preference order
    (1-based), ``via_quota`` whether she is elected only because of the women quota."""

    candidate: ListCandidate
    preference_votes: int
    rank: int
    via_quota: bool


@dataclass(frozen=True, slots=True)
class PartySeats:
    """Who takes a party's seats, in preference order.

    ``displaced`` are candidates within the top ``seats`` by preference who lose their
    seat to the women quota; ``quota_shortfall`` how many required women the list could
    not supply; ``unfilled`` seats beyond the list's length.
    """

    party: str
    seats: int
    women_required: int
    elected: tuple[ElectedCandidate, ...]
    displaced: tuple[ListCandidate, ...]
    quota_shortfall: int
    unfilled: int

    @property
    def women_elected(self) -> int:
        return sum(e.candidate.sex is Sex.FEMALE for e in self.elected)


def elect_candidates(
    party: Party, seats: int, preferences: Mapping[int, int], rules: SeatRules
) -> PartySeats:
    """Fill a party's ``seats`` from its list by preference votes and the women quota.

    ``preferences`` maps list positions to preference votes.  First at least
    ``ceil(women_min_share * seats)`` seats go to the party's women with the most
    preference votes, then the remaining seats to the remaining candidates with the most;
    equal votes go to the earlier list position.
    """
    _check_count(seats, f"{party.id} seats")
    positions = {c.position for c in party.candidates}
    for position, n in preferences.items():
        if position not in positions:
            raise SeatError(
                f"{party.id}: preference votes for position {position}, not on its list"
            )
        _check_count(n, f"{party.id} preferences[{position}]")
    ranking = sorted(party.candidates, key=lambda c: (-preferences.get(c.position, 0), c.position))
    filled = min(seats, len(ranking))
    share = rules.women_min_share or Fraction(0)
    required = -(-share.numerator * seats // share.denominator)
    women = [c for c in ranking if c.sex is Sex.FEMALE]
    by_quota = women[: min(required, filled)]
    taken = {c.position for c in by_quota}
    rest = [c for c in ranking if c.position not in taken][: filled - len(by_quota)]
    chosen = taken | {c.position for c in rest}
    rank = {c.position: i for i, c in enumerate(ranking, 1)}
    elected = tuple(
        ElectedCandidate(
            c, preferences.get(c.position, 0), rank[c.position], rank[c.position] > filled
        )
        for c in ranking
        if c.position in chosen
    )
    return PartySeats(
        party=party.id,
        seats=seats,
        women_required=required,
        elected=elected,
        displaced=tuple(c for c in ranking[:filled] if c.position not in chosen),
        quota_shortfall=required - len(by_quota),
        unfilled=seats - filled,
    )


def elect_members(
    election: Election, allocation: PrAllocation, tally: ContestTally, rules: SeatRules
) -> dict[str, PartySeats]:
    """Members for every party that won PR seats, in ballot order."""
    return {
        party: elect_candidates(election.party(party), n, tally.preferences.get(party, {}), rules)
        for party, n in allocation.won.items()
    }


# Single-mandate districts ----------------------------------------------------------------


class SmdStatus(enum.StrEnum):
    """``repeat-election``: "against all" has more votes than every candidate, so the
    election has not taken place.  ``tie``: two or more candidates share the most votes
    and the rules do not pick one.  ``no-votes``: no candidate and no "against all"
    received a vote."""

    ELECTED = "elected"
    REPEAT_ELECTION = "repeat-election"
    TIE = "tie"
    NO_VOTES = "no-votes"


@dataclass(frozen=True, slots=True)
class SmdResult:
    """The outcome of one district; ``standings`` are candidates by votes, ballot order
    among equals."""

    contest: str
    status: SmdStatus
    winner: str | None
    standings: tuple[tuple[str, int], ...]
    against_all: int
    tied: tuple[str, ...] = ()


def decide_smd(tally: ContestTally, options: Sequence[str]) -> SmdResult:
    """Plurality with the "against all" and tie flags; ``options`` as
    :meth:`Election.options` gives them (ballot order, "against all" included)."""
    candidates = [o for o in options if o != AGAINST_ALL]
    unknown = set(tally.votes) - set(options)
    if unknown:
        raise SeatError(f"{tally.contest}: votes for options not on the ballot: {sorted(unknown)}")
    against = tally.votes.get(AGAINST_ALL, 0)
    order = {c: i for i, c in enumerate(candidates)}
    standings = tuple(
        sorted(((c, tally.votes.get(c, 0)) for c in candidates), key=lambda s: (-s[1], order[s[0]]))
    )
    top = standings[0][1] if standings else 0
    leaders = tuple(c for c, n in standings if n == top)
    if against > top:
        return SmdResult(tally.contest, SmdStatus.REPEAT_ELECTION, None, standings, against)
    if top == 0:
        return SmdResult(tally.contest, SmdStatus.NO_VOTES, None, standings, against)
    if len(leaders) > 1:
        return SmdResult(tally.contest, SmdStatus.TIE, None, standings, against, leaders)
    return SmdResult(tally.contest, SmdStatus.ELECTED, leaders[0], standings, against)


# Helpers ---------------------------------------------------------------------------------


def _check_count(value: Any, name: str, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SeatError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_order(ballot_order: Sequence[str]) -> tuple[str, ...]:
    order = tuple(ballot_order)
    if len(set(order)) != len(order):
        raise SeatError("the ballot order names a party twice")
    if AGAINST_ALL in order:
        raise SeatError('"against all" is not a party and cannot be in the ballot order')
    return order


def _shortfall(votes: int, threshold: Fraction, base: int, kind: ThresholdBase) -> str:
    """Votes against the exact bar, so that 4.99998 % never reads as "5.00 % < 5 %"."""
    bar = threshold * base
    return (
        f"{votes:,} votes, {_pct(threshold)} of {base:,} {kind.value.replace('_', ' ')} "
        f"is {float(bar):,.2f}"
    )


def _pct(share: Fraction) -> str:
    return f"{float(share) * 100:.2f}%"
