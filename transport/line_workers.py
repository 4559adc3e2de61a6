"""The server's gateway spread over processes: calls served in workers, one settler here.

Authenticating a packet (X25519, ChaCha20-Poly1305, Ed25519, strict CBOR) and serving
its call (framing, reassembly) cost far more than deciding and storing it, and all of it
holds the GIL.  So each worker process runs a :class:`~transport.gateway.Switchboard` in
one thread, a selector loop (:class:`_Lines`) on the one listening socket they share
(the kernel hands each call to one of them), authenticates, signs the ACK in advance, and sends the
authenticated packet here; this process only settles it in a group commit
(:class:`~transport.gateway.Settler`: replay check, one durable commit per group) and
sends the verdict back.  An ACK still leaves only after its group's commit: the worker
holds it until the verdict arrives.  One loop rather than a thread per call: with
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

import contextlib
import functools
import gc
import itertools
import os
import pickle
import selectors
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

SEND_BUFFER = 64 * 1024
"""The kernel's send buffer of a call (fixed, not autotuned to megabytes): an answer is
a few hundred bytes, and a modem line takes about a kilobyte a second."""

UNSENT_MAX = 256 * 1024
"""Answers a call may leave waiting in the worker beyond its send buffer: a unit that
polls without reading its answers is hung up there, so it cannot fill the worker's
memory."""

ACCEPT_PAUSE = 1.0
"""Seconds a worker stops taking calls when it cannot accept one (out of file
descriptors): the listener stays readable, and retrying at once would spin."""

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

_READ_WRITE = selectors.EVENT_READ | selectors.EVENT_WRITE


class _Call:
    """One modem call: its socket, its frame reader, when it last spoke, and the reply
    bytes the socket's buffer could not take yet."""

    __slots__ = ("last", "reader", "sock", "unsent")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = frames.FrameReader()
        self.last = time.monotonic()
        self.unsent = bytearray()


