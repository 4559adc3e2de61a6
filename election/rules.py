"""The configurable rule set: how marks become votes, and how votes become seats.

Rules are data, not code paths, so an election definition can name them, an auditor can
print them next to a result, and a test can vary one parameter at a time.  The defaults
are the kg2021 rules (docs/rules.md gives the sources and the reasoning).

Shares (thresholds, the seat cap, the women quota) are held as exact
:class:`~fractions.Fraction` values: a party at exactly 5 % must qualify on every machine,
and ``ceil(0.3 * 10)`` must be 3, not the 4 that binary floating point gives.  A float
given to a constructor or found in a dict is read as its shortest decimal text (``0.05``
is 1/20).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

from election.errors import PcosLabError


class RuleError(PcosLabError):
    """A rule parameter that cannot be used; names the field and the reason."""

    code = "bad_rules"

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class InvalidBallotPolicy(enum.StrEnum):
    """What a scanner does with a blank or overvoted ballot.

    ``accept-invalid`` is the Kyrgyz practice: the ballot goes into the box and is counted
    invalid.  ``return-with-warning`` is the VxScan practice: the ballot comes back with a
    warning, and the voter may correct it or cast it as it is.
    """

    ACCEPT_INVALID = "accept-invalid"
    RETURN_WITH_WARNING = "return-with-warning"


class PreferenceBeyondList(enum.StrEnum):
    """What a single part-2 mark on a number past the chosen party's list means.

    The PR ballot prints the same numbered boxes for every party, so a voter can mark
    number 40 for a party with 30 candidates.  ``void`` (the kg2021 default) voids the
    preference, keeps the party vote and says so in the verdict: one voter's mark must
    not stop a count.  ``error`` raises :class:`~election.validity.BallotError`, for
    callers that want such ballots stopped and inspected.
    """

    ERROR = "error"
    VOID = "void"


class ThresholdBase(enum.StrEnum):
    """What a threshold share is a share of: ballots cast by participants (the Kyrgyz
    law's base, so blank, overvoted and "against all" ballots raise the bar) or valid
    votes (the international norm the OSCE/ODIHR recommends)."""

    PARTICIPANTS = "participants"
    VALID_VOTES = "valid_votes"


class Quota(enum.StrEnum):
    """Seat quota; only Hare (votes / seats) with largest remainders is implemented."""

    HARE = "hare"


def _share(value: Any, name: str, *, allow_none: bool, upper_inclusive: bool) -> Fraction | None:
    """An exact share in [0, 1) or [0, 1]; None only where the rule can be switched off."""
    if value is None:
        if allow_none:
            return None
        raise RuleError(name, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str | Fraction):
        raise RuleError(name, f"must be a number, got {value!r}")
    try:
        share = Fraction(str(value)) if isinstance(value, float | str) else Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise RuleError(name, f"must be a number, got {value!r}") from None
    top_ok = share <= 1 if upper_inclusive else share < 1
    if share < 0 or not top_ok:
        bound = "]" if upper_inclusive else ")"
        raise RuleError(name, f"must lie in [0, 1{bound}, got {value!r}")
    return share


def _enum(value: Any, kind: type[enum.StrEnum], name: str) -> enum.StrEnum:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in kind)
        raise RuleError(name, f"must be one of {choices}, got {value!r}") from None


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise RuleError(name, f"must be true or false, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    """A JSON-ready value: enums as their text, terminating shares as numbers, others
    as exact ``"a/b"`` text so that a dump reloads to the identical rule set."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Fraction):
        as_float = float(value)
        return as_float if Fraction(repr(as_float)) == value else str(value)
    return value


def _from_dict(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise RuleError(prefix, f"must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            raise RuleError(f"{prefix}.{key}", "unknown rule parameter")
    try:
        return cls(**dict(data))
    except RuleError as exc:
        raise RuleError(f"{prefix}.{exc.field}", exc.reason) from None


@dataclass(frozen=True, slots=True)
class ValidityRules:
    """How the marks on one ballot become a verdict.

    Fixed by the ballot design, not parameters: part 1 of the PR ballot and the SMD
    ballot need exactly one mark (none is blank, two or more an overvote); part 2 counts
    only with a vote for a party and exactly one number mark; two or more number marks
    void the preference but not the party vote.

    ``no_preference_means_first``: a party vote without a number counts as a preference
    for the list's first candidate (kg2021) instead of no preference at all.
    ``preference_boxes``: how many numbered boxes part 2 prints; a number outside
    1..preference_boxes cannot come from paper and is always an error.
    """

    no_preference_means_first: bool = True
    invalid_ballot_policy: InvalidBallotPolicy = InvalidBallotPolicy.ACCEPT_INVALID
    preference_beyond_list: PreferenceBeyondList = PreferenceBeyondList.VOID
    preference_boxes: int = 54

    def __post_init__(self) -> None:
        _bool(self.no_preference_means_first, "no_preference_means_first")
        policy = _enum(self.invalid_ballot_policy, InvalidBallotPolicy, "invalid_ballot_policy")
        beyond = _enum(self.preference_beyond_list, PreferenceBeyondList, "preference_beyond_list")
        boxes = self.preference_boxes
        if isinstance(boxes, bool) or not isinstance(boxes, int) or boxes < 1:
            raise RuleError("preference_boxes", f"must be a positive integer, got {boxes!r}")
        object.__setattr__(self, "invalid_ballot_policy", policy)
        object.__setattr__(self, "preference_beyond_list", beyond)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidityRules:
        """Missing keys take the kg2021 default; unknown keys are an error (a typo must
        not silently fall back to a default)."""
        return _from_dict(cls, data, "validity")


@dataclass(frozen=True, slots=True)
class SeatRules:
    """How PR votes become seats, and seats become members.

    ``national_threshold`` and ``regional_threshold`` are shares of ``threshold_base``; a
    party qualifies at or above them (``>=``).  ``regional_threshold`` applies in every
    region of the election (abroad is not a region); None switches it off.
    ``max_seat_share`` caps a party at ``floor(share * seats)`` PR seats (None: no cap).
    ``women_min_share``: inside a party, at least ``ceil(share * its seats)`` go first to
    its women with the most preference votes (None: no quota).
    Ties are broken as docs/rules.md states; that order is not a parameter.
    """

    national_threshold: Fraction = Fraction(1, 20)
    threshold_base: ThresholdBase = ThresholdBase.PARTICIPANTS
    regional_threshold: Fraction | None = Fraction(1, 200)
    quota: Quota = Quota.HARE
    max_seat_share: Fraction | None = Fraction(1, 2)
    women_min_share: Fraction | None = Fraction(3, 10)

    def __post_init__(self) -> None:
        values = {
            "national_threshold": _share(
                self.national_threshold,
                "national_threshold",
                allow_none=False,
                upper_inclusive=False,
            ),
            "threshold_base": _enum(self.threshold_base, ThresholdBase, "threshold_base"),
            "regional_threshold": _share(
                self.regional_threshold,
                "regional_threshold",
                allow_none=True,
                upper_inclusive=False,
            ),
            "quota": _enum(self.quota, Quota, "quota"),
            "max_seat_share": _share(
                self.max_seat_share, "max_seat_share", allow_none=True, upper_inclusive=True
            ),
            "women_min_share": _share(
                self.women_min_share, "women_min_share", allow_none=True, upper_inclusive=True
            ),
        }
        if values["max_seat_share"] == 0:
            raise RuleError("max_seat_share", "a cap of 0 seats leaves every seat unfilled")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeatRules:
        """Missing keys take the kg2021 default; unknown keys are an error."""
        return _from_dict(cls, data, "seats")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Validity and seat rules together, under the name an election definition uses."""

    name: str = "kg2021"
    validity: ValidityRules = field(default_factory=ValidityRules)
    seats: SeatRules = field(default_factory=SeatRules)

    @classmethod
    def kg2021(cls) -> RuleSet:
        """The rules of the Jogorku Kenesh election of 28 November 2021."""
        return cls()

    @classmethod
    def named(cls, name: str) -> RuleSet:
        """The rule set an election definition's ``rules`` field names."""
        if name not in _NAMED:
            raise RuleError("rules", f"unknown rule set {name!r}; known: {', '.join(_NAMED)}")
        return _NAMED[name]()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "validity": self.validity.to_dict(),
            "seats": self.seats.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        if not isinstance(data, Mapping):
            raise RuleError("rules", f"must be an object, got {type(data).__name__}")
        for key in data:
            if key not in {"name", "validity", "seats"}:
                raise RuleError(key, "unknown rule parameter")
        name = data.get("name", "kg2021")
        if not isinstance(name, str) or not name:
            raise RuleError("name", f"must be a non-empty string, got {name!r}")
        return cls(
            name=name,
            validity=ValidityRules.from_dict(data.get("validity", {})),
            seats=SeatRules.from_dict(data.get("seats", {})),
        )


_NAMED = {"kg2021": RuleSet.kg2021}
