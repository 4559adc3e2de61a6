"""The gateway's group commit and line workers.

Packets arriving while a group is being stored are stored together with one commit, and
none of them is answered before that commit returns; a failing store (or replay record)
earns transient NACKs and leaves nothing remembered; line workers give the same answers
as the one-process gateway, are replaced when they die, and answer ``store-failed``
when their server process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import socket
import threading
import time
from collections.abc import Sequence

import pytest

from tests.transport.conftest import ELECTION
from transport import frames, intake, line_workers
from transport.crypto import VerifyKey
from transport.errors import Malformed
from transport.gateway import Gateway, MemorySink, Switchboard
from transport.intake import Accepted, MemoryReplayState, Staged
from transport.keys import KeyStore
from transport.line_workers import SEND_BUFFER, UNSENT_MAX, LineWorkers
from transport.packet import Header, MessageType, Reply, read_reply, seal


def deliver(gateway: Gateway, packet: bytes) -> list[bytes]:
    """Feed a packet's frames to the gateway; returns the reply frames to the poll."""
    replies: list[bytes] = []
    for chunk in frames.split(packet):
        replies = gateway.receive(frames.encode(chunk))
    return replies


def reply_of(store, wires: list[bytes]) -> Reply:
    reassembler = frames.Reassembler()
    for wire in wires:
        frame = frames.decode(wire)
        assert isinstance(frame, frames.Chunk)
        packet = reassembler.add(frame)
    assert packet is not None
    return read_reply(packet, VerifyKey(store.server_public().sign))


