"""Seat allocation: the 2021 calibration, the rules as properties, and the paradoxes."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from election.model import AGAINST_ALL, ListCandidate, Party, Sex
from election.rules import SeatRules
from election.seats import (
    RegionalCheck,
    RegionResult,
    SeatError,
    SmdStatus,
    allocate_pr,
    allocate_pr_for,
    decide_smd,
    elect_candidates,
    elect_members,
)
from election.tally import ContestTally
from tests.election.world import tiny_election

KG = SeatRules()
NO_REGIONS = SeatRules(regional_threshold=None)
PLAIN = SeatRules(regional_threshold=None, max_seat_share=None)  # bare Hare-LR

# Calibration: the CEC's final 2021 figures ---------------------------------------------

PARTICIPANTS_2021 = 1_281_622
PUBLISHED_2021 = {
    "Ata-Jurt Kyrgyzstan": (222_005, 15),
    "Ishenim": (174_470, 12),
    "Yntymak": (141_009, 9),
    "Alliance": (106_955, 7),
    "Butun Kyrgyzstan": (90_223, 6),
    "Yiman Nuru": (79_025, 5),
}
# The other 15 parties and "against all": the final figures are not in the seed, so their
# votes are the preliminary PCOS shares (DESIGN.md) times the participants.  They only
# have to stay under 5 %; the Hare quota is over the qualifying parties' votes alone.
PRELIMINARY_SHARES_2021 = {
    "El Umutu": 4.46,
    "Azattyk": 4.01,
    "Ata-Meken": 3.48,
    "Social Democrats": 3.21,
    "Uluttar Birimdigi": 2.48,
    "Mekenchil El": 1.54,
    "Patriotic Unity": 0.96,
    "Bagyt": 0.95,
    "Uluu-Jurt": 0.71,
    "Legalize": 0.62,
    "Kuchtuu Region": 0.62,
    "Aruuzat": 0.46,
    "Ordo": 0.46,
    "Jashasyn": 0.44,
    "Greens": 0.41,
    AGAINST_ALL: 2.17,
}
# The seed's registration order (ballot order is not stated; it matters only for ties).
ORDER_2021 = [
    "Butun Kyrgyzstan", "Ata-Meken", "Ishenim", "Yntymak", "Uluttar Birimdigi",
    "Ata-Jurt Kyrgyzstan", "Yiman Nuru", "Alliance", "El Umutu", "Azattyk", "Uluu-Jurt",
    "Mekenchil El", "Patriotic Unity", "Social Democrats", "Aruuzat", "Ordo", "Bagyt",
    "Greens", "Legalize", "Kuchtuu Region", "Jashasyn",
]  # fmt: skip


def votes_2021() -> dict[str, int]:
    votes = {party: n for party, (n, _) in PUBLISHED_2021.items()}
    for party, pct in PRELIMINARY_SHARES_2021.items():
        votes[party] = round(pct / 100 * PARTICIPANTS_2021)
    return votes


def allocate_2021(**kwargs):
    options = {"rules": KG, "regional_not_evaluated": True, **kwargs}
    return allocate_pr(
        votes_2021(),
        seats=54,
        ballot_order=ORDER_2021,
        participants=PARTICIPANTS_2021,
        **options,
    )


def test_calibration_2021_final_result():
    result = allocate_2021()
    assert result.won == {party: seats for party, (_, seats) in PUBLISHED_2021.items()}
    assert sorted(result.won.values(), reverse=True) == [15, 12, 9, 7, 6, 5]
    assert result.quota == Fraction(813_687, 54)
    assert result.unfilled == 0
    assert len(result.rounds) == 1 and not result.rounds[0].ties
    rows = {p.party: p for p in result.parties}
    # Whole quotas 14/11/9/7/5/5 = 51; the three remainder seats go to .988, .733, .579.
    assert [rows[p].quota_seats for p in PUBLISHED_2021] == [14, 11, 9, 7, 5, 5]
    assert {p for p, r in rows.items() if r.remainder_seat} == {
        "Butun Kyrgyzstan",
        "Ata-Jurt Kyrgyzstan",
        "Ishenim",
    }
    assert rows["Yiman Nuru"].share == Fraction(79_025, PARTICIPANTS_2021)
    assert not rows["El Umutu"].qualified
    assert "below the national threshold: 57,160 votes" in rows["El Umutu"].reasons[0]
    assert result.regional is RegionalCheck.NOT_EVALUATED
    assert any("NOT evaluated" in note for note in result.notes)


def test_calibration_2021_with_regional_results():
    """Nine regions in which every party has about its national share: same result;
    then Yiman Nuru below 0.5 % in Naryn loses its 5 seats to the other five."""
    votes = votes_2021()
    codes = ["BA", "OS", "OO", "DA", "TA", "CH", "BI", "NA", "IK"]
    regional = {
        code: RegionResult({p: n // 10 for p, n in votes.items()}, PARTICIPANTS_2021 // 10)
        for code in codes
    }
    result = allocate_2021(regional=regional, regions=codes, regional_not_evaluated=False)
    assert result.regional is RegionalCheck.EVALUATED
    assert result.regions == tuple(sorted(codes))
    assert sorted(result.won.values(), reverse=True) == [15, 12, 9, 7, 6, 5]
    naryn = dict(regional["NA"].votes) | {"Yiman Nuru": 640}
    regional["NA"] = RegionResult(naryn, PARTICIPANTS_2021 // 10)
    result = allocate_2021(regional=regional, regions=codes, regional_not_evaluated=False)
    assert result.seats_of("Yiman Nuru") == 0
    assert result.parties[ORDER_2021.index("Yiman Nuru")].reasons == (
        "below the regional threshold in NA: 640 votes, 0.50% of 128,162 participants is 640.81",
    )
    assert sum(result.won.values()) == 54 and len(result.won) == 5


def test_explanation_is_printable_and_json_ready():
    result = allocate_2021()
    text = result.explain()
    assert "quota 15,068.28" in text and "Ata-Jurt Kyrgyzstan" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["parties"][ORDER_2021.index("Yntymak")]["seats"] == 9
    assert data["regional"] == "not-evaluated"


# Regional threshold: never skipped silently ---------------------------------------------


def test_missing_regional_results_is_an_error():
    with pytest.raises(SeatError, match=r"regional threshold \(0.50% in every region\) is on"):
        allocate_2021(regional_not_evaluated=False)


def test_regional_data_rules():
    votes = {"A": 60, "B": 40}
    ok = {"R1": RegionResult({"A": 30, "B": 20}, 50), "R2": RegionResult({"A": 30, "B": 20}, 50)}
    uncapped = SeatRules(max_seat_share=None)
    run = {"seats": 5, "ballot_order": ["A", "B"], "rules": uncapped, "participants": 100}
    assert allocate_pr(votes, regional=ok, regions=["R1", "R2"], **run).won == {"A": 3, "B": 2}
    with pytest.raises(SeatError, match=r"missing regions \['R3'\], unknown regions \[\]"):
        allocate_pr(votes, regional=ok, regions=["R1", "R2", "R3"], **run)
    with pytest.raises(SeatError, match="also declared not evaluated"):
        allocate_pr(votes, regional=ok, regional_not_evaluated=True, **run)
    too_many = ok | {"R2": RegionResult({"A": 31, "B": 20}, 51)}
    with pytest.raises(
        SeatError, match="regional votes for A sum to 61, more than its national 60"
    ):
        allocate_pr(votes, regional=too_many, **run)
    with pytest.raises(SeatError, match=r"regional\[R2\]: no participants"):
        allocate_pr(votes, regional=ok | {"R2": RegionResult({}, 0)}, **run)
    with pytest.raises(SeatError, match=r"regional\[R1\]: the threshold base is participants"):
        allocate_pr(votes, regional=ok | {"R1": RegionResult({"A": 1})}, **run)
    off = allocate_pr(votes, **(run | {"rules": NO_REGIONS}))
    assert off.regional is RegionalCheck.OFF and "off in these rules" in off.notes[0]


def test_allocate_for_an_election_uses_its_seats_order_and_regions():
    election = tiny_election()
    national = ContestTally("PR", votes={"P01": 50, "P02": 30, "P03": 20, AGAINST_ALL: 5})
    regional = {
        "R1": RegionResult({"P01": 25, "P02": 15, "P03": 10}, 55),
        "R2": RegionResult({"P01": 25, "P02": 15, "P03": 10}, 55),
    }
    result = allocate_pr_for(election, national, rules=KG, participants=110, regional=regional)
    # Cap floor(5 / 2) = 2: P01 wins 3 in round 1 (a remainder tie won on votes), is held
    # to 2, and P02 and P03 share the other 3.
    assert result.won == {"P01": 2, "P02": 2, "P03": 1}
    assert [r.over_cap for r in result.rounds] == [("P01",), ()]
    assert [p.party for p in result.parties] == ["P01", "P02", "P03"]
    with pytest.raises(SeatError, match=r"missing regions \['R2'\]"):
        allocate_pr_for(
            election, national, rules=KG, participants=110, regional={"R1": regional["R1"]}
        )
    with pytest.raises(SeatError, match="need the PR tally"):
        allocate_pr_for(election, ContestTally("SMD-01"), rules=KG, participants=1)


# Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("votes", "kwargs", "message"),
    [
        ({"A": -1}, {}, r"votes\[A\] must be an integer >= 0, got -1"),
        ({"A": True}, {}, r"votes\[A\] must be an integer"),
        ({"A": 1.5}, {}, r"votes\[A\] must be an integer"),
        ({"Z": 1}, {}, "votes for 'Z', which is not in the ballot order"),
        ({"A": 1}, {"ballot_order": ["A", "A"]}, "names a party twice"),
        ({"A": 1}, {"ballot_order": ["A", AGAINST_ALL]}, "not a party"),
        ({"A": 10}, {"participants": 9}, "9 participants but 10 valid votes"),
        ({"A": 10}, {"participants": None}, "threshold base is participants, but none"),
        ({"A": 10}, {"seats": 0}, "seats must be an integer >= 1"),
    ],
)
def test_bad_input_is_named(votes, kwargs, message):
    run = {"seats": 5, "ballot_order": ["A", "B"], "rules": NO_REGIONS, "participants": 100}
    with pytest.raises(SeatError, match=message):
        allocate_pr(votes, **(run | kwargs))


def test_exactly_the_threshold_qualifies():
    """5 % of 1,000 participants is 50 votes: 50 qualifies, 49 does not (``>=``)."""
    for n, ok in ((50, True), (49, False)):
        result = allocate_pr(
            {"A": 600, "B": n}, seats=10, ballot_order="AB", rules=PLAIN, participants=1000
        )
        assert result.parties[1].qualified is ok


def test_valid_votes_base_needs_no_participants():
    rules = SeatRules(regional_threshold=None, threshold_base="valid_votes")
    result = allocate_pr(
        {"A": 95, "B": 5, AGAINST_ALL: 0}, seats=10, ballot_order="AB", rules=rules
    )
    assert result.threshold_base == 100 and result.parties[1].qualified


# Tie rules ---------------------------------------------------------------------------------


def test_equal_remainders_go_to_more_votes():
    result = allocate_pr({"A": 1, "B": 3}, seats=2, ballot_order="AB", rules=PLAIN, participants=4)
    assert result.won == {"B": 2}
    assert "went to B over A by more votes" in result.rounds[0].ties[0]


def test_equal_remainders_and_votes_go_to_the_earlier_ballot_position():
    for order in ("AB", "BA"):
        result = allocate_pr(
            {"A": 5, "B": 5}, seats=3, ballot_order=order, rules=PLAIN, participants=10
        )
        assert result.won[order[0]] == 2 and result.won[order[1]] == 1
        assert "by the earlier ballot position" in result.rounds[0].ties[0]


# Properties --------------------------------------------------------------------------------

PARTIES = [f"P{i:02d}" for i in range(1, 9)]
HOUSES = st.one_of(st.just(54), st.integers(1, 60))


@st.composite
def pr_cases(draw):
    n = draw(st.integers(1, len(PARTIES)))
    votes = {p: draw(st.integers(0, 200_000)) for p in PARTIES[:n]}
    votes[AGAINST_ALL] = draw(st.integers(0, 20_000))
    participants = sum(votes.values()) + draw(st.integers(0, 50_000))
    return votes, participants, draw(HOUSES), PARTIES[:n]


def run(votes, participants, seats, order, rules=NO_REGIONS):
    return allocate_pr(
        votes, seats=seats, ballot_order=order, rules=rules, participants=participants
    )


def qualified(result):
    return {p.party for p in result.parties if p.qualified}


def capped(result):
    return {p.party for p in result.parties if p.capped}


@given(pr_cases())
def test_seats_sum_to_the_house_unless_the_cap_leaves_some_unfilled(case):
    """Every seat is filled whenever ``qualifying parties x cap >= seats``; otherwise
    exactly the excess stays unfilled.  Under kg2021 (cap 27 of 54) that means: all 54
    seats whenever at least two parties qualify, 27 unfilled when only one does."""
    result = run(*case)
    assert sum(result.won.values()) + result.unfilled == result.seats
    q = len(qualified(result))
    assert result.unfilled == max(0, result.seats - q * result.cap)
    assert all(p.seats <= result.cap for p in result.parties)


@given(pr_cases(), st.sampled_from([Fraction(1, 20), Fraction(7, 100), Fraction(0)]))
def test_only_qualifying_parties_win_seats(case, threshold):
    votes, participants, seats, order = case
    rules = SeatRules(regional_threshold=None, national_threshold=threshold)
    result = run(votes, participants, seats, order, rules)
    for p in result.parties:
        assert p.qualified is (p.votes > 0 and p.share >= threshold)
        if not p.qualified:
            assert p.seats == 0 and p.reasons
    assert AGAINST_ALL not in result.won


@given(pr_cases())
def test_hare_quota_rule_holds_when_nobody_is_capped(case):
    """Hamilton's quota rule: each party gets its quotient rounded down or up."""
    result = run(*case)
    assume(not capped(result))
    total = sum(p.votes for p in result.parties if p.qualified)
    for p in result.parties:
        if p.qualified:
            quotient = Fraction(p.votes * result.seats, total)
            assert math.floor(quotient) <= p.seats <= math.ceil(quotient)


