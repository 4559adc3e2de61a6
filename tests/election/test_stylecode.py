"""The style code: exact round trip, and no misread ever believed."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.model import LANGUAGES, BallotKind
from election.stylecode import (
    CELL_COUNT,
    CODE_BITS,
    StyleCode,
    StyleCodeCrcError,
    StyleCodeError,
    crc16,
    decode,
    election_tag,
    encode,
    from_cells,
    to_cells,
)


@st.composite
def codes(draw: st.DrawFn) -> StyleCode:
    kind = draw(st.sampled_from(list(BallotKind)))
    return StyleCode(
        election_tag=draw(st.integers(0, 0xFFFF)),
        kind=kind,
        district=0 if kind is BallotKind.PR else draw(st.integers(1, 63)),
        dec=draw(st.integers(0, (1 << 14) - 1)),
        language=draw(st.sampled_from(LANGUAGES)),
        version=draw(st.integers(0, 15)),
    )


SAMPLE = StyleCode(0xBEEF, BallotKind.SMD, 27, 9059, "ru", 1)


@given(codes())
def test_round_trip(code):
    bits = encode(code)
    assert len(bits) == CODE_BITS
    assert decode(bits) == code
    assert from_cells(to_cells(code)) == code
    assert len(to_cells(code)) == CELL_COUNT


@given(codes(), st.integers(0, CODE_BITS - 1))
def test_every_single_bit_flip_is_detected(code, index):
    bits = list(encode(code))
    bits[index] ^= 1
    with pytest.raises(StyleCodeCrcError):
        decode(bits)


def test_every_single_and_double_flip_of_one_code_is_detected():
    bits = encode(SAMPLE)
    for flips in itertools.chain(
        itertools.combinations(range(CODE_BITS), 1), itertools.combinations(range(CODE_BITS), 2)
    ):
        damaged = list(bits)
        for i in flips:
            damaged[i] ^= 1
        with pytest.raises(StyleCodeCrcError):
            decode(damaged)


def test_crc_is_ccitt_false():
    data = [int(b) for byte in b"123456789" for b in f"{byte:08b}"]
    assert crc16(data) == 0x29B1  # the published check value of CRC-16/CCITT-FALSE


def test_blank_and_black_strips_are_refused():
    with pytest.raises(StyleCodeError):
        from_cells([0] * CELL_COUNT)
    with pytest.raises(StyleCodeError):
        from_cells([1] * CELL_COUNT)
    with pytest.raises(StyleCodeCrcError):
        decode([0] * CODE_BITS)


def test_strip_read_back_to_front_is_refused():
    with pytest.raises(StyleCodeError, match="guards"):
        from_cells(to_cells(SAMPLE)[::-1])


@pytest.mark.parametrize(
    "changes",
    [
        {"election_tag": 1 << 16},
        {"election_tag": -1},
        {"dec": 1 << 14},
        {"district": 64},
        {"district": 0},
        {"version": 16},
        {"language": "en"},
        {"kind": "STV"},
        {"dec": 1.5},
    ],
)
def test_out_of_range_fields_raise(changes):
    fields = {
        "election_tag": 1,
        "kind": BallotKind.SMD,
        "district": 3,
        "dec": 10,
        "language": "ky",
        "version": 1,
    }
    with pytest.raises(StyleCodeError):
        StyleCode(**(fields | changes))


def test_pr_code_needs_district_zero():
    with pytest.raises(StyleCodeError, match="district 0"):
        StyleCode(1, BallotKind.PR, 4, 10, "ky", 1)


def test_kind_given_as_text_is_normalised():
    assert StyleCode(1, "PR", 0, 10, "ky", 1).kind is BallotKind.PR


@pytest.mark.parametrize("bad", [[0] * (CELL_COUNT - 1), [2] * CELL_COUNT])
def test_malformed_cells_raise(bad):
    with pytest.raises(StyleCodeError):
        from_cells(bad)


def test_election_tag_from_fingerprint():
    assert election_tag("beef" + "0" * 60) == 0xBEEF
    for bad in ("", "xyz1", "12", None):
        with pytest.raises(StyleCodeError):
            election_tag(bad)