class GatedStore:
    """A BatchStore whose first commit waits for :attr:`release`; remembers every batch."""

    def __init__(self) -> None:
        self.replay = MemoryReplayState()
        self.batches: list[list[tuple[str, int]]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail: Exception | None = None

    def accepted(self, unit: str, seq: int) -> Accepted | None:
        return self.replay.accepted(unit, seq)

    def highest_seq(self, unit: str) -> int:
        return self.replay.highest_seq(unit)

    def nonce_used(self, unit: str, nonce: bytes) -> bool:
        return self.replay.nonce_used(unit, nonce)

    def commit(self, batch: Sequence[Staged]) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        self.batches.append([(p.unit, p.seq) for p, _ in batch])
        for packet, accepted in batch:
            assert packet.header.nonce is not None
            self.replay.record(packet.unit, packet.seq, packet.header.nonce, accepted)


def gateway_on(store, sink, replay=None, **options) -> Gateway:
    replay = sink if replay is None else replay
    return Gateway(store.registry(), replay, store.server_keys(), ELECTION, sink, **options)


def send_in_threads(gateway: Gateway, packets: list[bytes]) -> tuple[list, list[threading.Thread]]:
    answers: list = [None] * len(packets)

    def send(i: int) -> None:
        answers[i] = deliver(gateway, packets[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(packets))]
    for t in threads:
        t.start()
    return answers, threads


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    keys = KeyStore(tmp_path_factory.mktemp("many"))
    keys.provision([f"PCOS-{n:04d}" for n in range(11)], seed=3)
    return keys


def sealed(keys: KeyStore, unit: str, seq: int = 1) -> bytes:
    header = Header(MessageType.RESULTS, unit, ELECTION, 1001, seq, 1_638_129_600)
    return seal(header, {"votes": {"P01": seq}}, keys.unit_key(unit).sign, keys.server_public().kex)


def test_packets_waiting_for_a_commit_are_stored_together_and_answered_after_it(many):
    sink = GatedStore()
    gateway = gateway_on(many, sink)
    first, threads = send_in_threads(gateway, [sealed(many, "PCOS-0000")])
    assert sink.entered.wait(10)  # the first packet's commit is in progress
    others = [sealed(many, f"PCOS-{n:04d}") for n in range(1, 11)]
    answers, more = send_in_threads(gateway, others)
    while len(gateway._settler._group._waiting) < len(others):  # all queued behind the commit
        threading.Event().wait(0.01)
    assert first == [None] and answers == [None] * len(others)  # nobody answered yet
    sink.release.set()
    for t in threads + more:
        t.join(10)
    assert sink.batches[0] == [("PCOS-0000", 1)]
    assert sorted(sink.batches[1]) == [(f"PCOS-{n:04d}", 1) for n in range(1, 11)]
    assert len(sink.batches) == 2
    for wires in first + answers:
        assert reply_of(many, wires).header.type is MessageType.ACK
    assert gateway.groups == {1: 1, 10: 1}
    assert gateway.stats["accepted"] == 11


def test_a_failed_commit_earns_transient_nacks_and_remembers_nothing(store, make_packet):
    sink = GatedStore()
    sink.release.set()
    sink.fail = OSError("disk full")
    gateway = gateway_on(store, sink)
    reply = reply_of(store, deliver(gateway, make_packet(1)))
    assert reply.header.type is MessageType.NACK and reply.body["name"] == "store-failed"
    assert sink.replay.snapshot() == MemoryReplayState().snapshot()
    assert gateway.stats["store-failed"] == 1
    sink.fail = None
    packet = make_packet(1)
    assert reply_of(store, deliver(gateway, packet)).header.type is MessageType.ACK
    assert sink.batches == [[("PCOS-0001", 1)]]


def test_a_failing_replay_record_earns_a_transient_nack_not_a_dead_thread(store, make_packet):
    class BrokenReplay(MemoryReplayState):
        def record(self, unit: str, seq: int, nonce: bytes, accepted: Accepted) -> None:
            raise OSError("replay journal unwritable")

    sink = MemorySink()
    with (
        gateway_on(store, sink, BrokenReplay()) as gateway,
        socket.create_connection(gateway.address, timeout=10) as conn,
    ):
        for chunk in frames.split(make_packet(1)):
            conn.sendall(frames.encode(chunk))
        reader, wires = frames.FrameReader(), []
        while not wires:
            wires = reader.feed(conn.recv(4096))
        nack = reply_of(store, wires)
        assert nack.body["name"] == "store-failed" and nack.body["code"] == 64
        for chunk in frames.split(make_packet(2)):  # the connection still serves
            conn.sendall(frames.encode(chunk))
        wires = []
        while not wires:
            wires = reader.feed(conn.recv(4096))
        assert reply_of(store, wires).body["name"] == "store-failed"
    assert gateway.stats["store-failed"] == 2


def test_a_retransmission_in_the_same_group_is_a_duplicate_with_the_same_ack(store, make_packet):
    staged = intake.Overlay(MemoryReplayState())
    server = store.server_keys()
    registry = store.registry()
    packet = make_packet(1)
    resealed = make_packet(1)  # same content, new nonce: what a unit sends after a timeout
    group = [
        (b"m" * 8, intake.authenticate(p, registry, server=server, election=ELECTION))
        for p in (packet, resealed)
    ]
    committed: list[list[Staged]] = []
    verdicts = intake.settle(
        group, staged, lambda b: committed.append(list(b)), server, ELECTION, 5
    )
    assert [v.status for v in verdicts] == ["accepted", "duplicate"]
    assert verdicts[0].reply == verdicts[1].reply
    assert len(committed) == 1 and len(committed[0]) == 1


def test_verdicts_that_leaned_on_a_failed_group_become_transient(store, make_packet):
    server, registry = store.server_keys(), store.registry()
    group = [
        (
            b"m" * 8,
            intake.authenticate(make_packet(seq), registry, server=server, election=ELECTION),
        )
        for seq in (5, 4, 5)
    ]

    def fail(batch: Sequence[Staged]) -> None:
        raise OSError("disk full")

    verdicts = intake.settle(group, MemoryReplayState(), fail, server, ELECTION, 5)
    assert [v.status for v in verdicts] == ["store-failed"] * 3  # not stale-seq, not seq-reused
    assert all(v.transient for v in verdicts)


def call(address: tuple[str, int], packet: bytes) -> list[bytes]:
    """One modem call over TCP: send the packet's frames, return the reply frames."""
    with socket.create_connection(address, timeout=30) as conn:
        for chunk in frames.split(packet):
            conn.sendall(frames.encode(chunk))
        reader, wires = frames.FrameReader(), []
        while not wires:
            data = conn.recv(4096)
            assert data, "the gateway hung up without answering"
            wires = reader.feed(data)
        return wires


@pytest.fixture(scope="module")
def workers(store):
    sink = MemorySink()
    lines = LineWorkers(
        store.registry(), MemoryReplayState(), store.server_keys(), ELECTION, sink, workers=2
    )
    with lines:
        yield lines, sink


def test_line_workers_accept_and_refuse_like_the_one_process_gateway(workers, store, make_packet):
    lines, sink = workers
    packet = make_packet(1, payload={"votes": {"P01": 3}})
    ack = reply_of(store, call(lines.address, packet))
    assert ack.header.type is MessageType.ACK and (ack.header.unit, ack.header.seq) == (
        "PCOS-0001",
        1,
    )
    assert ack.body["digest"] == sink.packets[("PCOS-0001", 1)].digest
    assert sink.packets[("PCOS-0001", 1)].payload == {"votes": {"P01": 3}}
    again = reply_of(store, call(lines.address, make_packet(1, payload={"votes": {"P01": 3}})))
    assert again.packet == ack.packet  # a resend, whichever worker takes it: the same ACK
    forged = make_packet(2, signer="PCOS-0002")
    assert reply_of(store, call(lines.address, forged)).body["name"] == "bad-signature"
    revoked = make_packet(1, unit="PCOS-REVOKED")
    assert reply_of(store, call(lines.address, revoked)).body["name"] == "revoked-unit"
    assert sink.calls[("PCOS-0001", 1)] == 1
    assert lines.stats["accepted"] == 1 and lines.stats["duplicates"] == 1


def test_a_line_worker_that_dies_is_replaced_and_calls_go_on(workers, store, make_packet):
    lines, _ = workers
    victim = lines.pids[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while victim in lines.pids or len(lines.pids) < 2:
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.05)
    for seq in (10, 11, 12, 13):  # both workers, the new one included, take calls
        reply = reply_of(store, call(lines.address, make_packet(seq)))
        assert reply.header.type is MessageType.ACK
    assert lines.stats["worker-exits"] == 1


def _slow_line(address: tuple[str, int], poll: bytes, polls: int) -> tuple[list[bytes], bool]:
    """A unit on a line with a tiny receive buffer that sends ``polls`` polls of an
    answered packet before it reads anything: (the answers it then reads, whether the
    worker hung up)."""
    with socket.socket() as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
        conn.settimeout(30)
        conn.connect(address)
        reader, wires = frames.FrameReader(), []
        conn.sendall(poll)  # this call's worker answers it, from its cache from now on
        while not wires:
            wires += reader.feed(conn.recv(65536))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(poll * (polls - 1))
        time.sleep(0.5)
        while len(wires) < polls:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                return wires, True
            if not data:
                return wires, True
            wires += reader.feed(data)
        return wires, False


def test_a_line_worker_keeps_the_answers_a_slow_line_cannot_take_yet(workers, store, make_packet):
    """Answers beyond what the socket buffers hold wait in the worker and all arrive,
    intact and in order, once the unit reads."""
    lines, _ = workers
    packet = make_packet(30)
    first = reply_of(store, call(lines.address, packet))
    (poll,) = [frames.encode(c) for c in frames.split(packet)]  # the final chunk polls
    wire = len(frames.encode(frames.split(first.packet)[0]))
    polls = (SEND_BUFFER * 2 + UNSENT_MAX // 2) // wire  # the kernel doubles SO_SNDBUF
    wires, hung_up = _slow_line(lines.address, poll, polls)
    assert not hung_up and len(wires) == polls
    assert all(reply_of(store, [w]).packet == first.packet for w in wires)


def test_a_line_worker_hangs_up_a_line_that_does_not_take_its_answers(workers, store, make_packet):
    lines, _ = workers
    packet = make_packet(31)
    first = reply_of(store, call(lines.address, packet))
    (poll,) = [frames.encode(c) for c in frames.split(packet)]
    polls = 4 * (SEND_BUFFER * 2 + UNSENT_MAX) // len(poll)
    wires, hung_up = _slow_line(lines.address, poll, polls)
    assert hung_up and len(wires) < polls
    assert all(reply_of(store, [w]).packet == first.packet for w in wires)
    assert reply_of(store, call(lines.address, packet)).packet == first.packet  # others go on


def test_line_workers_follow_the_registry_as_the_server_saves_it(tmp_path):
    keys = KeyStore(tmp_path)
    keys.provision(["PCOS-A", "PCOS-B"], seed=5)
    registry = keys.registry()
    late = KeyStore(tmp_path / "late")
    late.provision(["PCOS-LATE"], seed=6)
    sink = MemorySink()
    with LineWorkers(
        registry, MemoryReplayState(), keys.server_keys(), ELECTION, sink, workers=2
    ) as lines:

        def packet(unit: str, signer: KeyStore) -> bytes:
            header = Header(MessageType.RESULTS, unit, ELECTION, 1001, 1, 1_638_129_600)
            return seal(header, {"votes": {}}, signer.unit_key(unit).sign, keys.server_public().kex)

        registry.revoke("PCOS-B", "stolen", now=2)
        registry.save()  # at once, whatever copy a worker still holds
        refused = reply_of(keys, call(lines.address, packet("PCOS-B", keys)))
        assert refused.body["name"] == "revoked-unit"
        registry.add("PCOS-LATE", late.unit_key("PCOS-LATE").sign.public, now=3)
        registry.save()
        deadline = time.monotonic() + 10
        while True:  # the workers' copies follow within moments
            reply = reply_of(keys, call(lines.address, packet("PCOS-LATE", late)))
            if reply.header.type is MessageType.ACK or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert reply.header.type is MessageType.ACK
        assert set(sink.packets) == {("PCOS-LATE", 1)}


def test_a_line_worker_without_its_server_process_answers_store_failed(store, make_packet):
    sink = GatedStore()
    lines = LineWorkers(
        store.registry(), sink, store.server_keys(), ELECTION, sink, workers=1
    ).__enter__()
    try:
        answer: list[list[bytes]] = []
        caller = threading.Thread(target=lambda: answer.append(call(lines.address, make_packet(1))))
        caller.start()
        assert sink.entered.wait(20)  # the packet reached the server process's commit
        lines._stopping.set()  # as if the server process died: its pipes close
        for worker in lines._workers.values():
            assert worker.process.stdin is not None
            worker.process.stdin.close()
        caller.join(20)
        assert reply_of(store, answer[0]).body["name"] == "store-failed"
    finally:
        sink.release.set()
        lines.stop()


def test_a_plain_sink_needs_a_replay_state_that_records(store):
    class ReadOnly:
        def accepted(self, unit, seq):
            return None

        def highest_seq(self, unit):
            return 0

        def nonce_used(self, unit, nonce):
            return False

    with pytest.raises(TypeError):
        gateway_on(store, MemorySink(), ReadOnly())


class _ListenerOutOfDescriptors:
    """A listening socket whose first ``failures`` accepts fail as when the process has
    no file descriptor left (EMFILE); counts every accept."""

    def __init__(self, failures: int):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.failures = failures
        self.accepts = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def accept(self) -> tuple[socket.socket, object]:
        self.accepts += 1
        if self.accepts <= self.failures:
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()

    def close(self) -> None:
        self.sock.close()


def test_a_line_worker_out_of_descriptors_pauses_instead_of_spinning(store):
    board = Switchboard(store.registry(), store.server_keys(), ELECTION, presign=True)
    listener = _ListenerOutOfDescriptors(failures=1)
    down_read, down_write = os.pipe()
    up_read, up_write = os.pipe()
    lines = line_workers._Lines(board, listener, up_write, down_read, idle=60.0)  # type: ignore[arg-type]
    loop = threading.Thread(target=lines.run, daemon=True)
    loop.start()
    try:
        with socket.create_connection(listener.sock.getsockname(), timeout=10):
            time.sleep(0.5)  # within the pause: one failed accept, no retries
            assert listener.accepts == 1 and not lines.calls
            deadline = time.monotonic() + line_workers.ACCEPT_PAUSE + 5
            while board.stats["connections"] < 1:  # after the pause, the call is taken
                assert time.monotonic() < deadline, "the worker never took calls again"
                time.sleep(0.05)
            assert listener.accepts <= 3  # the failure, the call, then "try again"
    finally:
        os.close(down_write)  # the server process is gone: the loop ends
        loop.join(10)
        for fd in (up_read, up_write, down_read):
            os.close(fd)
    assert not loop.is_alive()


def test_packets_of_the_turn_the_server_went_are_answered_once_and_not_sent_up(store):
    """The server process's pipe closes while packets of the same turn of the loop wait
    to go up: each gets one ``store-failed`` answer, and nothing is written to the dead
    pipe (whose failure would end the worker a second time over)."""
    board = Switchboard(store.registry(), store.server_keys(), ELECTION, presign=True)
    down_read, down_write = os.pipe()
    up_read, up_write = os.pipe()
    os.close(up_read)  # the server process is gone: writing up would fail
    unit, line = socket.socketpair()
    lines = line_workers._Lines(
        board, socket.create_server(("127.0.0.1", 0)), up_write, down_read, idle=60.0
    )
    try:
        call = line_workers._Call(line)
        lines.calls[line] = call
        lines.selector.register(line, selectors.EVENT_READ, lines._serve)
        lines._settle(call, b"m" * 8, Malformed("a packet of this turn"))
        lines._server_gone()
        lines._flush()
        unit.settimeout(5)
        reply = reply_of(store, frames.FrameReader().feed(unit.recv(65536)))
        assert reply.body["name"] == "store-failed"
        assert not lines._outbox and not lines._waiting
    finally:
        for fd in (up_write, down_read, down_write):
            os.close(fd)
        unit.close()
        line.close()
