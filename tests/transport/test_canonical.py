"""The strict decoder's fast path decides exactly as the canonical-only decoder did.

:func:`transport.canonical.loads` re-encodes in cbor2's plain mode when the decoded value
has no floats and every map already holds its keys in deterministic order, and in
canonical mode otherwise.  The reference below is the decoder as it was before (always
canonical mode); on random values in random key orders, on their canonical encodings,
on mutations of both and on random bytes (10,000 cases) the two must accept the same
inputs, with the same values, and refuse the same ones, naming truncation alike.
"""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.transport.test_fuzz import EDITS, _mutate
from transport import canonical

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
    assert decision(canonical.loads, data) == decision(reference_loads, data)


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
