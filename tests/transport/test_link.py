"""End to end: device link -> modem emulator (pty, pyserial) -> gateway -> sink."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.transport.conftest import ELECTION, dec_results
from transport import errors, intake
from transport.crypto import VerifyKey
from transport.gateway import Gateway, MemorySink
from transport.impair import PROFILES, Profile
from transport.keys import KeyStore
from transport.link import Link, Outgoing, RetryPolicy, transmit
from transport.modem import ModemEmulator
from transport.packet import MessageType, read_reply

GUARD = 0.05
FAST = RetryPolicy(
    first_timeout=0.05,
    max_timeout=0.25,
    redial_delay=0.02,
    max_redial_delay=0.2,
    guard_time=GUARD,
    dial_timeout=5,
    deadline=120,
)


@contextlib.contextmanager
def channel(store, profile: Profile, seed: int = 0, sink=None, number: str | None = "5551234"):
    """Gateway, modem and device link wired together; yields (link, sink, gateway, modem)."""
    sink = sink if sink is not None else MemorySink()
    gateway = Gateway(
        store.registry(), intake.MemoryReplayState(), store.server_keys(), ELECTION, sink
    )
    gateway.start()
    modem = ModemEmulator(gateway.address, profile, seed=seed, guard_time=GUARD)
    link = Link(modem.start(), store.server_public(), number=number, policy=FAST, seed=seed)
    try:
        yield link, sink, gateway, modem
    finally:
        link.close()
        modem.stop()
        gateway.stop()


def night(dec: int, first_seq: int = 1) -> list[Outgoing]:
    """What a unit sends on election night: zero report, results, audit-log head."""
    return [
        Outgoing(MessageType.ZERO_REPORT, first_seq, 1_638_075_600, {"dec": dec, "zero": True}),
        Outgoing(MessageType.RESULTS, first_seq + 1, 1_638_118_800, dec_results(dec)),
        Outgoing(MessageType.AUDIT_HEAD, first_seq + 2, 1_638_118_801, {"head": "ab" * 32}),
    ]


def send(store, link: Link, items: list[Outgoing], unit: str = "PCOS-0001", dec: int = 1001):
    return list(transmit(link, store.unit_key(unit), store.server_public(), ELECTION, dec, items))


def assert_exactly_once(sink: MemorySink, items: list[Outgoing], unit: str = "PCOS-0001"):
    assert dict(sink.calls) == {(unit, item.seq): 1 for item in items}
    for item in items:
        assert sink.packets[(unit, item.seq)].payload == item.payload


def test_clean_line_delivers_with_signed_receipts(store):
    items = night(1001)
    with channel(store, PROFILES["clean"]) as (link, sink, gateway, _):
        receipts = send(store, link, items)
    assert_exactly_once(sink, items)
    assert [r.seq for r in receipts] == [1, 2, 3]
    server_key = VerifyKey(store.server_public().sign)
    for receipt in receipts:
        assert read_reply(receipt.ack, server_key).header.type is MessageType.ACK
    assert gateway.stats["accepted"] == 3


def test_direct_socket_url_without_a_modem(store):
    items = night(1002)
    sink = MemorySink()
    replay = intake.MemoryReplayState()
    with Gateway(store.registry(), replay, store.server_keys(), ELECTION, sink) as gateway:
        host, port = gateway.address
        with Link(f"socket://{host}:{port}", store.server_public(), policy=FAST) as link:
            send(store, link, items)
    assert_exactly_once(sink, items)


@settings(max_examples=3, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_hostile_line_delivers_every_result_exactly_once(store, seed):
    items = night(1003) + night(1003, first_seq=4)[1:2]
    with channel(store, PROFILES["hostile"], seed=seed) as (link, sink, _, modem):
        send(store, link, items)
    assert_exactly_once(sink, items)
    assert modem.stats["connects"] >= 1


def test_transfer_resumes_after_a_carrier_drop(store):
    """Each call carries less than the packet, so only resuming can deliver it."""
    profile = replace(PROFILES["clean"], drop_after=(2_500, 2_500))
    item = night(1004)[1]
    with channel(store, profile) as (link, sink, _, modem):
        send(store, link, [item])
    packet = sink.packets[("PCOS-0001", 2)].packet
    assert len(packet) > 2 * 2_500  # no single call could carry it
    assert modem.stats["carrier_drops"] >= 2
    assert link.stats["bytes_sent"] < 3 * len(packet)


def test_store_failure_is_retried_and_stored_once(store):
    class FlakySink(MemorySink):
        failures = 1

        def __call__(self, packet):
            if self.failures:
                self.failures -= 1
                raise OSError("disk full")
            super().__call__(packet)

    items = night(1005)[:1]
    with channel(store, PROFILES["clean"], sink=FlakySink()) as (link, sink, gateway, _):
        send(store, link, items)
    assert gateway.stats["store-failed"] == 1
    assert_exactly_once(sink, items)


def test_resent_after_restart_gets_the_same_ack(store):
    """A device that lost its journal's receipts sends again: same ACK, stored once."""
    items = night(1006)
    with channel(store, PROFILES["clean"]) as (link, sink, _, _):
        first = send(store, link, items)
        again = send(store, link, items)  # re-sealed: new nonces, same content
    assert [r.ack for r in again] == [r.ack for r in first]
    assert_exactly_once(sink, items)


