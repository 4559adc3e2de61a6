"""The server's end of the line: a loopback TCP listener that turns frames into stored
packets and signed replies.

A :class:`Switchboard` keeps what lasts across calls: frames are decoded and chunks
reassembled under one short lock; a complete packet is authenticated outside that lock
(:func:`transport.intake.screen` and :func:`~transport.intake.unseal`) and handed to a
settler.

The :class:`Settler` runs the replay check and the store as a **group commit**: the
packets that arrive while one group is being stored form the next group (at most
``max_batch``; a leader waits up to ``max_wait`` for packets still being authenticated),
are checked in arrival order by :func:`transport.intake.settle` and stored with one
durable commit, and only after that commit returns does any of them get its ACK.  One
fsync then covers many packets.

:class:`Gateway` is both in one process, a thread per call (tests, tools, emulated
lines).  The crypto holds the GIL, so the server runs switchboards in worker processes,
each an event loop, that all accept on one listening socket and settle through the
server process (:class:`transport.line_workers.LineWorkers`).

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
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, Self, runtime_checkable

from transport import frames, intake
from transport.errors import Rejected, StoreFailed
from transport.intake import ReplayState, ReplayView, Staged, Verdict, VerifiedPacket
from transport.keys import Registry, ServerKeys

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


class Settler:
    """Group commit of authenticated packets against the replay memory and the store.

    :meth:`submit` settles one packet in a group (see :class:`GroupCommit`) and returns
    its verdict once the group is stored: a failed group is turned into transient
    ``store-failed`` answers here, so callers always get a verdict to send.
    ``after_group`` runs once a group's verdicts are all handed out (see GroupCommit).
    """

    def __init__(
        self,
        replay: ReplayView,
        sink: Sink | BatchStore,
        server: ServerKeys,
        election: str,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 256,
        max_wait: float = 0.005,
        after_group: Callable[[], None] | None = None,
    ):
        self.replay = replay
        self.server = server
        self.election = election
        self.clock = clock
        self._store = _batch_store(sink, replay)
        limit = max_batch if self._store is sink else 1
        self._group = GroupCommit(self._settle, limit, max_wait, after_group)

    @property
    def groups(self) -> dict[int, int]:
        """How many group commits of each size so far (size -> count)."""
        return dict(sorted(self._group.groups.items()))

    def arriving(self) -> contextlib.AbstractContextManager[None]:
        """Around the authentication that precedes :meth:`submit` (see GroupCommit)."""
        return self._group.arriving()

    def submit(self, message: bytes, checked: Checked) -> Verdict:
        """Settle one packet in a group; its verdict, once the group is stored."""
        return self._group.submit(message, checked)

    def post(self, message: bytes, checked: Checked, then: Answer) -> None:
        """Settle one packet in a group; ``then(verdict)`` once the group is stored."""
        self._group.post(message, checked, then)

    def _settle(self, group: Sequence[tuple[bytes, Checked]]) -> list[Verdict]:
        now = self.clock()
        try:
            return intake.settle(
                group, self.replay, self._store.commit, self.server, self.election, int(now)
            )
        except Exception as exc:  # the group failed as a whole: transient answers
            reason = f"store failed: {exc}"
            return [
                store_failed(message, checked, reason, self.server, self.election, now)
                for message, checked in group
            ]


class Switchboard:
    """What a gateway keeps across calls, without any I/O: reassembly, the packets in
    flight, the cache of replies, the counters; and the authentication of a packet.

    A call's frames go to :meth:`frame`, which answers at once or hands back a complete
    packet (now in flight); the packet is authenticated (:meth:`authenticate`) and
    settled elsewhere, and its verdict comes back through :meth:`answered`, which gives
    the reply frames.  The threaded :class:`Gateway` and the line workers' event loops
    drive the same switchboard.  With ``presign`` the ACK of an authenticated packet is
    signed here, in advance, so that the settler (busy for several line workers) only
    has to decide; it is sent only if the packet is accepted, after its group's commit.
    """

    def __init__(
        self,
        registry: Registry,
        server: ServerKeys,
        election: str,
        *,
        clock: Callable[[], float] = time.time,
        reply_cache: int = 4096,
        presign: bool = False,
    ):
        self.registry = registry
        self.server = server
        self.election = election
        self.clock = clock
        self.presign = presign
        self.stats: Counter[str] = Counter()
        self._reply_cache = reply_cache
        self._replies: OrderedDict[bytes, list[bytes]] = OrderedDict()
        self._in_flight: set[bytes] = set()
        self._reassembler = frames.Reassembler()
        self._lock = threading.Lock()

    def frame(self, wire: bytes) -> tuple[bytes | None, bytes, list[bytes]]:
        """(a completed packet or None, its message id, the frames to answer at once)."""
        try:
            frame = frames.decode(wire)
        except Rejected as exc:
            self.stats[f"frame:{exc.code}"] += 1
            return None, b"", []
        if not isinstance(frame, frames.Chunk):
            self.stats["frame:unexpected-status"] += 1
            return None, b"", []
        with self._lock:
            packet, answer = self._chunk(frame)
        return packet, frame.message, answer

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

    def authenticate(self, packet: bytes) -> Checked:
        """The packet verified (replay state not asked), or why it is refused."""
        try:
            verified = intake.authenticate(
                packet, self.registry, server=self.server, election=self.election
            )
        except Rejected as exc:
            return exc
        if not self.presign:
            return verified
        return replace(verified, ack=intake.signed_ack(verified, self.server, int(self.clock())))

    def answered(self, message: bytes, verdict: Verdict | None) -> list[bytes]:
        """The reply frames for an in-flight packet's verdict, which leaves the flight;
        cached unless transient, so a poll always finds it.  ``None``: no verdict (the
        handling failed), nothing to send, the unit will send it again."""
        wires = [] if verdict is None else [frames.encode(c) for c in frames.split(verdict.reply)]
        with self._lock:
            if verdict is not None:
                count(self.stats, verdict)
                if not verdict.transient:
                    self._replies[message] = wires
                    while len(self._replies) > self._reply_cache:
                        self._replies.popitem(last=False)
            self._in_flight.discard(message)
        return wires


def store_failed(
    message: bytes, checked: Checked, reason: str, server: ServerKeys, election: str, now: float
) -> Verdict:
    """A transient ``store-failed`` answer to ``message``: the unit must send it again."""
    where = {} if isinstance(checked, Rejected) else {"unit": checked.unit, "seq": checked.seq}
    error = StoreFailed(reason, **where)
    return Verdict(intake.refuse(error, message, server, election, int(now)), error.code, error)


def count(stats: Counter[str], verdict: Verdict) -> None:
    """Count a verdict under its status (``accepted``, ``duplicates``, ``store-failed``
    or ``rejected:<code>``)."""
    if verdict.status == "accepted":
        stats["accepted"] += 1
    elif verdict.status == "duplicate":
        stats["duplicates"] += 1
    elif isinstance(verdict.error, StoreFailed):
        stats["store-failed"] += 1
    else:
        stats[f"rejected:{verdict.status}"] += 1


class Gateway:
    """A switchboard and a settler in this process, each call served by a thread: the
    gateway for tests, tools and emulated lines.  The server spreads the same work over
    processes with :class:`transport.line_workers.LineWorkers`.

    Start with :meth:`start`; :attr:`address` is where modems connect.  ``max_batch`` and
    ``max_wait`` bound a group commit (a plain sink's groups are single packets whatever
    they say).  A call silent for ``idle_timeout`` seconds is hung up, so a dead line
    cannot hold a thread.
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
        max_batch: int = 256,
        max_wait: float = 0.005,
        idle_timeout: float = 120.0,
    ):
        self.sink = sink
        self.replay = replay
        self.board = Switchboard(registry, server, election, clock=clock, reply_cache=reply_cache)
        self._settler = Settler(
            replay, sink, server, election, clock=clock, max_batch=max_batch, max_wait=max_wait
        )
        self.idle_timeout = idle_timeout
        self._listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()

    @property
    def stats(self) -> Counter[str]:
        return self.board.stats

    @property
    def groups(self) -> dict[int, int]:
        """How many group commits of each size so far (size -> count)."""
        return self._settler.groups

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

    def __enter__(self) -> Self:
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
            conn.settimeout(self.idle_timeout)
            self.stats["connections"] += 1
            self._connections.add(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()]
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
        packet, message, answer = self.board.frame(wire)
        if packet is None:
            return answer
        verdict = None
        try:
            with self._settler.arriving():  # the group commit may wait for it
                checked = self.board.authenticate(packet)
            verdict = self._settler.submit(message, checked)
        finally:
            wires = self.board.answered(message, verdict)
        return wires