@given(pr_cases(), st.data())
def test_input_order_never_changes_the_result(case, data):
    votes, participants, seats, order = case
    shuffled = dict(data.draw(st.permutations(list(votes.items()))))
    assert run(shuffled, participants, seats, order) == run(votes, participants, seats, order)


@given(pr_cases(), st.data())
def test_ballot_order_matters_only_for_exact_ties(case, data):
    votes, participants, seats, order = case
    assume(len({votes[p] for p in order}) == len(order))
    permuted = data.draw(st.permutations(order))
    assert (
        run(votes, participants, seats, permuted).won == run(votes, participants, seats, order).won
    )


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(pr_cases(), st.integers(0, 7), st.integers(1, 30_000))
def test_own_votes_rising_never_cost_a_seat_when_the_field_is_unchanged(case, index, more):
    """Monotonicity, stated as strongly as it is true.

    With the house size and every other party's votes fixed, and the participants
    raised by the same ``more`` votes, a party's seat count never decreases PROVIDED the
    set of qualifying parties and the set of parties held to the cap are unchanged.
    Then the last largest-remainder round has the same parties and seats, the party's
    quotient rises, every other quotient falls, and each other party whose whole part
    drops frees one seat for the one remainder it may push above ours.

    Without the proviso the claim is false; see the two counterexamples below."""
    votes, participants, seats, order = case
    party = order[index % len(order)]
    before = run(votes, participants, seats, order, NO_REGIONS)
    after = run(votes | {party: votes[party] + more}, participants + more, seats, order, NO_REGIONS)
    assume(qualified(before) == qualified(after) and capped(before) == capped(after))
    assert after.seats_of(party) >= before.seats_of(party)


