"""Election night at national scale: 5,000 units transmit through the gateway in 60 s,
none lost and none duplicated.  Slow (sealing the packets alone takes a while)."""

from __future__ import annotations

import argparse
import time

import pytest

from fixtures import scenario, votes
from server_stub import auth, server
from tests.server_stub.pcos_sim import Fleet, provision, transmit, unit_tallies
from transport.packet import MessageType

UNITS = 5000


@pytest.mark.slow
def test_5000_units_within_60_seconds(tmp_path):
    election = scenario.build("kg2021", "national", 0)
    truth = votes.generate(election, 0)
    reserve = [f"PCOS-R{k:04d}" for k in range(UNITS - sum(d.units for d in election.decs))]
    keys = provision(tmp_path / "keys", election)
    keys.provision(reserve, seed=1)
    fleet = Fleet(election, keys)
    by_unit: dict[str, list[bytes]] = {}
    for dec in election.decs:
        record = truth.decs[dec.number]
        for unit, tallies in zip(
            fleet.units[dec.number], unit_tallies(election, record), strict=False
        ):
            payload = fleet.results_payload(record, tallies)
            by_unit[unit] = [
                fleet.packet(unit, dec.number, MessageType.RESULTS, 2, payload, 1_638_108_600)
            ]
    first = election.decs[0].number
    for unit in reserve:  # reserve units at their territorial commissions: a heartbeat
        by_unit[unit] = [fleet.packet(unit, first, MessageType.HEARTBEAT, 1, {}, 1_638_108_600)]
    assert len(by_unit) == UNITS
    auth.issue(election, tmp_path / "tokens.json")
    args = argparse.Namespace(
        db=str(tmp_path / "results.db"),
        keys=str(keys.root),
        host="127.0.0.1",
        port=0,
        gateway_port=0,
        tokens=str(tmp_path / "tokens.json"),
        uploads=str(tmp_path / "up"),
        roll_margin=0,
        refresh=1.0,
    )
    running = server.start(server.build(election, args), args)
    try:
        t0 = time.monotonic()
        replies = transmit(running.gateway.address, fleet.server.sign, by_unit, workers=16)
        elapsed = time.monotonic() - t0
        stored = running.service.store.reports()
        running.service.publisher.refresh()
        national = running.service.national()
    finally:
        running.stop()
    assert elapsed < 60, f"{UNITS} units took {elapsed:.1f} s"
    assert len(replies) == UNITS and all(r.header.type is MessageType.ACK for r in replies.values())
    assert len(stored) == UNITS == len({(r.unit, r.seq) for r in stored})
    assert national["progress"]["decs_published"] == len(election.decs)
    assert national["participants"] == truth.participants
