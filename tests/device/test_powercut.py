"""Power cut at every write point, with torn writes at every byte offset.

One session runs on a :class:`SimStorage` that notes, before each write point, how
long each file is (durable and written) and how many ballots the unit had reported
accepted.  Because the files only grow during a session, the memory after a cut at
point k is each file's durable prefix plus any prefix of its unsynced bytes.  For every
point and every byte offset of the unsynced journal bytes the unit restarts and must
count exactly the ballots it had reported accepted -- plus the one ballot whose record
was complete on disk when the power failed, which the unit reports at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from device import journal
from device.auditlog import last_entry
from device.counters import Counters
from device.machine import AUDIT, JOURNAL, UnitConfig
from device.session import feed, run
from device.states import RESUMABLE, State
from device.storage import SimStorage, WritePoint
from tests.device.helpers import CONFIG, election, restart, sheets, unit


@dataclass(frozen=True)
class Point:
    write: WritePoint
    lengths: dict[str, tuple[int, int]]
    reported: int


def trace(n: int, config: UnitConfig) -> tuple[dict[str, bytes], list[Point], list[dict]]:
    """Run a session of ``n`` ballots; the final files, the write points and the ballot
    records in journal order."""
    points: list[Point] = []
    box: list = []

    def observe(write: WritePoint) -> None:
        lengths = {
            name: (len(f.durable), len(f.durable) + len(f.pending))
            for name, f in storage.files.items()
        }
        points.append(Point(write, lengths, box[0].counters.accepted if box else 0))

    storage = SimStorage(observer=observe)
    box.append(unit(storage, config))
    run(box[0], sheets(n) + sheets(3, "SMD-20"))
    final = {name: storage.read(name) for name in storage.files}
    records = [r for r in journal.scan(final[JOURNAL]).records if r["t"] == "ballot"]
    return final, points, records


def prefix_tallies(records: list[dict]) -> list[dict]:
    """Tallies after the first m ballots, for every m."""
    counters = Counters(election(), CONFIG.contests)
    out = [_json(counters)]
    for record in records:
        counters.add(record)
        out.append(_json(counters))
    return out


def _json(counters: Counters) -> dict:
    return {c: t.to_json() for c, t in counters.tallies().items()}


def crash_image(final: dict[str, bytes], point: Point, keep: dict[str, int]) -> SimStorage:
    files = {}
    for name, (durable, total) in point.lengths.items():
        files[name] = final[name][: durable + min(keep.get(name, total - durable), total - durable)]
    return SimStorage(files)


def ballots_in(data: bytes) -> int:
    return sum(r["t"] == "ballot" for r in journal.scan(data).records)


def check_cuts(n: int, config: UnitConfig, chunk: int = 0, chunks: int = 1, step: int = 1) -> int:
    """Restart after a cut at every write point (every ``chunks``-th, from ``chunk``),
    keeping every ``step``-th byte offset of the unsynced journal bytes."""
    final, points, records = trace(n, config)
    tallies = prefix_tallies(records)
    restarts = 0
    for point in points[chunk::chunks]:
        durable, total = point.lengths.get(JOURNAL, (0, 0))
        pending = final[JOURNAL][durable:total]
        audit_durable, audit_total = point.lengths.get(AUDIT, (0, 0))
        audit_pending = audit_total - audit_durable
        on_disk = ballots_in(final[JOURNAL][:durable])
        offsets = {*range(0, len(pending) + 1, step), len(pending)}
        keeps = [{JOURNAL: x} for x in sorted(offsets)]
        keeps += [{JOURNAL: len(pending), AUDIT: x} for x in {0, audit_pending // 2}]
        for keep in keeps:
            memory = crash_image(final, point, keep)
            again = restart(memory, config)
            restarts += 1
            where = f"cut before write {point.write}, keep {keep}"
            assert again.self_test.ok, f"{where}: {again.self_test.failures()}"
            assert again.state in RESUMABLE, where
            written = ballots_in(final[JOURNAL][: durable + keep[JOURNAL]]) - on_disk
            got = again.counters.accepted
            if config.group == 1:
                # fsync mode: exactly what was reported, plus the record in flight if
                # it reached the disk whole.
                assert written <= 1, where
                assert got == point.reported + written, where
            else:
                # Group commit: nothing durable lost; what was reported but not yet
                # synced may be lost, never counted twice.
                assert on_disk <= got <= point.reported + 1, where
            if got > point.reported:  # the ballot in flight: reported at start-up
                note = last_entry(memory.read(AUDIT), "recovered_ballots")
                assert note and note["data"]["to"] == got, where
            assert _json(again.counters) == tallies[got], where
        if point.write.number % 97 == 0 and again.state is State.POLLS_OPEN:
            for sheet in sheets(3, seed=1):
                feed(again, sheet)
            third = restart(memory, config)
            assert third.counters.accepted == got + 3, where
    return restarts


def test_power_cut_at_every_write_point_and_every_torn_offset() -> None:
    assert check_cuts(40, CONFIG) > 4000


def test_power_cut_in_group_commit_mode_loses_only_unsynced_ballots() -> None:
    group = UnitConfig(CONFIG.unit, CONFIG.dec, CONFIG.contests, group=6)
    assert check_cuts(24, group, step=5) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(8))
def test_power_cut_during_a_500_ballot_session(chunk: int) -> None:
    assert check_cuts(500, CONFIG, chunk, 8) > 0
