"""The store suite, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import pytest

from server_stub.errors import StoreError
from server_stub.store import DuplicateReport, StoredProtocol, StoredReport

ELECTION = "ab" * 32


def report(unit: str = "PCOS-1", seq: int = 1, nonce: bytes = b"n" * 12) -> StoredReport:
    return StoredReport(
        unit=unit, seq=seq, type=2, dec=2001, unit_ts=1_638_108_600, received_at=1.5,
        nonce=nonce, digest=bytes(range(32)), ack=b"\x83ack\x00", packet=b"\x83\x00" * 10,
        payload=b"\xa1\x63dec\x19\x07\xd1",
    )  # fmt: skip


def test_migrate_is_idempotent_and_binds_one_election(make_store):
    store = make_store()
    store.migrate(ELECTION)
    store.migrate(ELECTION)
    assert store.meta("schema") == "1"
    assert store.meta("election") == ELECTION
    with pytest.raises(StoreError, match="holds election"):
        make_store().migrate("cd" * 32)


def test_a_newer_schema_is_refused(make_store):
    store = make_store()
    store.migrate(ELECTION)
    with store._write() as cur:
        store._put_meta(cur, "schema", "99")
    with pytest.raises(StoreError, match="newer"):
        make_store().migrate(ELECTION)


def test_reports_round_trip_byte_for_byte(make_store):
    store = make_store()
    store.migrate(ELECTION)
    first, second = report(), report("PCOS-2", 5, b"m" * 12)
    ids = store.add_reports([first, second])
    again = make_store()  # a restart reads what the first connection committed
    stored = again.reports()
    assert [r.id for r in stored] == ids
    assert [(r.unit, r.seq, r.nonce, r.digest, r.ack, r.packet, r.payload) for r in stored] == [
        (r.unit, r.seq, r.nonce, r.digest, r.ack, r.packet, r.payload) for r in (first, second)
    ]
    assert again.reports(dec=2001) == stored and again.reports(dec=1) == []


def test_a_group_commit_keeps_its_order_and_ids(make_store):
    """A batch the size of a large group commit, units in descending order and several
    seqs per unit: the ids come back in the batch's order and name the right rows."""
    store = make_store()
    store.migrate(ELECTION)
    batch = [report(f"PCOS-{999 - i // 3}", 1 + i % 3, i.to_bytes(12, "big")) for i in range(300)]
    ids = store.add_reports(batch)
    assert len(set(ids)) == len(batch) and ids == sorted(ids)
    stored = make_store().reports()
    assert [(r.id, r.unit, r.seq, r.nonce) for r in stored] == [
        (i, r.unit, r.seq, r.nonce) for i, r in zip(ids, batch, strict=True)
    ]


@pytest.mark.parametrize("clash", ["seq", "nonce"])
@pytest.mark.parametrize("earlier", ["stored", "in the batch"])
def test_a_duplicate_refuses_the_whole_batch(make_store, clash, earlier):
    store = make_store()
    store.migrate(ELECTION)
    first = [report()] if earlier == "stored" else []
    store.add_reports(first)
    dup = report(seq=2) if clash == "nonce" else report(nonce=b"x" * 12)
    batch = [report("PCOS-9", 1, b"z" * 12), *([] if first else [report()]), dup]
    with pytest.raises(DuplicateReport):
        store.add_reports(batch)
    assert store.report_count() == len(first)


def test_protocols_round_trip(make_store):
    store = make_store()
    store.migrate(ELECTION)
    p = StoredProtocol(2001, "PR", "TEC-20", 2.0, {"dec": 2001, "votes": {"P01": 3}}, "a.png",
                       "image/png", "00" * 32)  # fmt: skip
    new_id = store.add_protocol(p)
    (back,) = make_store().protocols()
    assert back.id == new_id and back.data == p.data and back.image_name == "a.png"


def test_service_on_either_store_totals_equal_the_truth(make_store, make_service, night, truth):
    service = make_service(make_store())
    outcomes = service.intake.ingest(night)
    assert {o.status for o in outcomes} == {"accepted"}
    service.publisher.refresh()
    national = service.national()
    assert national["participants"] == truth.participants
    pr = {o["id"]: o["votes"] for o in national["contests"][0]["options"]}
    assert pr == dict(truth.total("PR").votes)
    # restart on the same database: the replay memory answers duplicates with the same ACK
    again = make_service(make_store())
    replayed = again.intake.ingest(night[:3])
    assert [o.status for o in replayed] == ["duplicate"] * 3
    assert [o.reply for o in replayed] == [o.reply for o in outcomes[:3]]
    assert again.store.report_count() == len(night)