class _Lines:
    """A worker's calls, served by one thread on one selector.

    A completed packet is authenticated at once (the loop has nothing better to do with
    the CPU) and goes up the pipe with the others authenticated in the same turn of the
    loop, in one write; its answer is written when its verdict comes down.  If the
    server process is gone, every waiting and later packet gets a transient
    ``store-failed`` answer, so the unit sends it again later, and the worker ends.

    A plain selector loop rather than asyncio: a call lasts one or a few packets, and
    asyncio's machinery for each connection (a task to accept it, a transport, its
    callbacks) cost about twice the CPU of this loop's (measured on this machine: some
    60-95 against 40-48 µs a connection).
    """

    def __init__(
        self, board: Switchboard, listener: socket.socket, up: int, down: int, idle: float
    ):
        self.board = board
        self.idle = idle
        self.up = up
        self.selector = selectors.DefaultSelector()
        listener.setblocking(False)
        self.listener = listener
        self.selector.register(listener, selectors.EVENT_READ, self._accept)
        os.set_blocking(down, False)
        self.down = down
        self.selector.register(down, selectors.EVENT_READ, self._verdicts)
        self.calls: dict[socket.socket, _Call] = {}
        self.gone = False
        self._tickets = itertools.count()
        self._waiting: dict[int, tuple[bytes, Checked, _Call]] = {}
        self._outbox: list[tuple[int, bytes, Checked]] = []
        self._inbox = bytearray()
        self._paused_until = 0.0  # not accepting calls until then (see ACCEPT_PAUSE)

    def run(self) -> None:
        """Serve until the server process is gone (its pipe closes), then hang up."""
        sweep = time.monotonic() + min(self.idle, 5.0)
        while not self.gone:
            wake = min(sweep, self._paused_until or sweep)
            for key, mask in self.selector.select(max(0.0, wake - time.monotonic())):
                key.data(key.fileobj, mask)
            self._flush()
            now = time.monotonic()
            if self._paused_until and now >= self._paused_until:
                self._paused_until = 0.0
                self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
            if now >= sweep:
                for call in [c for c in self.calls.values() if c.last < now - self.idle]:
                    self._hang_up(call)  # a dead line
                sweep = now + min(self.idle, 5.0)
        if not self._paused_until:
            self.selector.unregister(self.listener)
        self.listener.close()
        for call in list(self.calls.values()):  # the answers already due leave first
            with contextlib.suppress(OSError):
                call.sock.setblocking(True)
                call.sock.settimeout(0.1)
                call.sock.sendall(call.unsent)
            self._hang_up(call)

    def _accept(self, listener: socket.socket, mask: int) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:  # a call dropped before it was taken
                continue
            except OSError:  # out of descriptors: take no calls for a moment
                self.selector.unregister(listener)
                self._paused_until = time.monotonic() + ACCEPT_PAUSE
                return
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            self.calls[sock] = _Call(sock)
            self.selector.register(sock, selectors.EVENT_READ, self._serve)
            self.board.stats["connections"] += 1

    def _serve(self, sock: socket.socket, mask: int) -> None:
        call = self.calls.get(sock)
        if call is None:  # hung up earlier in this turn (its answer failed), still listed
            return
        if mask & selectors.EVENT_WRITE:
            self._drain(call)
        if not mask & selectors.EVENT_READ or sock not in self.calls:
            return
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the unit hung up
            self._hang_up(call)
            return
        call.last = time.monotonic()
        board = self.board
        for wire in call.reader.feed(data):
            packet, message, answer = board.frame(wire)
            self._write(call, answer)
            if packet is not None:
                self._settle(call, message, board.authenticate(packet))

    def _settle(self, call: _Call, message: bytes, checked: Checked) -> None:
        if self.gone:
            self._write(call, self.board.answered(message, self._unavailable(message, checked)))
            return
        ticket = next(self._tickets)
        self._waiting[ticket] = (message, checked, call)
        self._outbox.append((ticket, message, checked))

    def _flush(self) -> None:
        """One write for the packets of a turn of the loop."""
        items, self._outbox = self._outbox, []
        if not items or self.gone:  # once gone, _server_gone has answered them all
            return
        data = memoryview(_framed(pickle.dumps(items)))
        try:
            while data:
                data = data[os.write(self.up, data) :]
        except OSError:  # the server process is gone: its pipe says so too
            self._server_gone()

    def _verdicts(self, down: int, mask: int) -> None:
        """Length-prefixed pickles from the server process, each a list of
        (ticket, verdict) or (None, the registry's units)."""
        try:
            data = os.read(down, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._server_gone()
            return
        self._inbox += data
        while len(self._inbox) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._inbox)
            end = _LENGTH.size + size
            if len(self._inbox) < end:
                return
            items = pickle.loads(self._inbox[_LENGTH.size : end])
            del self._inbox[:end]
            for ticket, item in items:
                if ticket is None:  # the registry, saved again by the server
                    self.board.registry = Registry(self.board.registry.path, item)
                else:
                    message, _, call = self._waiting.pop(ticket)
                    self._write(call, self.board.answered(message, item))

    def _server_gone(self) -> None:
        self.gone = True
        self.selector.unregister(self.down)
        waiting, self._waiting = self._waiting, {}
        for message, checked, call in waiting.values():
            self._write(call, self.board.answered(message, self._unavailable(message, checked)))

    def _unavailable(self, message: bytes, checked: Checked) -> Verdict:
        board = self.board
        reason = "the server process is unavailable"
        return store_failed(message, checked, reason, board.server, board.election, time.time())

    def _write(self, call: _Call, wires: list[bytes]) -> None:
        if wires and call.sock in self.calls:
            self._send(call, b"".join(wires))

    def _send(self, call: _Call, data: bytes) -> None:
        """Send what the socket takes now; the rest waits for it to be writable, and a
        call with more than :data:`UNSENT_MAX` waiting is hung up."""
        if not call.unsent:
            sent = self._try_send(call, data)
            if sent is None or sent == len(data):
                return
            data = data[sent:]
            self.selector.modify(call.sock, _READ_WRITE, self._serve)
        call.unsent += data
        if len(call.unsent) > UNSENT_MAX:
            self._hang_up(call)

    def _drain(self, call: _Call) -> None:
        """The socket is writable again: send what waits."""
        sent = self._try_send(call, call.unsent)
        if sent is None:
            return
        del call.unsent[:sent]
        if not call.unsent:
            self.selector.modify(call.sock, selectors.EVENT_READ, self._serve)

    def _try_send(self, call: _Call, data: bytes | bytearray) -> int | None:
        """Bytes the socket took, or None when the line is gone (and hung up)."""
        try:
            return call.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self._hang_up(call)
            return None

    def _hang_up(self, call: _Call) -> None:
        if self.calls.pop(call.sock, None) is None:
            return
        self.board.stats["dropped_runs"] += call.reader.dropped
        self.selector.unregister(call.sock)
        call.sock.close()


def serve() -> None:
    """A worker process: serve calls on the inherited socket until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    down = os.fdopen(0, "rb", buffering=0)
    up = os.dup(1)
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    try:
        setup = pickle.loads(_receive(down))
    except EOFError:
        return
    tune_gc()
    path, units = setup["registry"]
    board = Switchboard(
        Registry(Path(path), units),
        ServerKeys(SigningKey(setup["sign"]), AgreementKey(setup["kex"])),
        setup["election"],
        reply_cache=setup["reply_cache"],
        presign=True,
    )
    listener = socket.socket(fileno=setup["listener"])
    _Lines(board, listener, up, down.fileno(), setup["idle_timeout"]).run()


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
