"""Counts per contest, the currency every room trades in.

A :class:`ContestTally` is what a scanner's counters hold, what a packet carries, what the
server sums and what a manual protocol states.  Tallies add with ``+`` so a DEC, a
district, a region and the nation are all the same type; adding tallies of different
contests is a programming error and raises.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


def _add_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


@dataclass(frozen=True)
class ContestTally:
    """Ballots of one contest, by verdict.

    ``votes`` maps option ids (party or candidate ids and ``AGAINST_ALL``) to valid
    votes; ``blank`` and ``overvote`` are the invalid ballots; ``preferences`` maps a
    party id to {list position: preference votes} (PR only).  ``ballots`` is always
    ``sum(votes) + blank + overvote``: it is derived, never stored apart.
    """

    contest: str
    votes: Mapping[str, int] = field(default_factory=dict)
    blank: int = 0
    overvote: int = 0
    preferences: Mapping[str, Mapping[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._seal(
            _frozen(self.votes),
            _frozen({party: _frozen(p) for party, p in self.preferences.items()}),
        )

    @classmethod
    def _adopt(
        cls,
        contest: str,
        votes: dict[str, int],
        blank: int,
        overvote: int,
        preferences: dict[str, dict[int, int]],
    ) -> ContestTally:
        """A tally over dicts its caller has just built and will not touch again: checked
        like any other, but wrapped without the defensive copies (the server parses and
        sums thousands of tallies while results arrive)."""
        tally = object.__new__(cls)
        for name, value in (("contest", contest), ("blank", blank), ("overvote", overvote)):
            object.__setattr__(tally, name, value)
        frozen = {party: MappingProxyType(p) for party, p in preferences.items()}
        tally._seal(MappingProxyType(votes), MappingProxyType(frozen))
        return tally

    def _seal(self, votes: Mapping[str, int], preferences: Mapping[str, Mapping[int, int]]) -> None:
        """Check every count, then keep the read-only views."""
        counts = [*votes.values(), self.blank, self.overvote]
        for prefs in preferences.values():
            counts += prefs.values()
        plain = set(map(type, counts)) <= {int}  # checked in C; the server sums thousands
        if not (plain and min(counts) >= 0) and any(
            (not isinstance(n, int)) or n < 0 for n in counts
        ):
            raise ValueError(f"{self.contest}: counts must be non-negative integers")
        object.__setattr__(self, "votes", votes)
        object.__setattr__(self, "preferences", preferences)

    @property
    def valid(self) -> int:
        return sum(self.votes.values())

    @property
    def invalid(self) -> int:
        return self.blank + self.overvote

    @property
    def ballots(self) -> int:
        return self.valid + self.invalid

    def __add__(self, other: ContestTally) -> ContestTally:
        if not isinstance(other, ContestTally):
            return NotImplemented
        if other.contest != self.contest:
            raise ValueError(f"cannot add tallies of {self.contest} and {other.contest}")
        parties = set(self.preferences) | set(other.preferences)
        return ContestTally(
            contest=self.contest,
            votes=_add_counts(self.votes, other.votes),
            blank=self.blank + other.blank,
            overvote=self.overvote + other.overvote,
            preferences={
                party: _add_counts(
                    self.preferences.get(party, {}), other.preferences.get(party, {})
                )
                for party in parties
            },
        )

    def to_json(self) -> dict:
        """A plain, key-sorted dict; list positions become strings as JSON requires."""
        return {
            "contest": self.contest,
            "votes": dict(sorted(self.votes.items())),
            "blank": self.blank,
            "overvote": self.overvote,
            "preferences": {
                party: {str(pos): n for pos, n in sorted(prefs.items())}
                for party, prefs in sorted(self.preferences.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping) -> ContestTally:
        """Read :meth:`to_json` data; the counts are checked like any others."""
        return cls._adopt(
            data["contest"],
            dict(data.get("votes", {})),
            data.get("blank", 0),
            data.get("overvote", 0),
            _preferences(data.get("preferences", {})),
        )


_POSITIONS = {str(n): n for n in range(1000)}
"""List positions as :meth:`ContestTally.to_json` writes them, and their numbers."""


def _preferences(data: Mapping) -> dict[str, dict[int, int]]:
    """``{party: {int(pos): n for pos, n in prefs.items()} for party, prefs in data.items()}``:
    preference votes read from JSON, where list positions are strings.

    The positions are looked up in :data:`_POSITIONS` rather than converted: ``int()``
    of a string is most of the work of reading a PR tally, and the server reads one from
    every packet.  If anything is amiss (a position written otherwise or not a string,
    a party's votes not a map), the conversion decides, with its errors, as before.
    """
    position = _POSITIONS.__getitem__
    try:
        return {
            party: {position(pos): n for pos, n in prefs.items()} for party, prefs in data.items()
        }
    except (KeyError, TypeError, AttributeError, ValueError):
        return {party: {int(pos): n for pos, n in prefs.items()} for party, prefs in data.items()}


def total(
    tallies: Iterable[ContestTally], contest: str, *, preferences: bool = True
) -> ContestTally:
    """Sum of tallies of one contest; an empty iterable gives a zero tally.

    Accumulates into plain dicts and builds one tally at the end: summing a country's
    DECs pairwise would build thousands of intermediate frozen tallies.  The sum of a
    single tally is that tally (it is immutable), which is what most DECs' contests are.
    With ``preferences=False`` the sum has no preference votes (its other counts are
    the same): summing a PR contest's hundreds of list positions is most of the work,
    wasted for a caller that shows or uses only the votes.
    """
    items = list(tallies)
    for tally in items:
        if tally.contest != contest:
            raise ValueError(f"cannot add a tally of {tally.contest} to {contest}")
    if len(items) == 1 and (preferences or not items[0].preferences):
        return items[0]
    votes: dict[str, int] = {}
    by_party: dict[str, dict[int, int]] = {}
    blank = overvote = 0
    for tally in items:
        for option, n in tally.votes.items():
            votes[option] = votes.get(option, 0) + n
        for party, prefs in tally.preferences.items() if preferences else ():
            into = by_party.get(party)
            if into is None:
                by_party[party] = dict(prefs)
                continue
            for position, n in prefs.items():
                into[position] = into.get(position, 0) + n
        blank += tally.blank
        overvote += tally.overvote
    return ContestTally._adopt(contest, votes, blank, overvote, by_party)


class RunningTotal:
    """The sum of a changing set of tallies of one contest, each held under a key of the
    caller's (a DEC's number): :meth:`tally` equals :func:`total` of the tallies held.

    The publisher keeps the national PR total this way.  Re-adding every published
    DEC's hundreds of preference counts at each refresh cost about 0.1 s of CPU per
    refresh on national data, all night long; now each DEC's tally is added once, and
    taken out again in the rare case its DEC leaves the published set or is corrected.
    Taking one out also drops the counts that no tally still held carries (a party or
    a list position only that tally had), as :func:`total` of the rest would not have
    them: that asks the held tallies, which is slow but rare.
    """

    def __init__(self, contest: str) -> None:
        self.contest = contest
        self._held: dict[Hashable, ContestTally] = {}
        self._votes: dict[str, int] = {}
        self._preferences: dict[str, dict[int, int]] = {}
        self._blank = self._overvote = 0

    def keys_held(self) -> list[Hashable]:
        """The keys of the tallies held."""
        return list(self._held)

    def put(self, key: Hashable, tally: ContestTally) -> None:
        """Hold ``tally`` under ``key``, in place of the tally held there if another
        one (the very same object: nothing to do)."""
        held = self._held.get(key)
        if held is tally:
            return
        if tally.contest != self.contest:
            raise ValueError(f"cannot add a tally of {tally.contest} to {self.contest}")
        if held is not None:
            self.discard(key)
        self._held[key] = tally
        _add_into(self._votes, tally.votes, 1)
        for party, counts in tally.preferences.items():
            _add_into(self._preferences.setdefault(party, {}), counts, 1)
        self._blank += tally.blank
        self._overvote += tally.overvote

    def discard(self, key: Hashable) -> None:
        """Take out the tally held under ``key``."""
        tally = self._held.pop(key, None)
        if tally is None:
            raise ValueError(f"no tally is held under {key!r}")
        _add_into(self._votes, tally.votes, -1)
        self._drop_unheld(self._votes, tally.votes, lambda t: t.votes)
        for party, counts in tally.preferences.items():
            sums = self._preferences[party]
            _add_into(sums, counts, -1)
            self._drop_unheld(sums, counts, lambda t, p=party: t.preferences.get(p, {}))
            if not any(party in t.preferences for t in self._held.values()):
                del self._preferences[party]
        self._blank -= tally.blank
        self._overvote -= tally.overvote

    def tally(self) -> ContestTally:
        """The current sum, as a tally of its own (later changes do not reach it)."""
        preferences = {party: dict(counts) for party, counts in self._preferences.items()}
        return ContestTally._adopt(
            self.contest, dict(self._votes), self._blank, self._overvote, preferences
        )

    def _drop_unheld(
        self, sums: dict, removed: Mapping, counts_of: Callable[[ContestTally], Mapping]
    ) -> None:
        """Drop the keys of ``removed`` now at zero that no held tally carries."""
        for key in [k for k in removed if sums[k] == 0]:
            if not any(key in counts_of(t) for t in self._held.values()):
                del sums[key]


def _add_into(sums: dict, counts: Mapping, sign: int) -> None:
    get = sums.get
    for key, n in counts.items():
        sums[key] = get(key, 0) + sign * n
