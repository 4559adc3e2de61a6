"""The strict decoder's fast paths decide exactly as the canonical-only decoder did.

:func:`transport.canonical.loads` has two fast paths over the plain reference below
(decode, check the value, re-encode in cbor2's canonical mode, compare):

* the C scan (``transport/_cbor_check.c``), which decides from the bytes alone;
* :func:`~transport.canonical.loads_checked`, which re-encodes in cbor2's plain mode
  when the decoded value has no floats and every map already holds its keys in
  deterministic order, and in canonical mode otherwise.

On random values in random key orders, on their canonical encodings, on mutations of
both and on random bytes (10,000 cases) each must accept the same inputs as the
reference, with the same values, and refuse the same ones; the Python paths also name
truncation alike.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.transport.test_fuzz import EDITS, _mutate
from transport import canonical

try:
    from transport._cbor_check import deterministic
except ImportError:  # reported by test_the_c_scan_is_built
    deterministic = None

CASES = settings(max_examples=2_500, deadline=None, derandomize=True, database=None)


def reference_loads(data: bytes) -> Any:
    """The decoder before the fast path: re-encode in canonical mode, always."""
    try:
        value = cbor2.loads(
            data,
            max_depth=canonical.MAX_DEPTH + 1,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    except cbor2.CBORDecodeEOF as exc:
        raise canonical.CanonicalError("CBOR ends early", truncated=True) from exc
    except Exception as exc:
        raise canonical.CanonicalError(f"not CBOR: {exc}") from exc
    canonical.check(value)
    try:
        again = cbor2.dumps(value, canonical=True)
    except Exception as exc:
        raise canonical.CanonicalError(f"cannot re-encode: {exc}") from exc
    if again != data:
        raise canonical.CanonicalError("not the deterministic encoding (or trailing bytes)")
    return value


def decision(decode: Any, data: bytes) -> tuple:
    """("ok", canonical bytes of the value) or ("refused", truncated)."""
    try:
        value = decode(data)
    except canonical.CanonicalError as exc:
        return ("refused", exc.truncated)
    return ("ok", cbor2.dumps(value, canonical=True))


def same_decision(data: bytes) -> None:
    expected = decision(reference_loads, data)
    assert decision(canonical.loads_checked, data) == expected
    assert decision(canonical.loads, data) == expected
    checked = decision(lambda d: canonical.check_encoding(d) or cbor2.loads(d), data)
    assert checked == expected  # the check a line worker makes of a payload it passes on
    if deterministic is not None:  # loads would hide a wrong "no" behind loads_checked
        assert deterministic(data) == (expected[0] == "ok")


def test_the_c_scan_is_built():
    """Without a C compiler the install falls back to the reference path (slower); on
    the project's machines and in CI the scan must be there and used."""
    if deterministic is None:
        message = "transport._cbor_check is not built (no C compiler at install?)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert canonical._deterministic is deterministic


KEYS = st.text(st.sampled_from("ab\u00e9\u4e2d\U0001f600z0"), max_size=4) | st.sampled_from(
    ["ts", "dec", "seq", "nonce", "election", "x" * 24, "y" * 23]
)
SCALARS = (
    st.integers(-(2**64), 2**65)
    | st.floats(allow_nan=True, allow_infinity=True, width=64)
    | st.floats(width=16)
    | st.text(max_size=5)
    | st.binary(max_size=5)
    | st.booleans()
    | st.none()
)
# Maps are built from pair lists, so their insertion (and plain encoding) order is random.
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(st.tuples(KEYS, inner), max_size=5).map(dict)
        | st.lists(st.tuples(st.integers(0, 3), inner), max_size=2).map(dict)
    ),
    max_leaves=20,
)


def _plain(value: Any) -> bytes:
    try:
        return cbor2.dumps(value)
    except Exception:
        return b"\xff"


def _canonical(value: Any) -> bytes:
    try:
        return cbor2.dumps(value, canonical=True)
    except Exception:
        return b"\xff"


@CASES
@given(value=VALUES)
def test_same_decision_on_values_in_any_key_order(value):
    same_decision(_plain(value))


@CASES
@given(value=VALUES)
def test_same_decision_on_canonical_encodings(value):
    same_decision(_canonical(value))


@CASES
@given(value=VALUES, edits=EDITS, canonical_first=st.booleans())
def test_same_decision_on_mutated_encodings(value, edits, canonical_first):
    data = _canonical(value) if canonical_first else _plain(value)
    same_decision(_mutate(data, edits))


@CASES
@given(data=st.binary(max_size=64))
def test_same_decision_on_random_bytes(data):
    same_decision(data)


@settings(max_examples=1_000, deadline=None, derandomize=True, database=None)
@given(value=VALUES)
def test_dumps_gives_the_canonical_mode_bytes(value):
    try:
        expected = cbor2.dumps(value, canonical=True)
        canonical.check(value)
    except Exception:
        return  # outside the data model: dumps refuses, as before
    assert canonical.dumps(value) == expected


def test_key_order_is_utf8_length_first_then_bytewise():
    ordered = {"z": 1, "aa": 3, "é": 2, "中": 4, "x" * 23: 5, "y" * 24: 6}
    assert canonical.loads(cbor2.dumps(ordered)) == ordered
    swapped = {"é": 2, "z": 1}  # é is two UTF-8 bytes: it sorts after z
    data = cbor2.dumps(swapped)
    assert decision(canonical.loads, data) == decision(reference_loads, data) == ("refused", False)


