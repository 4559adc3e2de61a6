"""`pcos device transmit`: a unit's reports reach a gateway through a modem, once."""

from __future__ import annotations

import json

from election import definition
from fixtures import scenario
from pcos.cli import main
from transport import intake
from transport.gateway import Gateway, MemorySink
from transport.impair import PROFILES
from transport.keys import KeyStore
from transport.modem import ModemEmulator
from transport.packet import MessageType


def test_run_then_transmit_through_a_modem(tmp_path, capsys):
    election = scenario.build("kg2021", "tiny", seed=0)
    path = definition.save(election, tmp_path / "kg.json")
    keys, unit_dir = tmp_path / "keys", tmp_path / "unit"
    assert main(["keys", "provision", "--dir", str(keys), "PCOS-2001-1"]) == 0
    run = ["device", "run", "--election", str(path), "--dec", "2001", "--unit", "PCOS-2001-1"]
    run += ["--unit-dir", str(unit_dir), "--generate", "25", "--keys", str(keys), "--quiet"]
    assert main(run) == 0

    store, sink = KeyStore(keys), MemorySink()
    gateway = Gateway(
        store.registry(),
        intake.MemoryReplayState(),
        store.server_keys(),
        definition.fingerprint(election),
        sink,
    )
    gateway.start()
    modem = ModemEmulator(gateway.address, PROFILES["clean"], guard_time=0.05)
    try:
        send = ["device", "transmit", "--election", str(path), "--unit-dir", str(unit_dir)]
        send += ["--port", modem.start(), "--number", "112", "--dir", str(keys), "--json"]
        capsys.readouterr()
        assert main(send) == 0
        first = json.loads(capsys.readouterr().out)
        assert main(send) == 0  # a retransmission is answered, not counted again
    finally:
        modem.stop()
        gateway.stop()

    assert [a["seq"] for a in first["acknowledged"]] == [1, 2, 3]
    assert set(sink.calls.values()) == {1}, "stored exactly once despite the retransmission"
    packets = [sink.packets[key] for key in sorted(sink.packets)]
    kinds = [p.header.type for p in packets]
    assert kinds == [MessageType.ZERO_REPORT, MessageType.RESULTS, MessageType.AUDIT_HEAD]
    results = packets[1].payload
    assert results["dec"] == 2001
    assert (
        sum(sum(c["votes"].values()) + c["blank"] + c["overvote"] for c in results["contests"])
        == 25
    )
