"""`pcos keys ...` and `pcos modem`, through the command group's own parser."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
import serial

from election.errors import PcosLabError
from pcos.commands import transport_cmds
from transport import intake
from transport.dialer import Dialer
from transport.gateway import Gateway, MemorySink
from transport.keys import KeyStore
from transport.link import Outgoing
from transport.packet import MessageType


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pcos")
    transport_cmds.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except PcosLabError as exc:
        print(f"pcos: error: {exc}", file=sys.stderr)
        return 2


def test_keys_provision_list_revoke(tmp_path, capsys):
    keys = str(tmp_path / "keys")
    assert run(["keys", "provision", "--dir", keys, "--count", "3", "EXTRA-1", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)["created"]
    assert created == ["EXTRA-1", "PCOS-0001", "PCOS-0002", "PCOS-0003"]
    assert run(["keys", "revoke", "--dir", keys, "PCOS-0002", "--reason", "lost"]) == 0
    capsys.readouterr()
    assert run(["keys", "list", "--dir", keys]) == 0
    out = capsys.readouterr().out
    assert "PCOS-0002" in out and "revoked" in out and out.count("active") == 3


def test_keys_errors_are_one_line(tmp_path, capsys):
    keys = str(tmp_path / "keys")
    assert run(["keys", "provision", "--dir", keys]) == 2
    assert run(["keys", "revoke", "--dir", keys, "X", "--reason", "r"]) == 2
    assert run(["keys", "provision", "--dir", keys, "A-1"]) == 0
    assert run(["keys", "provision", "--dir", keys, "A-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("pcos: error: ") for line in err)


def test_modem_command_prints_its_pty_and_answers_at():
    code = (
        "import sys; from tests.transport.test_cli import run; sys.exit(run(['modem', "
        "'--gateway', '127.0.0.1:9', '--seconds', '1.5', '--guard', '0.05']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("modem clean on /dev/")
        path = line.split(" on ")[1].split(" -> ")[0]
        with serial.serial_for_url(path, timeout=0.1) as port:
            assert Dialer(port, "1").command("AT", 2) == "OK"
    finally:
        proc.wait(10)
    assert proc.returncode == 0 and "modem stopped" in proc.stderr.read()


def test_modem_refuses_other_hosts(capsys):
    assert run(["modem", "--gateway", "192.0.2.7:9", "--seconds", "0"]) == 2
    assert "loopback" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(["modem", "--gateway", "nonsense"])


def test_transmit_for_the_device_cli(tmp_path):
    keys = tmp_path / "keys"
    assert run(["keys", "provision", "--dir", str(keys), "PCOS-0001"]) == 0
    store = KeyStore(keys)
    sink = MemorySink()
    election = "ab" * 32
    replay = intake.MemoryReplayState()
    with Gateway(store.registry(), replay, store.server_keys(), election, sink) as gateway:
        parser = argparse.ArgumentParser()
        transport_cmds.add_link_arguments(parser)
        host, port = gateway.address
        args = parser.parse_args(["--port", f"socket://{host}:{port}", "--dir", str(keys)])
        outbox = [
            Outgoing(MessageType.HEARTBEAT, 1, 100, {}),
            Outgoing(MessageType.RESULTS, 2, 101, {"v": 1}),
        ]
        receipts = list(transport_cmds.transmit(args, "PCOS-0001", election, 12, outbox))
    assert [r.seq for r in receipts] == [1, 2]
    assert sink.packets[("PCOS-0001", 2)].payload == {"v": 1}
