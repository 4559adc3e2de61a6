"""Validity rules: the table of cases, every ballot one verdict, and no mark dropped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.ballots import MarkedBallot
from election.model import AGAINST_ALL
from election.rules import ValidityRules
from election.validity import (
    BallotError,
    ContestSpec,
    Handling,
    Preference,
    VerdictKind,
    handling,
    judge,
)
from tests.election.world import PR_KY, SMD1, tiny_election

ELECTION = tiny_election()
PR = ContestSpec.of(ELECTION, "PR")
SMD = ContestSpec.of(ELECTION, "SMD-01")
KG = ValidityRules()
VOID_BEYOND = ValidityRules(preference_beyond_list="void")
STRICT_BEYOND = ValidityRules(preference_beyond_list="error")
NO_FIRST = ValidityRules(no_preference_means_first=False)

V, B, OV = VerdictKind.VOTE, VerdictKind.BLANK, VerdictKind.OVERVOTE
PREF, NONE, VOID, NA = (
    Preference.PREFERENCE,
    Preference.NONE,
    Preference.VOID,
    Preference.NOT_APPLICABLE,
)


def pr(options=(), prefs=()):
    return MarkedBallot(PR_KY, 1, frozenset(options), frozenset(prefs))


def smd(options=(), prefs=()):
    return MarkedBallot(SMD1, 1, frozenset(options), frozenset(prefs))


# P01 has 3 candidates, P02 has 2, P03 has 4 (tests/election/world.py).
TABLE = [
    # ballot, spec, rules, kind, option, preference, credited position
    (pr(), PR, KG, B, None, NA, None),
    (pr((), {1}), PR, KG, B, None, NA, None),
    (pr(["P01"]), PR, KG, V, "P01", NONE, 1),
    (pr(["P01"]), PR, NO_FIRST, V, "P01", NONE, None),
    (pr(["P01"], {2}), PR, KG, V, "P01", PREF, 2),
    (pr(["P01"], {3}), PR, KG, V, "P01", PREF, 3),
    (pr(["P01"], {1, 3}), PR, KG, V, "P01", VOID, None),
    (pr(["P02"], {2, 3}), PR, KG, V, "P02", VOID, None),
    (pr(["P02"], {3}), PR, VOID_BEYOND, V, "P02", VOID, None),
    (pr(["P01", "P02"]), PR, KG, OV, None, NA, None),
    (pr(["P01", AGAINST_ALL], {1}), PR, KG, OV, None, NA, None),
    (pr([AGAINST_ALL]), PR, KG, V, AGAINST_ALL, NA, None),
    (pr([AGAINST_ALL], {5}), PR, KG, V, AGAINST_ALL, NA, None),
    (smd(["D01-C02"]), SMD, KG, V, "D01-C02", NA, None),
    (smd([AGAINST_ALL]), SMD, KG, V, AGAINST_ALL, NA, None),
    (smd(), SMD, KG, B, None, NA, None),
    (smd(["D01-C01", "D01-C02"]), SMD, KG, OV, None, NA, None),
]


@pytest.mark.parametrize(("ballot", "spec", "rules", "kind", "option", "pref", "credited"), TABLE)
def test_validity_table(ballot, spec, rules, kind, option, pref, credited):
    verdict = judge(ballot, spec, rules)
    assert (verdict.kind, verdict.option, verdict.preference) == (kind, option, pref)
    assert verdict.credited_position == credited
    assert verdict.preference_marks == tuple(sorted(ballot.preferences))
    assert verdict.valid is (kind is V)


@pytest.mark.parametrize(
    ("ballot", "spec", "rules", "message"),
    [
        (pr(["P09"]), PR, KG, r"options the contest does not have: \['P09'\]"),
        (pr(["P01", "P09"]), PR, KG, "P09"),
        (pr(["D01-C01"]), PR, KG, "D01-C01"),
        (smd(["D02-C01"]), SMD, KG, "D02-C01"),
        (
            pr(["P02"], {3}),
            PR,
            STRICT_BEYOND,
            "number 3 marked for P02, whose list has 2 candidates",
        ),
        (pr(["P01"], {55}), PR, KG, r"prints numbers 1..54"),
        (pr(["P01"], {55}), PR, VOID_BEYOND, r"prints numbers 1..54"),
        (pr(["P01"], {0}), PR, KG, r"prints numbers 1..54"),
        (pr([], {0}), PR, KG, r"prints numbers 1..54"),
        (smd(["D01-C01"], {1}), SMD, KG, "SMD ballot has no numbered part"),
        (smd(["D01-C01"]), PR, KG, "contest SMD-01 cannot be judged as PR"),
    ],
)
def test_unplaceable_marks_raise(ballot, spec, rules, message):
    with pytest.raises(BallotError, match=message):
        judge(ballot, spec, rules)


def test_a_contest_the_election_lacks_is_an_error():
    with pytest.raises(BallotError, match="election test has no contest SMD-09"):
        ContestSpec.of(ELECTION, "SMD-09")


def test_handling_policies():
    warn = ValidityRules(invalid_ballot_policy="return-with-warning")
    cases = {
        pr(): Handling.RETURN_WITH_WARNING,
        pr(["P01", "P02"]): Handling.RETURN_WITH_WARNING,
        pr(["P01"], {1, 2}): Handling.RETURN_WITH_WARNING,
        pr(["P01"]): Handling.ACCEPT,
        pr(["P01"], {2}): Handling.ACCEPT,
        pr([AGAINST_ALL]): Handling.ACCEPT,
    }
    for ballot, expected in cases.items():
        verdict = judge(ballot, PR, KG)
        assert handling(verdict, KG) is Handling.ACCEPT
        assert handling(verdict, warn) is expected


OPTION_POOL = [*PR.options, "P09"]


@given(
    options=st.frozensets(st.sampled_from(OPTION_POOL), max_size=4),
    prefs=st.frozensets(st.integers(-1, 56), max_size=3),
    rules=st.sampled_from([KG, VOID_BEYOND, NO_FIRST]),
)
def test_every_pr_ballot_gets_exactly_one_verdict_or_a_named_error(options, prefs, rules):
    """The verdict is a function of the marks: an error exactly when a mark cannot be
    placed, else one kind fixed by the number of part-1 marks."""
    ballot = pr(options, prefs)
    single_party = len(options) == 1 and next(iter(options)) in PR.list_lengths
    beyond = (
        single_party
        and len(prefs) == 1
        and next(iter(prefs)) > PR.list_lengths[next(iter(options))]
        and rules.preference_beyond_list == "error"
    )
    unplaceable = "P09" in options or any(not 1 <= n <= 54 for n in prefs) or beyond
    if unplaceable:
        with pytest.raises(BallotError):
            judge(ballot, PR, rules)
        return
    verdict = judge(ballot, PR, rules)
    expected_kind = {0: B, 1: V}.get(len(options), OV)
    assert verdict.kind is expected_kind
    assert (verdict.option is not None) is (expected_kind is V)
    if not single_party:
        assert verdict.preference is NA
        assert verdict.credited_position is None
    elif verdict.credited_position is not None:
        assert 1 <= verdict.credited_position <= PR.list_lengths[verdict.option]
        assert verdict.preference in (PREF, NONE)
