"""Chunking, reassembly, stream resynchronisation and the line impairments."""

from __future__ import annotations

import contextlib
import os
import random

import pytest

from transport import errors, frames
from transport.errors import ConfigError
from transport.impair import PROFILES, Direction, Profile, profile
from transport.packet import message_id


def test_split_and_reassemble_in_any_order_with_duplicates():
    packet = os.urandom(5000)
    chunks = frames.split(packet, 300)
    assert len(chunks) == 17 and {c.message for c in chunks} == {message_id(packet)}
    shuffled = chunks + chunks[:5]
    random.Random(1).shuffle(shuffled)
    reassembler = frames.Reassembler()
    results = [reassembler.add(frames.decode(frames.encode(c))) for c in shuffled]
    assert [r for r in results if r is not None] == [packet]


def test_missing_lists_what_has_not_arrived():
    chunks = frames.split(os.urandom(2000), 100)
    reassembler = frames.Reassembler()
    for chunk in chunks[::2]:
        reassembler.add(chunk)
    assert reassembler.missing(chunks[0].message, 20) == tuple(range(1, 20, 2))
    assert reassembler.missing(b"unknown!", 3) == (0, 1, 2)


def test_chunks_that_do_not_match_their_message_id_are_refused():
    chunks = frames.split(os.urandom(600), 300)
    forged = frames.Chunk(chunks[1].message, 1, 2, b"x" * 300)
    reassembler = frames.Reassembler()
    reassembler.add(chunks[0])
    with pytest.raises(errors.BadFrame):
        reassembler.add(forged)


def test_reassembly_is_bounded():
    reassembler = frames.Reassembler(capacity=2)
    for i in range(5):
        reassembler.add(frames.Chunk(bytes([i]) * 8, 0, 2, b"x"))
    assert len(reassembler._partial) == 2
    big = frames.Chunk(b"b" * 8, 0, 4096, b"y" * 512)
    with pytest.raises(errors.Oversized):
        for i in range(200):
            reassembler.add(frames.Chunk(big.message, i, 4096, big.data))


def test_frames_start_with_the_same_byte_and_stay_under_the_limit():
    packet = os.urandom(65_000)
    for chunk in frames.split(packet, frames.CHUNK_DATA_MAX):
        wire = frames.encode(chunk)
        assert wire[0] == 0x03 and len(wire) <= frames.FRAME_MAX
    status = frames.Status(b"m" * 8, 4096, tuple(range(128)))
    assert len(frames.encode(status)) <= frames.FRAME_MAX


@pytest.mark.parametrize(
    ("count", "missing", "ok"),
    [(3, (), True), (3, (0, 2), True), (3, (2, 0), False), (3, (3,), False), (0, (), False)],
)
def test_status_frames_round_trip_or_are_refused(count, missing, ok):
    wire = frames.encode(frames.Status(b"m" * 8, count, missing))
    if ok:
        assert frames.decode(wire) == frames.Status(b"m" * 8, count, missing)
    else:
        with pytest.raises(errors.BadFrame):
            frames.decode(wire)


def test_reader_resynchronises_after_noise():
    chunk = frames.split(b"hello world", 64)[0]
    wire = frames.encode(chunk)
    reader = frames.FrameReader()
    stream = b"\r\nNO CARRIER\r\n" + wire + os.urandom(2000).replace(b"\x00", b"") + b"\x00" + wire
    got = []
    for i in range(0, len(stream), 7):
        got += reader.feed(stream[i : i + 7])
    decoded = []
    for w in got:
        with contextlib.suppress(errors.Rejected):
            decoded.append(frames.decode(w))
    assert decoded == [chunk] and reader.dropped == 1
    assert got[0].startswith(b"\r\nNO CARRIER")


def test_impairments_are_seeded_and_near_their_rates():
    def run(seed: int) -> tuple[bytes, dict]:
        line = Direction(PROFILES["hostile"], random.Random(seed))
        for i in range(4000):
            line.push(bytes([1 + i % 200]) * 99 + b"\x00", now=0.0)
        return line.due(10.0) + line.flush(), line.stats

    first, stats = run(3)
    assert run(3)[0] == first and run(4)[0] != first
    assert 0.27 < stats["lost"] / stats["frames"] < 0.33
    assert 0.03 < stats["duplicated"] / stats["frames"] < 0.07
    expected_flips = (stats["frames"] - stats["lost"]) * 100 * 1e-4  # per byte, of survivors
    assert 0.5 * expected_flips < stats["flipped"] < 1.6 * expected_flips


def test_rate_limit_paces_delivery():
    line = Direction(Profile("paced", rate=9600), random.Random(0))
    line.push(b"x" * 959 + b"\x00", now=0.0)
    assert line.due(0.9) == b"" and len(line.due(1.01)) == 960


def test_unknown_profile_lists_the_names():
    with pytest.raises(ConfigError, match="clean, rural-9600, hostile"):
        profile("lunar")
