"""The AT dialogue of the modem emulator, spoken through pyserial on its pty."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest
import serial

from transport.dialer import Dialer
from transport.errors import ConfigError, ModemError
from transport.impair import PROFILES, Profile
from transport.modem import ModemEmulator

GUARD = 0.05


@pytest.fixture
def echo_server():
    """A loopback TCP peer that echoes what it receives."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[:2]
    stop.set()
    thread.join(2)
    server.close()


def open_modem(address, profile: Profile = PROFILES["clean"], seed: int = 0):
    modem = ModemEmulator(address, profile, seed=seed, guard_time=GUARD)
    port = serial.serial_for_url(modem.start(), baudrate=9600, timeout=0.1)
    return modem, port, Dialer(port, "5551234", guard_time=GUARD, dial_timeout=5)


def read_until(port: serial.SerialBase, token: bytes, timeout: float = 2.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while token not in out and time.monotonic() < deadline:
        out += port.read(port.in_waiting or 1)
    return out


def test_basic_commands_and_echo(echo_server):
    modem, port, dialer = open_modem(echo_server)
    try:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"  # echo is on after reset
        assert dialer.command("ATE0", 2) == "OK"
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"\r\nOK\r\n"
        assert dialer.command("ATQ0V1", 2) == "OK"
        assert dialer.command("ATFOO", 2) == "ERROR"
        assert dialer.command("HELLO", 2) == "ERROR"
        assert dialer.command("ATD", 2) == "ERROR"
        assert dialer.command("ATO", 2) == "NO CARRIER"  # nothing to return to
    finally:
        port.close()
        modem.stop()


def test_dial_bridges_to_the_gateway_then_escape_resume_and_hang_up(echo_server):
    modem, port, dialer = open_modem(echo_server)
    try:
        assert dialer.dial() == 115200
        port.write(b"hello\x00")
        assert read_until(port, b"\x00") == b"hello\x00"
        dialer.hangup()  # +++ between guard times, then ATH
        assert modem.stats["connects"] == 1
        assert dialer.dial() == 115200  # a second call works
        time.sleep(GUARD * 2)
        port.write(b"+++")
        time.sleep(GUARD * 2)
        assert read_until(port, b"OK\r\n").endswith(b"OK\r\n")
        assert dialer.command("ATO", 2) == "CONNECT 115200"
        port.write(b"again\x00")
        assert read_until(port, b"\x00") == b"again\x00"
    finally:
        port.close()
        modem.stop()


def test_plus_signs_inside_data_are_data(echo_server):
    modem, port, dialer = open_modem(echo_server)
    try:
        dialer.dial()
        port.write(b"a+++b\x00")
        assert read_until(port, b"\x00") == b"a+++b\x00"
    finally:
        port.close()
        modem.stop()


@pytest.mark.parametrize(
    ("field", "result"),
    [("busy", "BUSY"), ("no_answer", "NO CARRIER"), ("no_dialtone", "NO DIALTONE")],
)
def test_refused_calls(echo_server, field, result):
    modem, port, dialer = open_modem(echo_server, replace(PROFILES["clean"], **{field: 1.0}))
    try:
        with pytest.raises(ModemError) as caught:
            dialer.dial()
        assert caught.value.result == result
    finally:
        port.close()
        modem.stop()


def test_carrier_drop_after_budget_says_no_carrier(echo_server):
    profile = replace(PROFILES["clean"], drop_after=(100, 100))
    modem, port, dialer = open_modem(echo_server, profile)
    try:
        dialer.dial()
        port.write(b"x" * 40 + b"\x00")  # 41 up + 41 echoed down: within budget
        read_until(port, b"\x00")
        port.write(b"y" * 40 + b"\x00")
        assert b"NO CARRIER" in read_until(port, b"NO CARRIER")
        assert modem.stats["carrier_drops"] == 1
    finally:
        port.close()
        modem.stop()


def test_gateway_that_does_not_answer_gives_no_carrier():
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()[:2]
    listener.close()  # nothing listens there now
    modem, port, dialer = open_modem(address)
    try:
        with pytest.raises(ModemError, match="NO CARRIER"):
            dialer.dial()
    finally:
        port.close()
        modem.stop()


def test_only_loopback_gateways():
    with pytest.raises(ConfigError, match="loopback"):
        ModemEmulator(("192.0.2.1", 9), PROFILES["clean"])