def _batch_store(sink: Sink | BatchStore, replay: ReplayView) -> BatchStore:
    if isinstance(sink, BatchStore):
        return sink
    if not isinstance(replay, ReplayState):
        raise TypeError("a plain sink needs a replay state that records (intake.ReplayState)")
    return _OneByOne(sink, replay)


# Group commit -------------------------------------------------------------------------------


Answer = Callable[[Verdict], None]


@dataclass
class _Waiting:
    message: bytes
    checked: Checked
    then: Answer


class GroupCommit:
    """Leader/follower group commit, without a thread of its own.

    The first caller to find no group in progress becomes the leader: it takes the
    waiting items (at most ``max_batch``), settles them with one call, hands each its
    verdict, and goes on until nothing waits.  Items arriving meanwhile just wait, and
    form the next group.  Before taking a group the leader waits, at most ``max_wait``,
    for the items that were on their way (:meth:`arriving`) when it looked, so that a
    commit does not leave without a packet a millisecond behind.

    :meth:`submit` waits for its verdict (a connection's thread); :meth:`post` returns at
    once and has the verdict delivered to a callback (a pipe from line workers), led by
    one committing thread kept for posted items, so that the poster keeps reading.
    ``settle`` must answer every item, never raise.  ``after_group``, if given, runs in
    the leading thread once every verdict of a group is handed out, so that callbacks
    can collect verdicts and send them on together.
    """

    def __init__(
        self,
        settle: Callable[[Sequence[tuple[bytes, Checked]]], list[Verdict]],
        max_batch: int,
        max_wait: float,
        after_group: Callable[[], None] | None = None,
    ):
        self._settle = settle
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._after_group = after_group
        self._lock = threading.Lock()
        self._arrival = threading.Condition(self._lock)
        self._waiting: list[_Waiting] = []
        self._coming = 0
        self._leading = False
        self._committer: threading.Thread | None = None
        self._posted = threading.Event()
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
        done = threading.Event()
        answer: list[Verdict] = []

        def then(verdict: Verdict) -> None:
            answer.append(verdict)
            done.set()

        if self._queue(_Waiting(message, checked, then)):
            self._lead()
        done.wait()
        return answer[0]

    def post(self, message: bytes, checked: Checked, then: Answer) -> None:
        """Settle ``checked`` in a group; ``then(verdict)`` runs once the group is stored
        (in the committing thread: it must be quick)."""
        if self._queue(_Waiting(message, checked, then)):
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_posted, name="group-commit", daemon=True
                )
                self._committer.start()
            self._posted.set()

    def _commit_posted(self) -> None:
        """The thread that leads for posted items (started once, it waits in between)."""
        while True:
            self._posted.wait()
            self._posted.clear()
            self._lead()

    def _queue(self, item: _Waiting) -> bool:
        """Add ``item``; True when the caller must see that a leader runs."""
        with self._lock:
            self._waiting.append(item)
            lead = not self._leading
            self._leading = True
            self._arrival.notify()
        return lead

    def _lead(self) -> None:
        while True:
            with self._lock:
                self._linger()
                group = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                if not group:
                    self._leading = False
                    return
            self.groups[len(group)] += 1
            verdicts = self._settle([(w.message, w.checked) for w in group])
            for waiting, verdict in zip(group, verdicts, strict=True):
                waiting.then(verdict)
            if self._after_group is not None:
                self._after_group()

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