# Counterexamples to "more votes never cost a seat" under kg2021 rules with 54 seats.
# Threshold: P1 has exactly 5 % of participants; one more vote for P0 raises the bar,
# P1 drops out, its 3 seats are shared with bigger quotients, and P0 falls from 5 to 4
# (an Alabama-like effect: the remaining parties' house grows from 51 to 54).
THRESHOLD_PARADOX = (
    {"P0": 29_527, "P1": 20_277, "P2": 74_624, "P3": 10_376, "P4": 37_019,
     "P5": 80_343, "P6": 69_403, "P7": 48_493},
    405_540, "P0", 1,
)  # fmt: skip
# Cap: P2's quotient 27.39 wins a remainder seat (28 > 27) and is held to 27; the second
# round gives P0 the freed seat (23).  231 more votes for P0 lower P2's remainder, P2 no
# longer exceeds the cap, there is no second round, and P0 has 22.
CAP_PARADOX = ({"P0": 52_157, "P1": 10_280, "P2": 64_260}, 140_160, "P0", 231)


@pytest.mark.parametrize(
    ("votes", "participants", "party", "more"), [THRESHOLD_PARADOX, CAP_PARADOX]
)
def test_more_votes_can_cost_a_seat_when_the_field_changes(votes, participants, party, more):
    order = list(votes)
    before = run(votes, participants, 54, order, NO_REGIONS)
    after = run(votes | {party: votes[party] + more}, participants + more, 54, order, NO_REGIONS)
    assert after.seats_of(party) == before.seats_of(party) - 1
    assert (qualified(before), capped(before)) != (qualified(after), capped(after))
    assert not any(r.ties for r in before.rounds + after.rounds)


