"""The rule set: kg2021 defaults, a lossless dict round trip, and named errors."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.rules import (
    InvalidBallotPolicy,
    PreferenceBeyondList,
    RuleError,
    RuleSet,
    SeatRules,
    ThresholdBase,
    ValidityRules,
)


def test_kg2021_defaults():
    rules = RuleSet.kg2021()
    assert rules.name == "kg2021"
    assert rules.validity.no_preference_means_first is True
    assert rules.validity.invalid_ballot_policy is InvalidBallotPolicy.ACCEPT_INVALID
    assert rules.validity.preference_boxes == 54
    assert rules.validity.preference_beyond_list is PreferenceBeyondList.VOID
    assert rules.seats.national_threshold == Fraction(5, 100)
    assert rules.seats.threshold_base is ThresholdBase.PARTICIPANTS
    assert rules.seats.regional_threshold == Fraction(5, 1000)
    assert rules.seats.max_seat_share == Fraction(1, 2)
    assert rules.seats.women_min_share == Fraction(3, 10)
    assert RuleSet.named("kg2021") == rules


def test_dict_round_trip_through_json():
    rules = RuleSet.kg2021()
    data = json.loads(json.dumps(rules.to_dict()))
    assert data["seats"]["national_threshold"] == 0.05
    assert data["validity"]["invalid_ballot_policy"] == "accept-invalid"
    assert RuleSet.from_dict(data) == rules


@given(
    st.fractions(min_value=0, max_value=Fraction(99, 100), max_denominator=1000),
    st.one_of(st.none(), st.fractions(min_value=0, max_value=Fraction(1, 10))),
    st.sampled_from(list(ThresholdBase)),
    st.one_of(st.none(), st.fractions(min_value=Fraction(1, 100), max_value=1)),
    st.booleans(),
    st.sampled_from(list(InvalidBallotPolicy)),
)
def test_any_rule_set_survives_the_round_trip(national, regional, base, cap, first, policy):
    rules = RuleSet(
        name="custom",
        validity=ValidityRules(no_preference_means_first=first, invalid_ballot_policy=policy),
        seats=SeatRules(
            national_threshold=national,
            regional_threshold=regional,
            threshold_base=base,
            max_seat_share=cap,
        ),
    )
    assert RuleSet.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules


def test_strings_and_floats_are_read_exactly():
    seats = SeatRules(national_threshold="0.07", women_min_share=0.3, max_seat_share="2/3")
    assert seats.national_threshold == Fraction(7, 100)
    assert seats.women_min_share == Fraction(3, 10)
    assert seats.to_dict()["max_seat_share"] == "2/3"


def test_partial_dict_takes_defaults():
    rules = RuleSet.from_dict({"seats": {"regional_threshold": None}})
    assert rules.seats.regional_threshold is None
    assert rules.seats.national_threshold == Fraction(1, 20)
    assert rules.validity == ValidityRules()


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"seats": {"national_threshold": 1.5}}, "seats.national_threshold", "[0, 1)"),
        ({"seats": {"national_threshold": -0.01}}, "seats.national_threshold", "[0, 1)"),
        ({"seats": {"national_threshold": "five"}}, "seats.national_threshold", "number"),
        ({"seats": {"national_threshold": None}}, "seats.national_threshold", "required"),
        ({"seats": {"national_threshold": True}}, "seats.national_threshold", "number"),
        ({"seats": {"threshold_base": "roll"}}, "seats.threshold_base", "'participants'"),
        ({"seats": {"quota": "droop"}}, "seats.quota", "'hare'"),
        ({"seats": {"max_seat_share": 0}}, "seats.max_seat_share", "unfilled"),
        ({"seats": {"women_min_share": 2}}, "seats.women_min_share", "[0, 1]"),
        ({"seats": {"womens_quota": 0.3}}, "seats.womens_quota", "unknown"),
        ({"validity": {"invalid_ballot_policy": "reject"}}, "validity.invalid_ballot_policy", ""),
        ({"validity": {"preference_beyond_list": "ignore"}}, "validity.preference_beyond_list", ""),
        (
            {"validity": {"no_preference_means_first": "yes"}},
            "validity.no_preference_means_first",
            "",
        ),
        ({"validity": {"preference_boxes": 0}}, "validity.preference_boxes", "positive"),
        ({"validity": []}, "validity", "object"),
        ({"sets": {}}, "sets", "unknown"),
        ({"name": ""}, "name", "non-empty"),
    ],
)
def test_bad_values_name_field_and_reason(data, field, reason):
    with pytest.raises(RuleError) as info:
        RuleSet.from_dict(data)
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{field}: ")


def test_unknown_rule_set_name():
    with pytest.raises(RuleError, match="unknown rule set 'kg2026'"):
        RuleSet.named("kg2026")


def test_enums_accept_their_text():
    rules = ValidityRules(
        invalid_ballot_policy="return-with-warning", preference_beyond_list="void"
    )
    assert rules.invalid_ballot_policy is InvalidBallotPolicy.RETURN_WITH_WARNING
    assert rules.preference_beyond_list is PreferenceBeyondList.VOID
