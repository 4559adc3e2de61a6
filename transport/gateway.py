"""The server's end of the line: a loopback TCP listener that turns frames into stored
packets and signed replies.

A :class:`LineServer` answers the calls: each connection (one per modem call) is served
by a thread of a pool; frames are decoded and chunks reassembled under one short lock;
a complete packet is authenticated outside that lock (:func:`transport.intake.screen`
and :func:`~transport.intake.unseal`) and handed to a settler.

The :class:`Settler` runs the replay check and the store as a **group commit**: the
packets that arrive while one group is being stored form the next group (at most
``max_batch``; a leader waits up to ``max_wait`` for packets still being authenticated),
are checked in arrival order by :func:`transport.intake.settle` and stored with one
durable commit, and only after that commit returns does any of them get its ACK.  One
fsync then covers many packets.

:class:`Gateway` is both in one process (tests, tools, emulated lines).  The crypto holds
the GIL, so the server runs line servers in worker processes that all accept on one
listening socket and settle through the server process
(:class:`transport.line_workers.LineWorkers`).

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
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
    ):
        self.replay = replay
        self.sink = sink
        self.server = server
        self.election = election
        self.clock = clock
        self._store = _batch_store(sink, replay)
        limit = max_batch if self._store is sink else 1
        self._group = GroupCommit(self._settle, limit, max_wait)

    @property
    def groups(self) -> dict[int, int]:
        """How many group commits of each size so far (size -> count)."""
        return dict(sorted(self._group.groups.items()))

    def arriving(self) -> contextlib.AbstractContextManager[None]:
        """Around the authentication that precedes :meth:`submit` (see GroupCommit)."""
        return self._group.arriving()

    def submit(self, message: bytes, checked: Checked) -> Verdict:
        try:
            return self._group.submit(message, checked)
        except Exception as exc:  # the group failed as a whole: a transient answer
            reason = f"store failed: {exc}"
            return store_failed(message, checked, reason, self.server, self.election, self.clock())

    def _settle(self, group: Sequence[tuple[bytes, Checked]]) -> list[Verdict]:
        now = int(self.clock())
        return intake.settle(
            group, self.replay, self._store.commit, self.server, self.election, now
        )


class SettlesPackets(Protocol):
    """Where a :class:`LineServer` sends authenticated packets: a local :class:`Settler`,
    or a line worker's link to the server process (:mod:`transport.line_workers`)."""

    def arriving(self) -> contextlib.AbstractContextManager[None]: ...

    def submit(self, message: bytes, checked: Checked) -> Verdict: ...


class LineServer:
    """Answers modem calls on a listening socket: frames, reassembly, authentication and
    the reply cache; authenticated packets go to a settler, which decides and stores.

    Start with :meth:`start`; :attr:`address` is where modems connect.  With ``presign``
    the ACK of an authenticated packet is signed here, in advance, so that the settler
    (maybe busy for many line servers) only has to decide; it is sent only if the packet
    is accepted, and only after its group's commit.  Calls are served by at most
    ``max_calls`` threads (more wait to be answered); a call silent for ``idle_timeout``
    seconds is hung up, so a dead line cannot hold a thread.
    """

    def __init__(
        self,
        registry: Registry,
        server: ServerKeys,
        election: str,
        settler: SettlesPackets,
        listener: socket.socket,
        *,
        clock: Callable[[], float] = time.time,
        reply_cache: int = 4096,
        presign: bool = False,
        max_calls: int = 512,
        idle_timeout: float = 120.0,
    ):
        self.registry = registry
        self.server = server
        self.election = election
        self.settler = settler
        self.clock = clock
        self.presign = presign
        self.idle_timeout = idle_timeout
        self.stats: Counter[str] = Counter()
        self._reply_cache = reply_cache
        self._replies: OrderedDict[bytes, list[bytes]] = OrderedDict()
        self._in_flight: set[bytes] = set()
        self._reassembler = frames.Reassembler()
        self._lock = threading.Lock()
        self._listener = listener
        self.address: tuple[str, int] = listener.getsockname()[:2]
        self._stop = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._calls = ThreadPoolExecutor(max_calls, thread_name_prefix="line")
        self._connections: set[socket.socket] = set()
        self._idle = threading.Condition()
        self._answering = 0  # frames being handled, their answers not yet sent

    def start(self) -> tuple[str, int]:
        self._acceptor = threading.Thread(target=self._accept, name="line-accept", daemon=True)
        self._acceptor.start()
        return self.address

    def stop(self, grace: float = 0.0) -> None:
        """Stop taking calls; wait up to ``grace`` seconds for packets being answered to
        get their answer out, then hang up every line."""
        self._stop.set()
        with self._idle:
            self._idle.wait_for(lambda: self._answering == 0, timeout=grace)
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        self._calls.shutdown(wait=True, cancel_futures=True)
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
            except (TimeoutError, BlockingIOError):  # another process took the call
                continue
            except OSError:
                return
            conn.settimeout(self.idle_timeout)  # a line silent that long is hung up
            self.stats["connections"] += 1
            self._connections.add(conn)
            try:
                self._calls.submit(self._serve, conn)
            except RuntimeError:  # stopping
                conn.close()
                return

    def _serve(self, conn: socket.socket) -> None:
        reader = frames.FrameReader()
        try:
            while not self._stop.is_set():
                data = conn.recv(4096)
                if not data:
                    return
                for wire in reader.feed(data):
                    self._answer(conn, wire)
        except OSError:
            return
        finally:
            self.stats["dropped_runs"] += reader.dropped
            self._connections.discard(conn)
            conn.close()

    def _answer(self, conn: socket.socket, wire: bytes) -> None:
        with self._idle:
            self._answering += 1
        try:
            for reply in self.receive(wire):
                conn.sendall(reply)
        finally:
            with self._idle:
                self._answering -= 1
                self._idle.notify_all()

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
        """Authenticate (in parallel with other calls), then settle in a group."""
        with self.settler.arriving():
            checked = self._authenticate(packet)
        verdict = self.settler.submit(message, checked)
        count(self.stats, verdict)
        return verdict

    def _authenticate(self, packet: bytes) -> Checked:
        try:
            verified = intake.authenticate(
                packet, self.registry, server=self.server, election=self.election
            )
        except Rejected as exc:
            return exc
        if not self.presign:
            return verified
        return replace(verified, ack=intake.signed_ack(verified, self.server, int(self.clock())))


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


class Gateway(LineServer):
    """A :class:`LineServer` with its own :class:`Settler`, in this process: the
    one-process gateway for tests, tools and the emulated lines.

    ``max_batch`` and ``max_wait`` bound a group commit (a plain sink's groups are single
    packets whatever they say).  The server spreads the same work over processes with
    :class:`transport.line_workers.LineWorkers`.
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
    ):
        settler = Settler(
            replay, sink, server, election, clock=clock, max_batch=max_batch, max_wait=max_wait
        )
        listener = socket.create_server((host, port))
        super().__init__(
            registry, server, election, settler, listener, clock=clock, reply_cache=reply_cache
        )
        self.sink = sink
        self.replay = replay
        self._settler = settler

    @property
    def groups(self) -> dict[int, int]:
        """How many group commits of each size so far (size -> count)."""
        return self._settler.groups


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
