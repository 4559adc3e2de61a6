"""The definition file: round trip, fingerprint, and a clear error for every bad field."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election import definition
from election.definition import DefinitionError
from fixtures import scenario


@pytest.fixture(scope="module")
def tiny():
    return scenario.build("kg2021", "tiny", seed=0)


def test_round_trip_is_identity(tiny):
    text = definition.dumps(tiny)
    again = definition.loads(text)
    assert again == tiny
    assert definition.dumps(again) == text


def test_fingerprint_names_the_content(tiny):
    data = definition.to_dict(tiny)
    data["name"] = data["name"] + " (changed)"
    changed = definition.from_dict(data)
    assert definition.fingerprint(tiny) == definition.fingerprint(
        definition.loads(definition.dumps(tiny))
    )
    assert definition.fingerprint(changed) != definition.fingerprint(tiny)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("parties"), "parties"),
        (lambda d: d["decs"][0].update(roll_pr=-1), "decs[0].roll_pr"),
        (lambda d: d["decs"][0].update(roll_pr="many"), "decs[0].roll_pr"),
        (lambda d: d["decs"][1].update(number=d["decs"][0]["number"]), "decs[1].number"),
        (lambda d: d["parties"][0].update(ballot_position=99), "parties"),
        (
            lambda d: d["parties"][0]["candidates"][0].update(sex="X"),
            "parties[0].candidates[0].sex",
        ),
        (lambda d: d["parties"][0].update(id="AGAINST_ALL"), "parties[0].id"),
        (lambda d: d["smd_candidates"][0].update(district=77), "smd_candidates[0].district"),
        (lambda d: d["units"].update(total=1), "units"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d["districts"][0].update(region="ATLANTIS"), "districts[0].region"),
    ],
)
def test_bad_field_is_named(tiny, mutate, path):
    data = definition.to_dict(tiny)
    mutate(data)
    with pytest.raises(DefinitionError) as err:
        definition.from_dict(data)
    assert err.value.path == path
    assert err.value.reason


def test_not_json_and_missing_file(tmp_path):
    with pytest.raises(DefinitionError, match="not JSON"):
        definition.loads("{not json")
    with pytest.raises(DefinitionError, match="no such file"):
        definition.load(tmp_path / "missing.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DefinitionError, match="not UTF-8"):
        definition.load(bad)


_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


def _paths(node, prefix=()):
    """Every (container, key) in a JSON tree, so a test can replace any one value."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _paths(value, (*prefix, key))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_corruption_is_accepted_or_named(tiny, data):
    """Replacing any one value by junk never escapes as anything but DefinitionError."""
    base = definition.to_dict(tiny)
    paths = list(_paths(base))
    target = data.draw(st.sampled_from(paths))
    corrupt = copy.deepcopy(base)
    node = corrupt
    for key in target[:-1]:
        node = node[key]
    node[target[-1]] = data.draw(_junk)
    try:
        definition.loads(json.dumps(corrupt))
    except DefinitionError as exc:
        assert str(exc)
