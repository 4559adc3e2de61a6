"""The server's gateway spread over processes: calls served in workers, one settler here.

Authenticating a packet (X25519, ChaCha20-Poly1305, Ed25519, strict CBOR) and serving
its call (framing, reassembly) cost far more than deciding and storing it, and all of it
holds the GIL.  So each worker process runs a :class:`~transport.gateway.Switchboard` in
an asyncio event loop on the one listening socket they share (the kernel hands each
call to one of them), authenticates, signs the ACK in advance, and sends the
authenticated packet here; this process only settles it in a group commit
(:class:`~transport.gateway.Settler`: replay check, one durable commit per group) and
sends the verdict back.  An ACK still leaves only after its group's commit: the worker
holds it until the verdict arrives.  An event loop rather than a thread per call: with
one thread, a call costs no thread switches and no contention for the GIL (measured:
the thread-per-call worker spent about 300 µs a packet beyond the authentication).

Workers are plain ``python -c`` subprocesses talking length-prefixed pickles over their
stdin and stdout (never the parent's main script, unlike multiprocessing's spawn).  Each
pickle is a list: the packets a worker's loop authenticated in one turn go up together,
and a group commit's verdicts for one worker come down together, since a write that
wakes the process at the other end costs far more than pickling one more item
(measured: one pipe write per packet took some 200 µs of a worker's CPU a packet).  The
setup, keys included, goes down the pipe, not on the command line.  A worker exits when
its stdin closes, which also happens when the server is killed; a worker that dies is
started again, and the calls it was serving are redialled by their units like any
dropped line.  Workers ignore Ctrl-C: the server decides when they end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from transport import frames
from transport.crypto import AgreementKey, SigningKey
from transport.errors import Rejected
from transport.gateway import (
    BatchStore,
    Checked,
    Settler,
    Sink,
    Switchboard,
    count,
    store_failed,
)
from transport.intake import ReplayView, Verdict
from transport.keys import Registry, ServerKeys

RESTARTS = 5
"""How many times one worker slot is restarted before the server gives up on it."""

GC_YOUNG = 20_000
"""Allocations between collections of the youngest generation (CPython's default: 700)."""


def tune_gc() -> None:
    """Keep the garbage collector off the intake's back (the server process and the
    line workers call it once they are set up).

    The server process holds the election and every received report in memory, and
    every packet allocates many short-lived objects: with CPython's defaults the
    collector's passes cost about 50 µs a packet in the server process (measured with
    ``bench/server.py``: 354 -> 300 µs) and some 20 µs in a worker.  What exists at
    start-up (the election, the ledger reloaded from the store) is frozen out of
    collection, and the young generation is collected less often.  Cycles are still
    collected, in fewer and larger passes.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)


@dataclass
class _Worker:
    slot: int
    process: subprocess.Popen[bytes]
    lock: threading.Lock = field(default_factory=threading.Lock)
    outbox: list[tuple[int, Verdict]] = field(default_factory=list)

    def send(self, items: list[tuple[int | None, Any]]) -> None:
        """Send ``items`` (ticket, verdict) or (None, the registry's units) in one write."""
        assert self.process.stdin is not None
        with self.lock:
            _send(self.process.stdin, pickle.dumps(items))

    def flush(self) -> None:
        """Send the verdicts collected by :meth:`LineWorkers._answer`, if any."""
        items, self.outbox = self.outbox, []
        if items:
            self.send(items)


class LineWorkers:
    """``workers`` line-server processes and the settler they share; start with
    :meth:`start`, connect modems to :attr:`address`.

    ``replay`` and ``sink`` are the settler's (the server's intake); ``max_batch`` bounds
    a group commit.  Packets from workers are posted, so a group never lingers for more:
    the next group forms while one is being stored.
    """

    def __init__(
        self,
        registry: Registry,
        replay: ReplayView,
        server: ServerKeys,
        election: str,
        sink: Sink | BatchStore,
        *,
        workers: int,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        reply_cache: int = 4096,
        max_batch: int = 256,
        idle_timeout: float = 120.0,
    ):
        if workers < 1:
            raise ValueError("line workers need at least one process")
        self.registry = registry
        self.settler = Settler(
            replay,
            sink,
            server,
            election,
            clock=clock,
            max_batch=max_batch,
            after_group=self._flush_answers,
        )
        self.stats: Counter[str] = Counter()
        self._listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._setup = pickle.dumps(
            {
                "listener": self._listener.fileno(),
                "registry": (str(registry.path), registry.units()),
                "sign": server.sign.seed,
                "kex": server.kex.private,
                "election": election,
                "reply_cache": reply_cache,
                "idle_timeout": idle_timeout,
            }
        )
        self._count = workers
        self._workers: dict[int, _Worker] = {}
        self._readers: list[threading.Thread] = []
        self._restarts: Counter[int] = Counter()
        self._stopping = threading.Event()

    @property
    def groups(self) -> dict[int, int]:
        """How many group commits of each size so far (size -> count)."""
        return self.settler.groups

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for tests that kill one)."""
        return [w.process.pid for w in self._workers.values()]

    def start(self) -> tuple[str, int]:
        for slot in range(self._count):
            self._spawn(slot)
        self.registry.watchers.append(self._registry_saved)
        return self.address

    def _registry_saved(self, registry: Registry) -> None:
        """Send the workers the registry as saved (units imported or revoked)."""
        update: list[tuple[int | None, Any]] = [(None, registry.units())]
        for worker in list(self._workers.values()):
            with contextlib.suppress(OSError, ValueError):
                worker.send(update)

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(ValueError):
            self.registry.watchers.remove(self._registry_saved)
        for worker in list(self._workers.values()):
            assert worker.process.stdin is not None
            with contextlib.suppress(OSError):
                worker.process.stdin.close()  # the worker reads end of file and returns
        for worker in list(self._workers.values()):
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> LineWorkers:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, slot: int) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c", "from transport.line_workers import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(self._listener.fileno(),),
        )
        worker = _Worker(slot, process)
        assert process.stdin is not None
        _send(process.stdin, self._setup)
        self._workers[slot] = worker
        reader = threading.Thread(
            target=self._read, args=(worker,), name=f"line-worker-{slot}", daemon=True
        )
        reader.start()
        self._readers.append(reader)

    def _read(self, worker: _Worker) -> None:
        """Post each packet from ``worker`` to the group commit; restart it if it dies."""
        assert worker.process.stdout is not None
        while True:
            try:
                request = _receive(worker.process.stdout)
            except (OSError, EOFError):
                break
            for ticket, message, checked in pickle.loads(request):
                answer = functools.partial(self._answer, worker, ticket)
                self.settler.post(message, self._still_registered(checked), answer)
        worker.process.wait()
        worker.process.stdout.close()
        if self._stopping.is_set():
            return
        self.stats["worker-exits"] += 1
        self._restarts[worker.slot] += 1
        if self._restarts[worker.slot] <= RESTARTS:
            self._spawn(worker.slot)

    def _still_registered(self, checked: Checked) -> Checked:
        """The workers' registry is a copy: a unit revoked since it was sent is refused
        here, by the registry of record, before anything is stored."""
        if isinstance(checked, Rejected):
            return checked
        try:
            self.registry.verify_key(checked.unit)
        except Rejected as exc:
            return exc
        return checked

    def _answer(self, worker: _Worker, ticket: int, verdict: Verdict) -> None:
        """Collect a verdict for ``worker`` (in the committing thread, which sends the
        group's verdicts once all are in: :meth:`_flush_answers`)."""
        count(self.stats, verdict)
        worker.outbox.append((ticket, verdict))

    def _flush_answers(self) -> None:
        for worker in list(self._workers.values()):
            with contextlib.suppress(OSError, ValueError):  # a worker gone hung up its calls
                worker.flush()


# The worker process ----------------------------------------------------------------------------

Write = Callable[[list[bytes]], None]


class _Desk:
    """A worker's side of the settling: packets go up the pipe to the server process,
    verdicts come back and are answered on the call that brought the packet.  If the
    server process is gone, every waiting and later packet gets a transient
    ``store-failed`` answer, so the unit sends it again later."""

    def __init__(self, board: Switchboard, up: asyncio.WriteTransport):
        self.board = board
        self._up = up
        self._tickets = itertools.count()
        self._waiting: dict[int, tuple[bytes, Checked, Write]] = {}
        self._outbox: list[tuple[int, bytes, Checked]] = []
        self.gone = False

    def settle(self, message: bytes, checked: Checked, write: Write) -> None:
        """Send the packet up with the others of this turn of the loop (see :meth:`_flush`)."""
        if self.gone:
            write(self.board.answered(message, self._unavailable(message, checked)))
            return
        ticket = next(self._tickets)
        self._waiting[ticket] = (message, checked, write)
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append((ticket, message, checked))

    def _flush(self) -> None:
        """One write for the packets of a turn: it runs after the turn's callbacks, so
        every call that the same poll found ready has added its packet."""
        items, self._outbox = self._outbox, []
        if not self.gone:
            self._up.write(_framed(pickle.dumps(items)))

    def deliver(self, ticket: int, verdict: Verdict) -> None:
        message, _, write = self._waiting.pop(ticket)
        write(self.board.answered(message, verdict))

    def server_gone(self) -> None:
        self.gone = True
        waiting, self._waiting = self._waiting, {}
        for message, checked, write in waiting.values():
            write(self.board.answered(message, self._unavailable(message, checked)))

    def _unavailable(self, message: bytes, checked: Checked) -> Verdict:
        board = self.board
        reason = "the server process is unavailable"
        return store_failed(message, checked, reason, board.server, board.election, time.time())


class _Call(asyncio.Protocol):
    """One modem call, served by the worker's event loop: frames in, answers out; a
    completed packet is authenticated at once (the loop has nothing better to do with
    the CPU) and its answer written when the verdict comes back."""

    def __init__(self, desk: _Desk, calls: set[_Call]):
        self.desk = desk
        self.calls = calls
        self.reader = frames.FrameReader()
        self.last = time.monotonic()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.calls.add(self)
        self.desk.board.stats["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self.last = time.monotonic()
        board = self.desk.board
        for wire in self.reader.feed(data):
            packet, message, answer = board.frame(wire)
            self.write(answer)
            if packet is not None:
                self.desk.settle(message, board.authenticate(packet), self.write)

    def write(self, wires: list[bytes]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(wires))

    def connection_lost(self, exc: Exception | None) -> None:
        self.desk.board.stats["dropped_runs"] += self.reader.dropped
        self.calls.discard(self)


class _Verdicts(asyncio.Protocol):
    """The pipe from the server process: length-prefixed pickles, each a list of
    (ticket, verdict) or (None, the registry's units)."""

    def __init__(self, desk: _Desk, closed: asyncio.Future[None]):
        self.desk = desk
        self.closed = closed
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self.buffer)
            end = _LENGTH.size + size
            if len(self.buffer) < end:
                return
            items = pickle.loads(self.buffer[_LENGTH.size : end])
            del self.buffer[:end]
            for ticket, item in items:
                if ticket is None:  # the registry, saved again by the server
                    board = self.desk.board
                    board.registry = Registry(board.registry.path, item)
                else:
                    self.desk.deliver(ticket, item)

    def connection_lost(self, exc: Exception | None) -> None:
        self.desk.server_gone()
        if not self.closed.done():
            self.closed.set_result(None)


async def _serve_calls(setup: dict[str, Any], down: BinaryIO, up: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    server_keys = ServerKeys(SigningKey(setup["sign"]), AgreementKey(setup["kex"]))
    path, units = setup["registry"]
    board = Switchboard(
        Registry(Path(path), units),
        server_keys,
        setup["election"],
        reply_cache=setup["reply_cache"],
        presign=True,
    )
    upstream, _ = await loop.connect_write_pipe(asyncio.Protocol, up)
    desk = _Desk(board, upstream)
    closed: asyncio.Future[None] = loop.create_future()
    await loop.connect_read_pipe(lambda: _Verdicts(desk, closed), down)
    calls: set[_Call] = set()
    listener = socket.socket(fileno=setup["listener"])
    server = await loop.create_server(lambda: _Call(desk, calls), sock=listener)
    timeout = setup["idle_timeout"]
    while not closed.done():
        await asyncio.wait([closed], timeout=min(timeout, 5.0))
        quiet_since = time.monotonic() - timeout
        for call in [c for c in calls if c.last < quiet_since]:  # a dead line: hang up
            assert call.transport is not None
            call.transport.close()
    server.close()
    for call in list(calls):  # the answers already written leave before the close
        assert call.transport is not None
        call.transport.close()
    await asyncio.sleep(0.1)


def serve() -> None:
    """A worker process: serve calls on the inherited socket until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    down = os.fdopen(0, "rb", buffering=0)
    up = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    try:
        setup = pickle.loads(_receive(down))
    except EOFError:
        return
    tune_gc()
    asyncio.run(_serve_calls(setup, down, up))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            raise EOFError("pipe closed")
        data += more
    return data


_LENGTH = struct.Struct(">I")


def _framed(data: bytes) -> bytes:
    """``data`` with its length in front: one message on a pipe."""
    return _LENGTH.pack(len(data)) + data


def _send(stream: BinaryIO, data: bytes) -> None:
    stream.write(_framed(data))
    stream.flush()


def _receive(stream: BinaryIO) -> bytes:
    """One length-prefixed message; EOFError if the pipe closes first."""
    (size,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
    return _read_exactly(stream, size)