@pytest.mark.slow
def test_hypothesis_finds_the_threshold_paradox():
    """How THRESHOLD_PARADOX's kind is found: a party exactly at the threshold and one
    more vote for another party, which lifts the bar above it."""

    @st.composite
    def edge_cases(draw):
        votes = {"P0": draw(st.integers(5_000, 30_000))}
        for i in range(2, draw(st.integers(3, 8))):
            votes[f"P{i}"] = draw(st.integers(1, 100_000))
        # P1 holds exactly 5 % of the participants only when they are a multiple of 20.
        rest = 19 * math.ceil((sum(votes.values()) + draw(st.integers(0, 100_000))) / 19)
        votes["P1"] = rest // 19
        return votes, rest + votes["P1"]

    def loses(case):
        votes, participants = case
        order = sorted(votes)
        before = run(votes, participants, 54, order, NO_REGIONS)
        after = run(votes | {"P0": votes["P0"] + 1}, participants + 1, 54, order, NO_REGIONS)
        return after.seats_of("P0") < before.seats_of("P0")

    found = find(
        edge_cases(),
        loses,
        settings=settings(max_examples=100_000, derandomize=True, database=None),
    )
    assert loses(found)


# Members inside a party ------------------------------------------------------------------


def make_party(sexes: str) -> Party:
    return Party(
        "PX",
        "Party X",
        1,
        tuple(ListCandidate("PX", i, f"c{i}", Sex(s)) for i, s in enumerate(sexes, 1)),
    )