def test_revoked_unit_is_refused_not_retried(store):
    with (
        channel(store, PROFILES["clean"]) as (link, sink, _, _),
        pytest.raises(errors.DeliveryRefused) as caught,
    ):
        send(store, link, night(1007)[:1], unit="PCOS-REVOKED")
    assert caught.value.reason == "revoked-unit" and caught.value.wire == 33
    assert not sink.packets


def test_unreachable_gateway_fails_after_the_deadline(store):
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()[:2]
    listener.close()
    modem = ModemEmulator(address, PROFILES["clean"], guard_time=GUARD)
    policy = replace(FAST, deadline=0.5)
    link = Link(modem.start(), store.server_public(), number="5551234", policy=policy)
    try:
        with pytest.raises(errors.DeliveryFailed):
            send(store, link, night(1008)[:1])
    finally:
        link.close()
        modem.stop()
    assert link.stats["dial_failures"] >= 1


@pytest.mark.slow
def test_thousand_dec_results_over_the_hostile_line(store, tmp_path):
    """1,000 DECs' results through ten hostile modems calling in at once: 1,000 of 1,000
    stored, each exactly once."""
    keys = KeyStore(tmp_path / "keys")
    units = [f"PCOS-{n:04d}" for n in range(1, 1001)]
    keys.provision(units, seed=11)
    server = keys.server_public()
    sink = MemorySink()
    gateway = Gateway(
        keys.registry(), intake.MemoryReplayState(), keys.server_keys(), ELECTION, sink
    )
    gateway.start()
    failures: list[BaseException] = []

    def unit_bank(line: int) -> None:
        modem = ModemEmulator(gateway.address, PROFILES["hostile"], seed=line, guard_time=GUARD)
        try:
            with Link(modem.start(), server, number="5551234", policy=FAST, seed=line) as link:
                for dec in range(line + 1, 1001, LINES):
                    item = Outgoing(MessageType.RESULTS, 1, 1_638_118_800, dec_results(dec))
                    key = keys.unit_key(units[dec - 1])
                    list(transmit(link, key, server, ELECTION, dec, [item]))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            modem.stop()

    threads = [threading.Thread(target=unit_bank, args=(line,)) for line in range(LINES)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gateway.stop()
    assert failures == []
    assert len(sink.packets) == 1000 and set(sink.calls.values()) == {1}
    for (unit, _), packet in sink.packets.items():
        assert packet.payload == dec_results(int(unit.removeprefix("PCOS-")))


LINES = 10
