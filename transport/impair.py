"""What a telephone line does to frames: named, seeded impairment profiles.

Loss, duplication and reordering act on whole frames (cut at the 0x00 delimiter, as the
receiver sees them); bit flips act on bytes; the rate limit and latency delay delivery.
Every random draw comes from one ``random.Random(seed)`` per direction, so a seed
replays the same line exactly for the same traffic.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, replace

from transport.errors import ConfigError

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
HOLD_MAX = 0.1  # seconds a frame held back for reordering waits for a successor
PENDING_MAX = 4096  # bytes without a delimiter are passed on as one unit after this


@dataclass(frozen=True)
class Profile:
    """Line impairments; probabilities are per frame unless named per byte or per dial."""

    name: str
    connect_rate: int = 115200  # what CONNECT reports
    rate: int | None = None  # bits per second actually carried; None = unlimited
    latency: float = 0.0  # seconds, one way
    jitter: float = 0.0  # seconds, uniform 0..jitter added to the latency
    loss: float = 0.0
    bit_flip: float = 0.0  # per byte
    duplicate: float = 0.0
    reorder: float = 0.0
    drop_after: tuple[int, int] | None = None  # carrier drops after uniform(a, b) bytes
    busy: float = 0.0  # per dial
    no_answer: float = 0.0  # per dial
    no_dialtone: float = 0.0  # per dial
    dial_delay: float = 0.0  # seconds from ATD to the result

    def with_rate(self, rate: int) -> Profile:
        """The same line limited to ``rate`` bits per second (and saying so on CONNECT)."""
        return replace(self, name=f"{self.name}@{rate}", rate=rate, connect_rate=rate)


PROFILES: dict[str, Profile] = {
    "clean": Profile("clean"),
    "rural-9600": Profile(
        "rural-9600",
        connect_rate=9600,
        rate=9600,
        latency=0.15,
        jitter=0.05,
        loss=0.01,
        bit_flip=1e-5,
        busy=0.05,
        dial_delay=3.0,
    ),
    "hostile": Profile(
        "hostile",
        latency=0.005,
        jitter=0.005,
        loss=0.30,
        bit_flip=1e-4,
        duplicate=0.05,
        reorder=0.05,
        drop_after=(2_000, 12_000),
        busy=0.10,
        no_answer=0.05,
        no_dialtone=0.02,
        dial_delay=0.02,
    ),
}


def profile(name: str) -> Profile:
    """The named profile; :class:`ConfigError` lists the names when it does not exist."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; one of {', '.join(PROFILES)}") from None


class Direction:
    """One direction of the line: frames in, impaired bytes out when they are due."""

    def __init__(self, profile: Profile, rng: random.Random):
        self.profile = profile
        self.rng = rng
        self.stats = {"frames": 0, "lost": 0, "duplicated": 0, "reordered": 0, "flipped": 0}
        self._pending = bytearray()
        self._held: tuple[bytes, float] | None = None
        self._queue: deque[tuple[float, bytes]] = deque()
        self._free_at = 0.0

    def push(self, data: bytes, now: float) -> None:
        """Accept bytes from the sender; complete frames are impaired and scheduled."""
        self._pending += data
        while True:
            end = self._pending.find(0)
            if end < 0:
                if len(self._pending) > PENDING_MAX:
                    self._frame(bytes(self._pending), now)
                    self._pending.clear()
                return
            frame = bytes(self._pending[: end + 1])
            del self._pending[: end + 1]
            self._frame(frame, now)

    def _frame(self, frame: bytes, now: float) -> None:
        p, rng = self.profile, self.rng
        self.stats["frames"] += 1
        if rng.random() < p.loss:
            self.stats["lost"] += 1
            return
        frame = self._flip(frame)
        copies = [frame, frame] if rng.random() < p.duplicate else [frame]
        self.stats["duplicated"] += len(copies) - 1
        if self._held is None and rng.random() < p.reorder:
            self.stats["reordered"] += 1
            self._held = (b"".join(copies), now)
            return
        for copy in copies:
            self._schedule(copy, now)
        self._release(now)

    def _flip(self, frame: bytes) -> bytes:
        p = self.profile.bit_flip
        if p <= 0:
            return frame
        out = bytearray(frame)
        position = -1
        while True:  # geometric gaps between flipped bytes
            position += 1 + int(math.log(1.0 - self.rng.random()) / math.log(1.0 - p))
            if position >= len(out):
                return bytes(out)
            out[position] ^= 1 << self.rng.randrange(8)
            self.stats["flipped"] += 1

    def _release(self, now: float) -> None:
        if self._held is not None:
            held, _ = self._held
            self._held = None
            self._schedule(held, now)

    def _schedule(self, data: bytes, now: float) -> None:
        p = self.profile
        start = max(now + p.latency + self.rng.uniform(0.0, p.jitter), self._free_at)
        duration = len(data) * BITS_PER_BYTE / p.rate if p.rate else 0.0
        self._free_at = start + duration
        self._queue.append((self._free_at, data))

    def next_due(self) -> float | None:
        """When the next delivery (or the release of a held frame) is due."""
        times = []
        if self._queue:
            times.append(self._queue[0][0])
        if self._held is not None:
            times.append(self._held[1] + HOLD_MAX)
        return min(times) if times else None

    def due(self, now: float) -> bytes:
        """Bytes whose delivery time has come."""
        if self._held is not None and now >= self._held[1] + HOLD_MAX:
            self._release(now)
        out = bytearray()
        while self._queue and self._queue[0][0] <= now:
            out += self._queue.popleft()[1]
        return bytes(out)

    def flush(self) -> bytes:
        """Everything scheduled or held, at once (the carrier is about to drop)."""
        out = b"".join(data for _, data in self._queue)
        if self._held is not None:
            out += self._held[0]
        self.clear()
        return out

    def clear(self) -> None:
        """Carrier lost: whatever was on the line is gone."""
        self._pending.clear()
        self._held = None
        self._queue.clear()
        self._free_at = 0.0
