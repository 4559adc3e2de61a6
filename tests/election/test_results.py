"""election.results: the one computation the server, the auditor and the demo share."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.results import compute
from election.rules import RuleSet
from election.seats import RegionalCheck, SmdStatus
from election.tally import total
from fixtures import scenario, votes

RULES = RuleSet.kg2021()


@pytest.fixture(scope="module")
def oblast():
    election = scenario.build("kg2021", "oblast", seed=1)
    return election, votes.generate(election, seed=1)


def test_full_count_evaluates_every_rule(oblast):
    election, truth = oblast
    results = compute(election, truth.decs.values(), RULES)
    assert results.decs_counted == len(election.decs)
    assert results.participants == truth.participants
    assert results.pr == truth.total("PR")
    assert results.allocation.regional is RegionalCheck.EVALUATED
    assert sum(results.allocation.won.values()) == election.seats_pr
    assert set(results.smd) == {d.contest_id for d in election.districts}
    for contest, outcome in results.smd.items():
        assert outcome.status in set(SmdStatus)
        assert (
            sum(n for _, n in outcome.standings) + outcome.against_all == truth.total(contest).valid
        )


def test_abroad_only_is_provisional_not_an_error():
    """With no home DEC reported, no region can be judged: say so, don't fail."""
    election = scenario.build("kg2021", "tiny", seed=2)
    truth = votes.generate(election, seed=2)
    abroad = [r for r in truth.decs.values() if election.dec(r.dec).abroad]
    assert abroad, "the tiny scale has an abroad DEC"
    results = compute(election, abroad, RULES)
    assert results.allocation.regional is RegionalCheck.NOT_EVALUATED
    assert any("not evaluated" in note.lower() for note in results.allocation.notes)
    assert results.allocation.won, "abroad votes alone still allocate, provisionally"


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_results_depend_only_on_the_set_of_decs(oblast, data):
    """Order of arrival never changes a figure, and a subset sums its own tallies."""
    election, truth = oblast
    records = list(truth.decs.values())
    subset = data.draw(st.lists(st.sampled_from(records), min_size=1, unique_by=lambda r: r.dec))
    shuffled = data.draw(st.permutations(subset))
    a, b = compute(election, subset, RULES), compute(election, shuffled, RULES)
    assert a.pr == b.pr == total((r.tallies["PR"] for r in subset), "PR")
    assert a.allocation == b.allocation
    assert a.smd == b.smd