def test_women_quota_displaces_the_lowest_men():
    party = make_party("MMFMMFMMFMMFMMF")
    prefs = {i: 1000 - i for i in range(1, 16)}  # list order = preference order
    seats = elect_candidates(party, 10, prefs, KG)
    assert seats.women_required == 3  # ceil(0.3 * 10) is 3, not float's 4
    chosen = [e.candidate.position for e in seats.elected]
    assert chosen == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]  # top 10 already hold 3 women
    prefs = {i: (1000 if s == "M" else 100) - i for i, s in enumerate("MMFMMFMMFMMFMMF", 1)}
    seats = elect_candidates(party, 10, prefs, KG)
    women = [e for e in seats.elected if e.candidate.sex is Sex.FEMALE]
    assert [w.candidate.position for w in women] == [3, 6, 9]
    assert all(w.via_quota for w in women)
    assert [c.position for c in seats.displaced] == [11, 13, 14]
    assert seats.women_elected == 3
    assert [e.rank for e in seats.elected] == sorted(e.rank for e in seats.elected)


def test_ties_inside_a_party_go_to_the_earlier_list_position():
    seats = elect_candidates(make_party("MMMF"), 2, {}, SeatRules(women_min_share=None))
    assert [e.candidate.position for e in seats.elected] == [1, 2]
    seats = elect_candidates(make_party("MMMFF"), 2, {}, KG)
    assert [e.candidate.position for e in seats.elected] == [1, 4]


