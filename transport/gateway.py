"""The server's end of the line: a loopback TCP listener that turns frames into stored
packets and signed replies.

Each connection (one per modem call) is read in its own thread; frames are decoded,
chunks reassembled, and every complete packet goes through :func:`transport.intake.verify`
under one lock.  A new packet is handed to the sink (the server's durable store) and only
after the sink returns is the ACK made, recorded and sent, so an ACK never promises
something that is not stored.  A sink that raises earns a transient NACK and nothing is
recorded.  Replies are cached by message id, so a poll for an answered packet (its ACK
was lost on the line) gets the same reply without a second verification.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable

from transport import frames, intake
from transport.errors import Rejected, StoreFailed
from transport.intake import ReplayState, VerifiedPacket
from transport.keys import Registry, ServerKeys

Sink = Callable[[VerifiedPacket], None]


class MemorySink:
    """Stores verified packets in a dict, counting every call (for exactly-once tests)."""

    def __init__(self) -> None:
        self.packets: dict[tuple[str, int], VerifiedPacket] = {}
        self.calls: Counter[tuple[str, int]] = Counter()

    def __call__(self, packet: VerifiedPacket) -> None:
        key = (packet.unit, packet.seq)
        self.calls[key] += 1
        self.packets[key] = packet


class Gateway:
    """Start with :meth:`start`; :attr:`address` is where modems connect."""

    def __init__(
        self,
        registry: Registry,
        replay: ReplayState,
        server: ServerKeys,
        election: str,
        sink: Sink,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        reply_cache: int = 4096,
    ):
        self.registry = registry
        self.replay = replay
        self.server = server
        self.election = election
        self.sink = sink
        self.clock = clock
        self.stats: Counter[str] = Counter()
        self._reply_cache = reply_cache
        self._replies: OrderedDict[bytes, list[bytes]] = OrderedDict()
        self._reassembler = frames.Reassembler()
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()

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
            return self._chunk(frame)

    def _chunk(self, chunk: frames.Chunk) -> list[bytes]:
        poll = chunk.index == chunk.count - 1
        cached = self._replies.get(chunk.message)
        if cached is not None:
            self.stats["chunks:answered"] += 1
            return cached if poll else []
        try:
            packet = self._reassembler.add(chunk)
        except Rejected as exc:
            self.stats[f"message:{exc.code}"] += 1
            return []
        if packet is None:
            if not poll:
                return []
            missing = self._reassembler.missing(chunk.message, chunk.count)
            return [frames.encode(frames.Status(chunk.message, chunk.count, missing))]
        reply, transient = self._packet(packet, chunk.message)
        wires = [frames.encode(c) for c in frames.split(reply)]
        if not transient:
            self._replies[chunk.message] = wires
            while len(self._replies) > self._reply_cache:
                self._replies.popitem(last=False)
        return wires

    def _packet(self, packet: bytes, message: bytes) -> tuple[bytes, bool]:
        """Verify, store, acknowledge; returns (reply packet, whether it is transient)."""
        now = int(self.clock())
        try:
            verified = intake.verify(
                packet, self.registry, self.replay, server=self.server, election=self.election
            )
        except Rejected as exc:
            self.stats[f"rejected:{exc.code}"] += 1
            return intake.refuse(exc, message, self.server, self.election, now), exc.transient
        if verified.duplicate:
            self.stats["duplicates"] += 1
            return intake.acknowledge(verified, self.replay, self.server, now), False
        try:
            self.sink(verified)
        except Exception as exc:  # the store's failure must not take the gateway down
            self.stats["store-failed"] += 1
            error = StoreFailed(f"store failed: {exc}", unit=verified.unit, seq=verified.seq)
            return intake.refuse(error, message, self.server, self.election, now), True
        self.stats["accepted"] += 1
        return intake.acknowledge(verified, self.replay, self.server, now), False
