"""Control relations of the manual count protocol: each relation caught by name, a
clean sheet passes, and the JSON form names the bad line."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.protocol import (
    Protocol,
    ProtocolFormatError,
    Relation,
    control_relations,
)
from fixtures import scenario


def _sheet(**changes) -> Protocol:
    """A consistent PR protocol of a small DEC, with ``changes`` applied."""
    base = Protocol(
        dec=2001,
        contest="PR",
        roll=378,
        received=380,
        issued=125,
        cancelled=255,
        found=124,
        invalid=10,
        valid=114,
        votes={"P01": 60, "P02": 50},
        against_all=4,
        preferences={"P01": {1: 40, 2: 15}},
    )
    return replace(base, **changes)


def _relations(protocol: Protocol, *args, **kwargs) -> list[Relation]:
    return [v.relation for v in control_relations(protocol, *args, **kwargs)]


def test_a_consistent_sheet_passes():
    assert control_relations(_sheet()) == []


@pytest.mark.parametrize(
    ("changes", "relation"),
    [
        ({"cancelled": 254}, Relation.RECEIVED),
        ({"received": 381}, Relation.RECEIVED),
        (
            {
                "found": 126,
                "valid": 116,
                "votes": {"P01": 62, "P02": 50},
                "cancelled": 256,
                "received": 381,
            },
            Relation.FOUND_ISSUED,
        ),
        ({"invalid": 11}, Relation.FOUND),
        ({"valid": 115, "found": 125}, Relation.VALID),
        ({"votes": {"P01": 61, "P02": 50}}, Relation.VALID),
        ({"against_all": 5}, Relation.VALID),
        ({"roll": 124}, Relation.ROLL),
        ({"preferences": {"P01": {1: 50, 2: 15}}}, Relation.PREFERENCES),
        ({"preferences": {"P09": {1: 1}}}, Relation.PREFERENCES),
        ({"preferences": {"P01": {0: 1}}}, Relation.PREFERENCES),
    ],
)
def test_each_relation_is_caught_by_name(changes, relation):
    found = control_relations(_sheet(**changes))
    assert [v.relation for v in found] == [relation]
    assert found[0].message


def test_a_negative_count_is_named_with_its_line():
    found = control_relations(_sheet(against_all=-1, valid=109, found=119, invalid=10))
    assert found[0].relation is Relation.NON_NEGATIVE
    assert found[0].lines == ("against_all",)


def test_a_count_that_is_not_a_whole_number_stops_the_arithmetic():
    found = control_relations(_sheet(votes={"P01": "60", "P02": 50}))
    assert [(v.relation, v.lines) for v in found] == [(Relation.NON_NEGATIVE, ("votes.P01",))]


def test_roll_margin_allows_voters_added_on_the_day():
    sheet = _sheet(roll=120)
    assert _relations(sheet) == [Relation.ROLL]
    assert _relations(sheet, roll_margin=5) == []


def test_the_definition_cross_checks():
    tiny = scenario.build("kg2021", "tiny", seed=0)
    dec = tiny.dec(2001)
    options = [o for o in tiny.options("PR") if o != "AGAINST_ALL"]
    votes = dict.fromkeys(options, 0) | {options[0]: 60, options[1]: 50}
    good = _sheet(roll=dec.roll_pr, votes=votes, preferences={})
    assert control_relations(good, tiny) == []
    assert _relations(replace(good, roll=dec.roll_pr + 1), tiny) == [Relation.DEFINITION]
    reordered = dict(reversed(list(votes.items())))
    assert _relations(replace(good, votes=reordered), tiny) == [Relation.DEFINITION]
    assert _relations(replace(good, dec=4242), tiny) == [Relation.DEFINITION]
    abroad_smd = replace(good, dec=9001, contest="SMD-20", roll=tiny.dec(9001).roll_pr)
    assert _relations(abroad_smd, tiny) == [Relation.DEFINITION]
    beyond = replace(good, preferences={options[0]: {6: 1}})
    assert _relations(beyond, tiny) == [Relation.PREFERENCES]


def test_lines_and_with_line():
    sheet = _sheet()
    lines = sheet.lines()
    assert list(lines)[:7] == [
        "roll",
        "received",
        "issued",
        "cancelled",
        "found",
        "invalid",
        "valid",
    ]
    assert lines["votes.P02"] == 50 and lines["preferences.P01.2"] == 15
    assert sheet.with_line("votes.P02", 51).votes["P02"] == 51
    assert sheet.with_line("preferences.P01.2", 1).preferences["P01"][2] == 1
    assert sheet.with_line("found", 1).found == 1
    assert sheet.option_votes == {"P01": 60, "P02": 50, "AGAINST_ALL": 4}
    with pytest.raises(KeyError):
        sheet.with_line("votes.P99", 1)


def test_json_round_trip_and_errors_name_the_line():
    sheet = _sheet()
    assert Protocol.from_json(sheet.to_json()) == sheet
    data = sheet.to_json()
    data["found"] = 1.5
    with pytest.raises(ProtocolFormatError, match="found"):
        Protocol.from_json(data)
    data = sheet.to_json()
    data["votes"]["P02"] = None
    with pytest.raises(ProtocolFormatError, match=r"votes\.P02"):
        Protocol.from_json(data)
    data = sheet.to_json()
    data["preferences"]["P01"]["first"] = 1
    with pytest.raises(ProtocolFormatError, match=r"preferences\.P01"):
        Protocol.from_json(data)
    with pytest.raises(ProtocolFormatError):
        Protocol.from_json([1, 2])


@st.composite
def _consistent(draw) -> Protocol:
    votes = draw(st.lists(st.integers(0, 500), min_size=1, max_size=8))
    against, invalid = draw(st.integers(0, 50)), draw(st.integers(0, 50))
    valid = sum(votes) + against
    found = valid + invalid
    issued = found + draw(st.integers(0, 5))
    received = issued + draw(st.integers(0, 500))
    return Protocol(
        dec=1,
        contest="PR",
        roll=issued + draw(st.integers(0, 500)),
        received=received,
        issued=issued,
        cancelled=received - issued,
        found=found,
        invalid=invalid,
        valid=valid,
        votes={f"P{i:02d}": n for i, n in enumerate(votes, start=1)},
        against_all=against,
    )


EQUALITY_LINES = ("received", "issued", "cancelled", "found", "invalid", "valid", "against_all")


@given(sheet=_consistent(), line=st.sampled_from(EQUALITY_LINES), delta=st.integers(1, 99))
def test_any_change_to_a_balanced_line_breaks_a_relation(sheet, line, delta):
    assert control_relations(sheet) == []
    assert control_relations(sheet.with_line(line, sheet.lines()[line] + delta)) != []