def test_party_seat_shortfalls_are_recorded():
    seats = elect_candidates(make_party("MMM"), 2, {1: 5}, KG)
    assert seats.quota_shortfall == 1 and seats.women_elected == 0
    seats = elect_candidates(make_party("FM"), 4, {}, KG)
    assert seats.unfilled == 2 and len(seats.elected) == 2
    with pytest.raises(SeatError, match="position 9, not on its list"):
        elect_candidates(make_party("FM"), 1, {9: 1}, KG)


@given(
    st.text(alphabet="MF", min_size=1, max_size=20),
    st.data(),
    st.sampled_from([Fraction(3, 10), Fraction(1, 2), None]),
)
def test_women_quota_is_respected_whenever_the_list_allows(sexes, data, share):
    party = make_party(sexes)
    prefs = {i: data.draw(st.integers(0, 50)) for i in range(1, len(sexes) + 1)}
    n = data.draw(st.integers(0, len(sexes) + 2))
    rules = SeatRules(women_min_share=share)
    result = elect_candidates(party, n, prefs, rules)
    filled = min(n, len(sexes))
    required = math.ceil((share or 0) * n)
    women = sexes.count("F")
    assert len(result.elected) == filled and result.unfilled == n - filled
    assert result.women_elected >= min(required, women, filled)
    assert result.quota_shortfall == required - min(required, women, filled)

    def ranking(sex):
        return [
            c.position
            for c in sorted(party.candidates, key=lambda c: (-prefs[c.position], c.position))
            if c.sex is sex
        ]

    for sex in Sex:  # elected of each sex are that sex's best by preference
        elected = {e.candidate.position for e in result.elected if e.candidate.sex is sex}
        assert set(ranking(sex)[: len(elected)]) == elected


def test_elect_members_from_an_allocation():
    election = tiny_election()
    national = ContestTally(
        "PR",
        votes={"P01": 50, "P02": 30, "P03": 20},
        preferences={"P01": {3: 30, 2: 20}, "P03": {4: 9}},
    )
    allocation = allocate_pr_for(election, national, rules=NO_REGIONS, participants=100)
    members = elect_members(election, allocation, national, KG)
    assert allocation.won == {"P01": 2, "P02": 2, "P03": 1}
    assert {p: len(m.elected) for p, m in members.items()} == allocation.won
    # P01's list is M, F, M: one of its two seats must go to its woman (position 2).
    assert [e.candidate.position for e in members["P01"].elected] == [3, 2]
    assert [e.candidate.position for e in members["P03"].elected] == [4]


# Single-mandate districts --------------------------------------------------------------

SMD_OPTIONS = ("C1", "C2", "C3", AGAINST_ALL)


@pytest.mark.parametrize(
    ("votes", "status", "winner", "tied"),
    [
        ({"C1": 10, "C2": 7, AGAINST_ALL: 3}, SmdStatus.ELECTED, "C1", ()),
        ({"C1": 10, "C2": 7, AGAINST_ALL: 11}, SmdStatus.REPEAT_ELECTION, None, ()),
        ({"C1": 10, "C2": 7, AGAINST_ALL: 10}, SmdStatus.ELECTED, "C1", ()),
        ({"C1": 10, "C3": 10, AGAINST_ALL: 2}, SmdStatus.TIE, None, ("C1", "C3")),
        ({"C1": 10, "C3": 10, AGAINST_ALL: 12}, SmdStatus.REPEAT_ELECTION, None, ()),
        ({}, SmdStatus.NO_VOTES, None, ()),
        ({AGAINST_ALL: 1}, SmdStatus.REPEAT_ELECTION, None, ()),
    ],
)
def test_smd_outcomes(votes, status, winner, tied):
    result = decide_smd(ContestTally("SMD-27", votes=votes, blank=4), SMD_OPTIONS)
    assert (result.status, result.winner, result.tied) == (status, winner, tied)
    assert result.against_all == votes.get(AGAINST_ALL, 0)
    assert [n for _, n in result.standings] == sorted(
        (n for _, n in result.standings), reverse=True
    )


def test_smd_unknown_option_is_an_error():
    with pytest.raises(SeatError, match=r"not on the ballot: \['C9'\]"):
        decide_smd(ContestTally("SMD-01", votes={"C9": 1}), SMD_OPTIONS)