# Maps of counts, the containers the checker's fast paths are for: text keys in random
# order, integers at and just past the 64-bit bounds (alone and in pairs whose absolute
# values sum past 2**63 while each fits), and booleans, which are integers to Python.
BOUNDS = st.sampled_from(
    [
        -(2**64),
        -(2**63) - 1,
        -(2**63),
        -(2**63) + 1,
        -1,
        0,
        1,
        2**62,
        2**63 - 1,
        2**63,
        2**64 - 1,
        2**64,
    ]
)
COUNTS = st.lists(st.tuples(KEYS, BOUNDS | st.integers(0, 1_000) | st.booleans()), max_size=8).map(
    dict
)
REPORTS = st.recursive(
    COUNTS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.lists(st.tuples(KEYS, inner), max_size=4).map(dict)
    ),
    max_leaves=8,
)


def _counts_fit(value: Any) -> bool:
    """The data model, for a value built from REPORTS: every integer fits in 64 bits."""
    if isinstance(value, dict):
        return all(map(_counts_fit, value.values()))
    if isinstance(value, list):
        return all(map(_counts_fit, value))
    return isinstance(value, bool) or -(2**63) <= value <= 2**64 - 1


@CASES
@given(value=REPORTS, edits=EDITS, canonical_first=st.booleans(), mutate=st.booleans())
def test_same_decision_on_maps_of_counts(value, edits, canonical_first, mutate):
    data = _canonical(value) if canonical_first else _plain(value)
    same_decision(_mutate(data, edits) if mutate else data)
    if canonical_first and not mutate:  # the model itself, not only the old decoder's word
        assert (decision(canonical.loads, data)[0] == "ok") == _counts_fit(value)


@settings(max_examples=1_000, deadline=None, derandomize=True, database=None)
@given(value=REPORTS)
def test_dumps_of_maps_of_counts(value):
    if not _counts_fit(value):
        with pytest.raises(canonical.CanonicalError):
            canonical.dumps(value)
        return
    assert canonical.dumps(value) == cbor2.dumps(value, canonical=True)


# Edges of the scan, named: depth, float widths, integer and text forms, simple values.


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("data", "accepted"),
    [
        (cbor2.dumps(nested(canonical.MAX_DEPTH)), True),
        (cbor2.dumps(nested(canonical.MAX_DEPTH + 1)), False),
        (cbor2.dumps({"a": nested(canonical.MAX_DEPTH - 1)}), True),
        (cbor2.dumps({"a": nested(canonical.MAX_DEPTH)}), False),
        (b"\xf9\x3c\x00", True),  # 1.0 as a half
        (b"\xfa\x3f\x80\x00\x00", False),  # 1.0 as a single
        (b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00", False),  # 1.0 as a double
        (b"\xf9\x00\x01", True),  # the smallest half subnormal
        (b"\xfa" + struct.pack(">f", 2.0**-24), False),  # the same as a single
        (b"\xfa" + struct.pack(">f", 2.0**-25), True),  # below halves
        (b"\xfa" + struct.pack(">f", 65504.0), False),  # the largest half
        (b"\xfa" + struct.pack(">f", 65520.0), True),  # just past it
        (b"\xfa" + struct.pack(">f", 1 + 2.0**-11), True),  # 12 significant bits
        (b"\xfb" + struct.pack(">d", 0.1), True),
        (b"\xfb" + struct.pack(">d", 1e300), True),  # beyond singles
        (b"\xfb" + struct.pack(">d", 2.0**-149), False),  # the smallest single subnormal
        (b"\xfb" + struct.pack(">d", -0.0), False),
        (b"\xf9\x80\x00", True),  # -0.0 as a half
        (b"\xf9\x7c\x00", False),  # infinity
        (b"\xf9\x7e\x00", False),  # NaN
        (b"\xfa\x7f\xc0\x00\x00", False),
        (b"\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00", False),
        (b"\xf4", True),  # false
        (b"\xf6", True),  # null
        (b"\xf7", False),  # undefined
        (b"\xf0", False),  # simple value 16
        (b"\xf8\x20", False),  # simple value 32
        (b"\xff", False),  # break
        (b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff", True),  # 2**64 - 1
        (b"\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", True),  # -2**63
        (b"\x3b\x80\x00\x00\x00\x00\x00\x00\x00", False),  # -2**63 - 1
        (b"\x18\x17", False),  # 23 in two bytes
        (b"\x19\x00\xff", False),
        (b"\x1c", False),  # reserved
        (b"\x5f\x41\x00\xff", False),  # indefinite byte string
        (b"\x9f\xff", False),
        (b"\xc1\x00", False),  # tag 1
        (b"\x62\xc3\xa9", True),  # é
        (b"\x62\xc3\xa9"[:2], False),  # text ends early
        (b"\x63\xed\xa0\x80", False),  # a UTF-8 surrogate
        (b"\x62\xc0\x80", False),  # overlong NUL
        (b"\x64\xf4\x90\x80\x80", False),  # above U+10FFFF
        (b"\x64\xf0\x9f\x98\x80", True),  # U+1F600
        (b"\xa2\x61a\x01\x61a\x02", False),  # duplicate key
        (b"\xa1\x01\x02", False),  # integer key
        (b"\xa1\x41a\x02", False),  # byte-string key
        (b"\x82\x01", False),  # array ends early
        (b"\x01\x01", False),  # trailing byte
        (b"", False),
    ],
)
def test_same_decision_at_the_edges(data, accepted):
    same_decision(data)
    assert (decision(reference_loads, data)[0] == "ok") == accepted
