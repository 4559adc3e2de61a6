"""Counting: the fast path agrees with the verdicts, and counts add up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.ballots import MarkedBallot
from election.counting import count, tally
from election.model import AGAINST_ALL, BallotKind, BallotStyle
from election.rules import RuleSet, ValidityRules
from election.tally import ContestTally, total
from election.validity import BallotError, ContestSpec, ContestVerdict, VerdictKind, judge
from tests.election.world import PR_KY, PR_RU, SMD1, SMD2, tiny_election

ELECTION = tiny_election()
KG = RuleSet.kg2021()
LENIENT = RuleSet(validity=ValidityRules(preference_beyond_list="void"))
STRICT = RuleSet(validity=ValidityRules(preference_beyond_list="error"))
ROUTES = [(1, PR_KY), (1, PR_RU), (1, SMD1), (2, PR_RU), (2, SMD2), (9001, PR_KY)]


@st.composite
def ballots(draw):
    dec, style = draw(st.sampled_from(ROUTES))
    options = ELECTION.options(style.contest_id)
    marked = draw(st.frozensets(st.sampled_from(options), max_size=3))
    prefs = frozenset()
    if style.kind is BallotKind.PR:
        prefs = draw(st.frozensets(st.integers(1, 5), max_size=2))
    return MarkedBallot(style, dec, marked, prefs)


batches = st.lists(ballots(), max_size=40)


def _sum(a: dict[str, ContestTally], b: dict[str, ContestTally]) -> dict[str, ContestTally]:
    return {cid: a[cid] + b[cid] for cid in a}


@given(batches)
def test_count_agrees_with_the_verdicts(batch):
    specs = {cid: ContestSpec.of(ELECTION, cid) for cid in ELECTION.contest_ids}
    verdicts = [judge(b, specs[b.style.contest_id], LENIENT.validity) for b in batch]
    assert count(batch, ELECTION, LENIENT) == tally(verdicts, ELECTION)


@given(batches, batches)
def test_count_of_a_concatenation_is_the_sum_of_counts(a, b):
    assert count(a + b, ELECTION, LENIENT) == _sum(
        count(a, ELECTION, LENIENT), count(b, ELECTION, LENIENT)
    )


@given(batches, batches, batches)
def test_tallies_add_associatively_and_commutatively(a, b, c):
    x, y, z = (count(batch, ELECTION, LENIENT) for batch in (a, b, c))
    assert _sum(_sum(x, y), z) == _sum(x, _sum(y, z))
    assert _sum(x, y) == _sum(y, x)
    assert {cid: total([x[cid], y[cid], z[cid]], cid) for cid in x} == _sum(_sum(x, y), z)


@given(batches)
def test_every_ballot_is_counted_once_and_every_option_shown(batch):
    result = count(batch, ELECTION, LENIENT)
    assert list(result) == list(ELECTION.contest_ids)
    for cid, contest_tally in result.items():
        assert contest_tally.ballots == sum(b.style.contest_id == cid for b in batch)
        assert list(contest_tally.votes) == list(ELECTION.options(cid))
    pr = result["PR"]
    credited = sum(n for prefs in pr.preferences.values() for n in prefs.values())
    assert credited <= pr.valid - pr.votes[AGAINST_ALL]
    assert AGAINST_ALL not in pr.preferences


def test_known_count():
    b = [
        MarkedBallot(PR_KY, 1, frozenset({"P01"})),
        MarkedBallot(PR_RU, 2, frozenset({"P01"}), frozenset({3})),
        MarkedBallot(PR_KY, 9001, frozenset({"P03"}), frozenset({1, 2})),
        MarkedBallot(PR_KY, 1, frozenset({AGAINST_ALL})),
        MarkedBallot(PR_KY, 1),
        MarkedBallot(PR_KY, 1, frozenset({"P01", "P02"})),
        MarkedBallot(SMD1, 1, frozenset({"D01-C02"})),
    ]
    result = count(b, ELECTION, KG)
    assert result["PR"] == ContestTally(
        "PR",
        votes={"P01": 2, "P02": 0, "P03": 1, AGAINST_ALL: 1},
        blank=1,
        overvote=1,
        preferences={"P01": {1: 1, 3: 1}},
    )
    assert result["SMD-01"].votes["D01-C02"] == 1
    assert result["SMD-02"] == ContestTally(
        "SMD-02", votes=dict.fromkeys(ELECTION.options("SMD-02"), 0)
    )


@pytest.mark.parametrize(
    ("ballot", "message"),
    [
        (MarkedBallot(PR_KY, 7), "DEC 7, which election test does not have"),
        (MarkedBallot(SMD1, 9001), "DEC 9001 does not issue"),
        (MarkedBallot(SMD2, 1), "DEC 1 does not issue"),
        (MarkedBallot(BallotStyle(BallotKind.PR, "en"), 1), "DEC 1 does not issue"),
        (MarkedBallot(PR_KY, 1, frozenset({"P02"}), frozenset({4})), "whose list has 2"),
        (MarkedBallot(SMD1, 1, frozenset({"D02-C01"})), "D02-C01"),
    ],
)
def test_uncountable_ballots_raise(ballot, message):
    with pytest.raises(BallotError, match=message):
        count([MarkedBallot(PR_KY, 1), ballot], ELECTION, STRICT)


def test_tally_refuses_foreign_verdicts():
    with pytest.raises(BallotError, match="contest SMD-09"):
        tally([ContestVerdict("SMD-09", VerdictKind.BLANK)], ELECTION)
    with pytest.raises(BallotError, match="unknown option P09"):
        tally([ContestVerdict("PR", VerdictKind.VOTE, "P09")], ELECTION)
