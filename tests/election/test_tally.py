"""ContestTally read from JSON and summed: the fast paths agree with the plain rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from election.tally import ContestTally, total

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
