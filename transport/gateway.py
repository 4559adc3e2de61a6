"""The server's end of the line: a loopback TCP listener that turns frames into stored
packets and signed replies.

Each connection (one per modem call) is read in its own thread; frames are decoded and
chunks reassembled under one short lock.  A complete packet is then authenticated
outside that lock (:func:`transport.intake.screen` and :func:`~transport.intake.unseal`),
in the connection's thread or, with ``workers``, in a pool of processes: the crypto holds
the GIL (measured: two threads verify no faster than one), so only processes use a
second core.

The replay check and the store run as a **group commit**: the packets that arrive while
one group is being stored form the next group (at most ``max_batch``; a leader waits up
to ``max_wait`` for packets still being authenticated), are checked in arrival order by
:func:`transport.intake.settle` and stored with one durable commit, and only after that
commit returns does any of them get its ACK.  One fsync then covers many packets.

The sink is either a :class:`BatchStore`, which stores a group with its replay records
in one transaction (the server's intake), or a plain callable taking one packet, paired
with a :class:`~transport.intake.ReplayState` that records it afterwards; a plain sink
has no transaction to share, so each of its groups holds one packet.  A sink that raises
earns transient NACKs and nothing is recorded.  Replies are cached by message id, so a
poll for an answered packet (its ACK was lost on the line) gets the same reply without a
second verification; a poll for a packet still being processed gets no answer yet.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from transport import frames, intake
from transport.crypto import AgreementKey, VerifyKey
from transport.errors import Rejected, StoreFailed
from transport.intake import ReplayState, ReplayView, Staged, Verdict, VerifiedPacket
from transport.keys import Registry, ServerKeys
from transport.packet import parse

Sink = Callable[[VerifiedPacket], None]
Checked = VerifiedPacket | Rejected


@runtime_checkable
class BatchStore(Protocol):
    """A sink that stores many packets at once (see :func:`transport.intake.settle`)."""

    def commit(self, batch: Sequence[Staged]) -> None:
        """Store every packet with its replay record durably, all or nothing, or raise."""
        ...


class MemorySink:
    """Stores verified packets in a dict, counting every call (for exactly-once tests)."""

    def __init__(self) -> None:
        self.packets: dict[tuple[str, int], VerifiedPacket] = {}
        self.calls: Counter[tuple[str, int]] = Counter()

    def __call__(self, packet: VerifiedPacket) -> None:
        key = (packet.unit, packet.seq)
        self.calls[key] += 1
        self.packets[key] = packet


@dataclass
class _OneByOne:
    """A plain sink and a recording replay state as a :class:`BatchStore` of one packet:
    the sink stores, then the replay state records."""

    sink: Sink
    replay: ReplayState

    def commit(self, batch: Sequence[Staged]) -> None:
        ((packet, accepted),) = batch
        self.sink(packet)
        assert packet.header.nonce is not None
        self.replay.record(packet.unit, packet.seq, packet.header.nonce, accepted)


class Gateway:
    """Start with :meth:`start`; :attr:`address` is where modems connect.

    ``workers`` processes authenticate packets (0: the connection threads do);
    ``max_batch`` and ``max_wait`` bound a group commit (a plain sink's groups are single
    packets whatever they say).
    """

    def __init__(
        self,
        registry: Registry,
        replay: ReplayView,
        server: ServerKeys,
        election: str,
        sink: Sink | BatchStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        reply_cache: int = 4096,
        workers: int = 0,
        max_batch: int = 256,
        max_wait: float = 0.005,
    ):
        self.registry = registry
        self.replay = replay
        self.server = server
        self.election = election
        self.sink = sink
        self.clock = clock
        self.stats: Counter[str] = Counter()
        self._store = _batch_store(sink, replay)
        limit = max_batch if self._store is sink else 1
        self._group = GroupCommit(self._settle, limit, max_wait)
        self._pool = VerifierPool(server.kex, election, workers) if workers > 0 else None
        self._reply_cache = reply_cache
        self._replies: OrderedDict[bytes, list[bytes]] = OrderedDict()
        self._in_flight: set[bytes] = set()
        self._reassembler = frames.Reassembler()
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()

    @property
    def groups(self) -> dict[int, int]:
        """How many group commits of each size so far (size -> count)."""
        return dict(sorted(self._group.groups.items()))

    def start(self) -> tuple[str, int]:
        thread = threading.Thread(target=self._accept, name="gateway-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self.address

    def stop(self) -> None:
        self._stop.set()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # wake up to notice stop()
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.stats["connections"] += 1
            self._connections.add(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        reader = frames.FrameReader()
        try:
            while not self._stop.is_set():
                data = conn.recv(4096)
                if not data:
                    return
                for wire in reader.feed(data):
                    for reply in self.receive(wire):
                        conn.sendall(reply)
        except OSError:
            return
        finally:
            self.stats["dropped_runs"] += reader.dropped
            self._connections.discard(conn)
            conn.close()

    def receive(self, wire: bytes) -> list[bytes]:
        """Handle one wire frame; returns the wire frames to send back (maybe none)."""
        try:
            frame = frames.decode(wire)
        except Rejected as exc:
            self.stats[f"frame:{exc.code}"] += 1
            return []
        if not isinstance(frame, frames.Chunk):
            self.stats["frame:unexpected-status"] += 1
            return []
        with self._lock:
            packet, answer = self._chunk(frame)
        if packet is None:
            return answer
        wires: list[bytes] = []
        try:
            verdict = self._packet(packet, frame.message)
            wires = [frames.encode(c) for c in frames.split(verdict.reply)]
        finally:
            with self._lock:  # cached before it leaves the flight: a poll always finds it
                if wires and not verdict.transient:
                    self._replies[frame.message] = wires
                    while len(self._replies) > self._reply_cache:
                        self._replies.popitem(last=False)
                self._in_flight.discard(frame.message)
        return wires

    def _chunk(self, chunk: frames.Chunk) -> tuple[bytes | None, list[bytes]]:
        """Under the lock: (the completed packet, now in flight) or (None, the answer)."""
        poll = chunk.index == chunk.count - 1
        cached = self._replies.get(chunk.message)
        if cached is not None:
            self.stats["chunks:answered"] += 1
            return None, cached if poll else []
        if chunk.message in self._in_flight:  # its reply goes out where it came in
            self.stats["chunks:in-flight"] += 1
            return None, []
        try:
            packet = self._reassembler.add(chunk)
        except Rejected as exc:
            self.stats[f"message:{exc.code}"] += 1
            return None, []
        if packet is None:
            if not poll:
                return None, []
            missing = self._reassembler.missing(chunk.message, chunk.count)
            return None, [frames.encode(frames.Status(chunk.message, chunk.count, missing))]
        self._in_flight.add(chunk.message)
        return packet, []

    def _packet(self, packet: bytes, message: bytes) -> Verdict:
        """Authenticate (in parallel with other connections), then settle in a group."""
        with self._group.arriving():
            checked = self._authenticate(packet)
        try:
            verdict = self._group.submit(message, checked)
        except Exception as exc:  # the group failed as a whole: a transient answer
            verdict = self._failed(message, checked, exc)
        self._count(verdict)
        return verdict

    def _failed(self, message: bytes, checked: Checked, exc: Exception) -> Verdict:
        where = {} if isinstance(checked, Rejected) else {"unit": checked.unit, "seq": checked.seq}
        error = StoreFailed(f"store failed: {exc}", **where)
        reply = intake.refuse(error, message, self.server, self.election, int(self.clock()))
        return Verdict(reply, error.code, error)

    def _authenticate(self, packet: bytes) -> Checked:
        try:
            if self._pool is not None:
                screened = intake.screen(packet, self.registry)
                return screened.verified(self._pool.unseal(screened))
            return intake.authenticate(
                packet, self.registry, server=self.server, election=self.election
            )
        except Rejected as exc:
            return exc

    def _settle(self, group: Sequence[tuple[bytes, Checked]]) -> list[Verdict]:
        now = int(self.clock())
        return intake.settle(
            group, self.replay, self._store.commit, self.server, self.election, now
        )

    def _count(self, verdict: Verdict) -> None:
        if verdict.status == "accepted":
            self.stats["accepted"] += 1
        elif verdict.status == "duplicate":
            self.stats["duplicates"] += 1
        elif isinstance(verdict.error, StoreFailed):
            self.stats["store-failed"] += 1
        else:
            self.stats[f"rejected:{verdict.status}"] += 1


def _batch_store(sink: Sink | BatchStore, replay: ReplayView) -> BatchStore:
    if isinstance(sink, BatchStore):
        return sink
    if not isinstance(replay, ReplayState):
        raise TypeError("a plain sink needs a replay state that records (intake.ReplayState)")
    return _OneByOne(sink, replay)


# Group commit -------------------------------------------------------------------------------


@dataclass
class _Waiting:
    message: bytes
    checked: Checked
    done: threading.Event = field(default_factory=threading.Event)
    verdict: Verdict | None = None
    failure: BaseException | None = None


class GroupCommit:
    """Leader/follower group commit, without a thread of its own.

    The first caller to find no group in progress becomes the leader: it takes the
    waiting items (at most ``max_batch``), settles them with one call, wakes their
    callers, and goes on until nothing waits.  Callers arriving meanwhile just wait, and
    form the next group.  Before taking a group the leader waits, at most ``max_wait``,
    for the items that were on their way (:meth:`arriving`) when it looked, so that a
    commit does not leave without a packet a millisecond behind.
    """

    def __init__(
        self,
        settle: Callable[[Sequence[tuple[bytes, Checked]]], list[Verdict]],
        max_batch: int,
        max_wait: float,
    ):
        self._settle = settle
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._arrival = threading.Condition(self._lock)
        self._waiting: list[_Waiting] = []
        self._coming = 0
        self._leading = False
        self.groups: Counter[int] = Counter()  # group size -> how many groups

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Around the work that precedes :meth:`submit`: the leader may wait for it."""
        with self._lock:
            self._coming += 1
        try:
            yield
        finally:
            with self._lock:
                self._coming -= 1

    def submit(self, message: bytes, checked: Checked) -> Verdict:
        """Settle ``checked`` in a group; returns its verdict once the group is stored."""
        item = _Waiting(message, checked)
        with self._lock:
            self._waiting.append(item)
            lead = not self._leading
            self._leading = True
            self._arrival.notify()
        if lead:
            self._lead()
        item.done.wait()
        if item.failure is not None:
            raise item.failure
        assert item.verdict is not None
        return item.verdict

    def _lead(self) -> None:
        while True:
            with self._lock:
                self._linger()
                group = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                if not group:
                    self._leading = False
                    return
            self._run(group)

    def _linger(self) -> None:
        """Wait for the items already on their way, not for ones that start later: under
        steady load something is always on its way, and waiting for it would only add
        latency."""
        target = min(self.max_batch, len(self._waiting) + self._coming)
        deadline = time.monotonic() + self.max_wait
        while len(self._waiting) < target:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrival.wait(left)

    def _run(self, group: list[_Waiting]) -> None:
        self.groups[len(group)] += 1
        try:
            verdicts = self._settle([(w.message, w.checked) for w in group])
            for waiting, verdict in zip(group, verdicts, strict=True):
                waiting.verdict = verdict
        except Exception as exc:  # every caller hears of it; the leader leads on
            for waiting in group:
                waiting.failure = exc
        finally:
            for waiting in group:
                waiting.done.set()


