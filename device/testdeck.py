"""Logic and accuracy test deck: known ballots in, known results out.

VxScan's deck has ballot k vote for option k mod n, so every option gets the same
count -- and a unit that reads every target one row off passes it.  Here option i (in
ballot order, "against all" last) gets i + 1 votes, spread over the ballot languages,
so any mix-up of targets changes the counts.  On the PR ballot the first vote for a
party leaves part 2 unmarked and the others mark number ((i + j) mod list length) + 1.
Each language also gets one overvoted ballot (the first two options), two blank ballots
and, on the PR ballot, one party vote with two numbers (a void preference).  The
expected tally comes from this construction, not from the counting code under test.
The deck passes only when the unit's final report equals it exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from device.hardware import Sheet, image_sheets
from device.machine import Pcos
from device.session import run
from election.ballots import MarkedBallot
from election.model import AGAINST_ALL, PR_CONTEST_ID, Election
from election.rules import RuleSet
from election.tally import ContestTally


@dataclass(frozen=True)
class Deck:
    sheets: tuple[Sheet, ...]
    expected: dict[str, ContestTally]


@dataclass(frozen=True)
class Result:
    passed: bool
    differences: tuple[str, ...]
    ballots: int
    report: dict

    def describe(self) -> str:
        head = f"test deck {'PASSED' if self.passed else 'FAILED'}: {self.ballots} ballots"
        return "\n".join([head, *(f"  {d}" for d in self.differences)]) + "\n"


def generate(
    election: Election, dec: int, contests: Iterable[str], rules: RuleSet, *, images: bool = False
) -> Deck:
    ballots: list[MarkedBallot] = []
    expected: dict[str, ContestTally] = {}
    first_is_one = rules.validity.no_preference_means_first
    for contest in contests:
        options = election.options(contest)
        styles = [s for s in election.styles_for(dec) if s.contest_id == contest]
        pr = contest == PR_CONTEST_ID
        votes = dict.fromkeys(options, 0)
        prefs: dict[str, dict[int, int]] = {}
        for i, option in enumerate(options):
            length = len(election.party(option).candidates) if pr and option != AGAINST_ALL else 0
            for j in range(i + 1):
                number = (i + j) % length + 1 if j and length else None
                marks = frozenset() if number is None else frozenset({number})
                ballots.append(
                    MarkedBallot(styles[j % len(styles)], dec, frozenset({option}), marks)
                )
                votes[option] += 1
                credited = number or (1 if length and first_is_one else None)
                if credited:
                    positions = prefs.setdefault(option, {})
                    positions[credited] = positions.get(credited, 0) + 1
        for style in styles:
            ballots.append(MarkedBallot(style, dec, frozenset(options[:2])))
            ballots += [MarkedBallot(style, dec)] * 2
            if pr:
                ballots.append(MarkedBallot(style, dec, frozenset(options[:1]), frozenset({1, 2})))
                votes[options[0]] += 1
        n = len(styles)
        expected[contest] = ContestTally(contest, votes, 2 * n, n, prefs)
    if images:
        sheets = tuple(image_sheets(election, ballots, 0, "ideal"))
    else:
        sheets = tuple(Sheet(f"deck-{i:04d}", intent=b) for i, b in enumerate(ballots, start=1))
    return Deck(sheets, expected)


def check(deck: Deck, unit: Pcos) -> Result:
    """Run the deck through a fresh unit and compare its final report with the deck."""
    session = run(unit, deck.sheets)
    got = {c: ContestTally.from_json(v) for c, v in session.final.body["counts"].items()}
    differences = tuple(compare(deck.expected, got))
    return Result(not differences, differences, len(deck.sheets), session.final.to_json())


def compare(expected: dict[str, ContestTally], got: dict[str, ContestTally]) -> list[str]:
    out = []
    for contest, want in expected.items():
        have = got.get(contest, ContestTally(contest))
        for option, n in want.votes.items():
            if n != have.votes.get(option, 0):
                out.append(f"{contest} {option}: expected {n}, got {have.votes.get(option, 0)}")
        for name in ("blank", "overvote"):
            if getattr(want, name) != getattr(have, name):
                out.append(
                    f"{contest} {name}: expected {getattr(want, name)}, got {getattr(have, name)}"
                )
        if want.to_json()["preferences"] != have.to_json()["preferences"]:
            out.append(f"{contest} preference votes differ")
    return out
