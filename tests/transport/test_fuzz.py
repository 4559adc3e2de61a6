"""Hypothesis fuzzing of the frame and packet parsers: 10,000 cases in the default run.

The property is the receiver's contract: on any input, a typed rejection or a verified
packet, never another exception, and the replay state untouched.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transport.conftest import ELECTION
from transport import canonical, errors, frames, intake
from transport.packet import parse, signed_bytes

FUZZ = settings(
    max_examples=2_500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def target(store, make_packet):
    registry, server = store.registry(), store.server_keys()
    replay = intake.MemoryReplayState()
    accepted = make_packet(1)
    intake.acknowledge(
        intake.verify(accepted, registry, replay, server=server, election=ELECTION),
        replay,
        server,
        now=1,
    )
    samples = [accepted, make_packet(2), make_packet(3, payload={"pad": "z" * 700})]
    wires = [frames.encode(c) for p in samples for c in frames.split(p)]
    wires += [frames.encode(frames.Status(b"m" * 8, 3, m)) for m in ((), (1,), (0, 2))]
    return registry, replay, server, samples, wires


def _verify(target, data: bytes) -> None:
    registry, replay, server, _, _ = target
    before = replay.snapshot()
    with contextlib.suppress(errors.Rejected):
        intake.verify(data, registry, replay, server=server, election=ELECTION)
    assert replay.snapshot() == before


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in edits:
        if not out:
            break
        i = where % len(out)
        if kind == 0:
            out[i] ^= 1 << (value % 8)
        elif kind == 1:
            out[i] = value
        elif kind == 2:
            del out[i]
        elif kind == 3:
            out.insert(i, value)
        else:
            out = out[:i]
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4
)


@FUZZ
@given(data=st.binary(max_size=700))
def test_frame_decoder_on_random_bytes(data):
    with contextlib.suppress(errors.Rejected):
        frames.decode(data)


@FUZZ
@given(pick=st.integers(0, 100), edits=EDITS)
def test_frame_decoder_on_damaged_frames(target, pick, edits):
    wires = target[4]
    try:
        frame = frames.decode(_mutate(wires[pick % len(wires)], edits))
    except errors.Rejected:
        return
    assert isinstance(frame, frames.Chunk | frames.Status)


@FUZZ
@given(data=st.one_of(st.binary(max_size=600), st.binary(max_size=400).map(lambda b: b"\x83" + b)))
def test_verify_on_random_bytes(target, data):
    _verify(target, data)


@FUZZ
@given(pick=st.integers(0, 100), edits=EDITS)
def test_verify_on_damaged_packets(target, pick, edits):
    samples = target[3]
    _verify(target, _mutate(samples[pick % len(samples)], edits))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_frame_reader_never_returns_oversized_runs(data, cuts):
    reader = frames.FrameReader()
    out = []
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True):
        out += reader.feed(data[a:b])
    assert all(0 < len(w) <= frames.FRAME_MAX and w.endswith(b"\x00") for w in out)


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.text(max_size=80),
    st.binary(max_size=40),
    st.sampled_from([ELECTION, "PCOS-0001", "PCOS-0002", "PCOS-REVOKED", 1, 2, 8]),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=1_000, deadline=None, derandomize=True, database=None)
@given(
    pick=st.integers(0, 2),
    changes=st.dictionaries(
        st.sampled_from(
            ["ver", "type", "unit", "election", "dec", "seq", "ts", "nonce", "epk", "x"]
        ),
        st.one_of(st.just(None), ODD_VALUES),
        min_size=1,
        max_size=3,
    ),
    drop=st.booleans(),
)
def test_verify_on_validly_signed_odd_headers(target, store, pick, changes, drop):
    """Headers a real unit signed, with odd values: past the signature, into validation."""
    envelope = parse(target[3][pick])
    fields = canonical.loads(envelope.header_bytes)
    for key, value in changes.items():
        if drop and value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    try:
        header_bytes = canonical.dumps(fields)
    except canonical.CanonicalError:
        return
    signer = store.unit_key("PCOS-0001").sign
    signature = signer.sign(signed_bytes(header_bytes, envelope.body))
    _verify(target, canonical.dumps([header_bytes, envelope.body, signature]))