# Verification in worker processes -------------------------------------------------------------


class VerifierPool:
    """Processes that run :func:`transport.intake.unseal`, so that verification uses
    every core (``cryptography`` and ``cbor2`` hold the GIL).

    A caller sends the packet and its unit's public key to an idle worker and blocks on
    the answer (releasing the GIL); the worker re-parses the packet and returns the
    :class:`~transport.intake.Opened` result or the rejection, pickled.  Workers are
    plain ``python -c`` subprocesses talking length-prefixed messages over their stdin
    and stdout: unlike multiprocessing's spawn they never import the parent's main
    script, and they exit when the server does (end of file on stdin), even after a
    SIGKILL.  A worker that fails is dropped; when none is left, callers unseal in
    their own thread.
    """

    def __init__(self, server_kex: AgreementKey, election: str, workers: int):
        self._kex = server_kex
        self._election = election
        self._idle: queue.SimpleQueue[subprocess.Popen[bytes] | None] = queue.SimpleQueue()
        self._workers: list[subprocess.Popen[bytes]] = []
        for _ in range(workers):
            worker = subprocess.Popen(
                [sys.executable, "-c", "from transport.gateway import _worker; _worker()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert worker.stdin is not None
            _send(worker.stdin, server_kex.private + election.encode())  # not on argv: ps shows it
            self._workers.append(worker)
            self._idle.put(worker)

    def unseal(self, screened: intake.Screened) -> intake.Opened:
        """:func:`transport.intake.unseal` of a screened packet, in a worker."""
        worker = self._idle.get()
        if worker is None:  # every worker failed
            self._idle.put(None)  # for the next caller too
            return self._local(screened)
        assert worker.stdin is not None and worker.stdout is not None
        try:
            _send(worker.stdin, screened.key.public + screened.packet)
            answer = pickle.loads(_receive(worker.stdout))
        except (OSError, EOFError, pickle.UnpicklingError):
            worker.kill()
            self._idle.put(None)
            return self._local(screened)
        self._idle.put(worker)
        if isinstance(answer, Rejected):
            raise answer
        assert isinstance(answer, intake.Opened)
        return answer

    def _local(self, screened: intake.Screened) -> intake.Opened:
        return intake.unseal(screened.envelope, screened.key, self._kex, self._election)

    def close(self) -> None:
        for worker in self._workers:
            assert worker.stdin is not None and worker.stdout is not None
            with contextlib.suppress(OSError):
                worker.stdin.close()  # the worker reads end of file and returns
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            worker.stdout.close()


_LENGTH = struct.Struct(">I")


def _send(stream: BinaryIO, data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> bytes:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("worker pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("worker pipe closed")
    return data


def _worker() -> None:
    """A verifier process: unseal packets from stdin until it closes, answers on stdout.

    Ctrl-C at the terminal reaches the whole process group: the server decides when its
    verifiers end (it closes their pipes), so they ignore the interrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    try:
        setup = _receive(requests)
    except EOFError:
        return
    kex, election = AgreementKey(setup[:32]), setup[32:].decode()
    keys: dict[bytes, VerifyKey] = {}
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        public, packet = request[:32], request[32:]
        if public not in keys:
            keys[public] = VerifyKey(public)  # one per unit: a few thousand at most
        try:
            answer: object = intake.unseal(parse(packet), keys[public], kex, election)
        except Rejected as exc:
            answer = exc
        _send(answers, pickle.dumps(answer))
