"""ContestTally read from JSON and summed: the fast paths agree with the plain rules,
and a running total always equals the sum of the tallies it holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.tally import ContestTally, RunningTotal, total

# List positions as JSON may carry them: mostly as to_json writes them, sometimes not.
positions = st.one_of(
    st.integers(0, 1200).map(str),
    st.sampled_from(["01", " 3", "+2", "-1", "1_0", "x", "", "\u0663", "7.0"]),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
)
counts = st.one_of(st.integers(0, 500), st.integers(-3, -1), st.just(1.5), st.just("2"))
party_prefs = st.one_of(
    st.dictionaries(positions, counts, max_size=8),
    st.lists(st.integers(0, 5), max_size=3),
    st.just("P01"),
)
json_tallies = st.fixed_dictionaries(
    {
        "contest": st.just("PR"),
        "votes": st.dictionaries(st.sampled_from(["P01", "P02", "AGAINST_ALL"]), counts),
        "preferences": st.dictionaries(st.sampled_from(["P01", "P02"]), party_prefs, max_size=2),
    }
)


def _reference(data: dict) -> ContestTally:
    """from_json as the plain rule states it."""
    return ContestTally(
        data["contest"],
        dict(data["votes"]),
        preferences={
            party: {int(pos): n for pos, n in prefs.items()}
            for party, prefs in data["preferences"].items()
        },
    )


def _outcome(read, data: dict) -> tuple:
    try:
        tally = read(data)
    except Exception as exc:  # the same refusal, word for word
        return ("error", type(exc), str(exc))
    return ("tally", tally, [list(p) for p in tally.preferences.values()])


@given(json_tallies)
def test_from_json_reads_positions_as_int_does(data):
    assert _outcome(ContestTally.from_json, data) == _outcome(_reference, data)


@given(st.lists(json_tallies, min_size=1, max_size=4))
def test_total_is_the_pairwise_sum_and_without_preferences_only_drops_them(items):
    tallies = []
    for data in items:
        try:
            tallies.append(ContestTally.from_json(data))
        except (ValueError, TypeError, AttributeError):
            continue
    if not tallies:
        return
    pairwise = tallies[0]
    for tally in tallies[1:]:
        pairwise = pairwise + tally
    assert total(tallies, "PR") == pairwise
    bare = total(tallies, "PR", preferences=False)
    assert bare == ContestTally("PR", pairwise.votes, pairwise.blank, pairwise.overvote)


# Valid tallies with sparse counts (explicit zeros included), some parties without
# preferences and some with an empty map: every way a key can appear in one tally only.
valid_tallies = st.builds(
    ContestTally,
    st.just("PR"),
    st.dictionaries(st.sampled_from(["P01", "P02", "P03", "AGAINST_ALL"]), st.integers(0, 9)),
    st.integers(0, 5),
    st.integers(0, 5),
    st.dictionaries(
        st.sampled_from(["P01", "P02", "P03"]),
        st.dictionaries(st.integers(1, 6), st.integers(0, 9), max_size=4),
        max_size=3,
    ),
)


@given(st.lists(st.tuples(st.integers(0, 3), valid_tallies), max_size=8), st.data())
def test_a_running_total_equals_the_total_of_what_it_holds(puts, data):
    """Tallies come and go in any order (a DEC published, corrected, quarantined); after
    every step the running total is exactly :func:`total` of those held, key for key."""
    running, held = RunningTotal("PR"), {}
    for key, tally in puts:
        running.put(key, tally)  # in place of the tally held there, if any
        held[key] = tally
        if data.draw(st.booleans(), label="take one out"):
            out = data.draw(st.sampled_from(sorted(held)), label="which")
            running.discard(out)
            del held[out]
        assert sorted(running.keys_held()) == sorted(held)
        assert running.tally() == total(held.values(), "PR")  # explicit zeros and all
    for key in list(held):
        running.discard(key)
    assert running.tally() == ContestTally("PR")


def test_a_running_total_refuses_what_it_does_not_hold():
    running, held = RunningTotal("PR"), ContestTally("PR", {"P01": 1})
    running.put(2001, held)
    running.put(2001, held)  # the very tally held there: not added twice
    assert running.tally() == held
    with pytest.raises(ValueError, match="no tally is held under 2002"):
        running.discard(2002)
    with pytest.raises(ValueError, match="cannot add a tally of SMD-1"):
        running.put(2002, ContestTally("SMD-1"))
    assert running.tally() == held
