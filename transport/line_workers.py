"""The server's gateway spread over processes: line servers in workers, one settler here.

Authenticating a packet (X25519, ChaCha20-Poly1305, Ed25519, strict CBOR) and serving
its call (framing, reassembly) cost far more than deciding and storing it, and all of it
holds the GIL.  So each worker process runs a :class:`~transport.gateway.LineServer` on
the one listening socket they share (the kernel hands each call to one of them), signs
the ACK in advance, and sends the authenticated packet here; this process only settles
it in a group commit (:class:`~transport.gateway.Settler`: replay check, one durable
commit per group) and sends the verdict back.  An ACK still leaves only after its
group's commit: the worker holds it until the verdict arrives.

Workers are plain ``python -c`` subprocesses talking length-prefixed pickles over their
stdin and stdout (never the parent's main script, unlike multiprocessing's spawn).  The
setup, keys included, goes down the pipe, not on the command line.  A worker exits when
its stdin closes, which also happens when the server is killed; a worker that dies is
started again, and the calls it was serving are redialled by their units like any
dropped line.  Workers ignore Ctrl-C: the server decides when they end.
"""

from __future__ import annotations

import contextlib
import itertools
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from transport.crypto import AgreementKey, SigningKey
from transport.gateway import (
    BatchStore,
    Checked,
    LineServer,
    Settler,
    Sink,
    count,
    store_failed,
)
from transport.intake import ReplayView, Verdict
from transport.keys import Registry, ServerKeys

RESTARTS = 5
"""How many times one worker slot is restarted before the server gives up on it."""


@dataclass
class _Worker:
    slot: int
    process: subprocess.Popen[bytes]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        with self.lock:
            _send(self.process.stdin, data)


class LineWorkers:
    """``workers`` line-server processes and the settler they share; start with
    :meth:`start`, connect modems to :attr:`address`.

    ``replay`` and ``sink`` are the settler's (the server's intake); ``max_batch`` and
    ``max_wait`` bound a group commit.
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
        max_wait: float = 0.005,
    ):
        if workers < 1:
            raise ValueError("line workers need at least one process")
        self.settler = Settler(
            replay, sink, server, election, clock=clock, max_batch=max_batch, max_wait=max_wait
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
            }
        )
        self._count = workers
        # Each waiting packet blocks a thread in the group commit, so allow a few groups.
        self._settling = ThreadPoolExecutor(4 * max_batch, thread_name_prefix="settle")
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
        return self.address

    def stop(self) -> None:
        self._stopping.set()
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
        self._settling.shutdown(wait=True)
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
        worker.send(self._setup)
        self._workers[slot] = worker
        reader = threading.Thread(
            target=self._read, args=(worker,), name=f"line-worker-{slot}", daemon=True
        )
        reader.start()
        self._readers.append(reader)

    def _read(self, worker: _Worker) -> None:
        """Hand each packet from ``worker`` to a settling thread; restart it if it dies."""
        assert worker.process.stdout is not None
        while True:
            try:
                request = _receive(worker.process.stdout)
            except (OSError, EOFError):
                break
            ticket, message, checked = pickle.loads(request)
            self._settling.submit(self._settle, worker, ticket, message, checked)
        worker.process.wait()
        worker.process.stdout.close()
        if self._stopping.is_set():
            return
        self.stats["worker-exits"] += 1
        self._restarts[worker.slot] += 1
        if self._restarts[worker.slot] <= RESTARTS:
            self._spawn(worker.slot)

    def _settle(self, worker: _Worker, ticket: int, message: bytes, checked: Checked) -> None:
        verdict = self.settler.submit(message, checked)
        count(self.stats, verdict)
        with contextlib.suppress(OSError):  # a worker that died has hung up its calls
            worker.send(pickle.dumps((ticket, verdict)))


# The worker process ----------------------------------------------------------------------------


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    verdict: Verdict | None = None


class _Upstream:
    """A worker's settler: sends authenticated packets to the server process and waits
    for their verdicts.  If the server process is gone, every waiting and later packet
    gets a transient ``store-failed`` answer, so the unit retries elsewhere or later."""

    def __init__(self, out: BinaryIO, server: ServerKeys, election: str):
        self._out = out
        self._server = server
        self._election = election
        self._lock = threading.Lock()
        self._tickets = itertools.count()
        self._pending: dict[int, _Pending] = {}
        self._gone = False

    def arriving(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def submit(self, message: bytes, checked: Checked) -> Verdict:
        pending = _Pending()
        with self._lock:
            sent = not self._gone and self._post(pending, message, checked)
        if sent:
            pending.done.wait()
        if pending.verdict is not None:
            return pending.verdict
        reason = "the server process is unavailable"
        return store_failed(message, checked, reason, self._server, self._election, time.time())

    def _post(self, pending: _Pending, message: bytes, checked: Checked) -> bool:
        """Under the lock: send the packet upstream; False if the pipe is closed."""
        ticket = next(self._tickets)
        self._pending[ticket] = pending
        try:
            _send(self._out, pickle.dumps((ticket, message, checked)))
        except OSError:
            del self._pending[ticket]
            self._gone = True
            return False
        return True

    def read_verdicts(self, stream: BinaryIO) -> None:
        """Deliver verdicts until the server process closes the pipe."""
        while True:
            try:
                ticket, verdict = pickle.loads(_receive(stream))
            except (OSError, EOFError):
                break
            with self._lock:
                pending = self._pending.pop(ticket)
            pending.verdict = verdict
            pending.done.set()
        with self._lock:
            self._gone = True
            waiting, self._pending = list(self._pending.values()), {}
        for pending in waiting:
            pending.done.set()


def serve() -> None:
    """A worker process: serve calls on the inherited socket until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    try:
        setup = pickle.loads(_receive(requests))
    except EOFError:
        return
    server = ServerKeys(SigningKey(setup["sign"]), AgreementKey(setup["kex"]))
    path, units = setup["registry"]
    upstream = _Upstream(answers, server, setup["election"])
    lines = LineServer(
        Registry(Path(path), units),
        server,
        setup["election"],
        upstream,
        socket.socket(fileno=setup["listener"]),
        reply_cache=setup["reply_cache"],
        presign=True,
    )
    lines.start()
    try:
        upstream.read_verdicts(requests)
    finally:
        lines.stop(grace=5.0)  # the calls waiting for a verdict get their answer


_LENGTH = struct.Struct(">I")


def _send(stream: BinaryIO, data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> bytes:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("pipe closed")
    return data
