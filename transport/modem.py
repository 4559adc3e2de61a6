"""A Hayes-compatible modem on a pseudo-terminal, bridged to the gateway over loopback TCP.

The device opens the pty's slave path with pyserial exactly as it would open a real
modem's serial port, and talks the AT dialogue to it.  Once ``ATD`` connects, bytes pass
to and from a TCP connection to the gateway on 127.0.0.1 through two seeded
:class:`~transport.impair.Direction` lines, which lose, flip, duplicate, reorder, delay
and rate-limit frames as the profile says, and the carrier drops after a drawn number of
bytes.  Only loopback addresses are accepted, so a test can never dial the world.

Commands (case-insensitive, ended by CR): ``AT``, ``ATZ``, ``ATE0``/``ATE1``,
``ATD[T|P]<number>``, ``ATH[0]``, ``ATO[0]``, and ``+++`` framed by the guard time in
data mode.  Results (verbose): ``OK``, ``CONNECT <rate>``, ``NO CARRIER``, ``BUSY``,
``NO DIALTONE``, ``ERROR``.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import os
import random
import select
import socket
import threading
import time
import tty

from transport.errors import ConfigError
from transport.impair import Direction, Profile

ESCAPE = b"+++"


def _is_loopback(host: str) -> bool:
    """Literal loopback addresses or ``localhost``; no name is ever looked up."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class State(enum.Enum):
    COMMAND = "command"  # no call, reading AT commands
    DIALING = "dialing"
    ONLINE = "online"  # data mode: bytes go to the line
    ONLINE_COMMAND = "online-command"  # escaped with +++, call still up


class ModemEmulator:
    """Run with :meth:`start` (a thread) and connect a serial port to :attr:`path`."""

    def __init__(
        self,
        gateway: tuple[str, int],
        profile: Profile,
        *,
        seed: int = 0,
        guard_time: float = 1.0,
    ):
        if not _is_loopback(gateway[0]):
            raise ConfigError(f"the modem emulator only dials loopback gateways, not {gateway[0]}")
        self.gateway = gateway
        self.profile = profile
        self.guard_time = guard_time
        self._rng = random.Random(f"modem/{seed}")
        self._up = Direction(profile, random.Random(f"up/{seed}"))
        self._down = Direction(profile, random.Random(f"down/{seed}"))
        self.stats = {
            "dials": 0,
            "connects": 0,
            "busy": 0,
            "no_answer": 0,
            "no_dialtone": 0,
            "carrier_drops": 0,
        }
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._state = State.COMMAND
        self._echo = True
        self._line = bytearray()
        self._to_device = bytearray()
        self._sock: socket.socket | None = None
        self._dial_at = 0.0
        self._dial_result = ""
        self._budget: int | None = None
        self._last_rx = 0.0
        self._plus = 0
        self._plus_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Life cycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start the emulator thread; returns the pty path for the device."""
        self._thread = threading.Thread(target=self._run, name="modem", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._hangup()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def line_stats(self) -> dict[str, dict[str, int]]:
        return {"up": dict(self._up.stats), "down": dict(self._down.stats)}

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            readers = [self._master] + ([self._sock] if self._sock else [])
            writers = [self._master] if self._to_device else []
            ready, writable, _ = select.select(readers, writers, [], self._wait(now))
            now = time.monotonic()
            if self._master in ready:
                with contextlib.suppress(BlockingIOError):
                    self._from_device(os.read(self._master, 4096), now)
            if self._sock is not None and self._sock in ready:
                self._from_line(now)
            self._timers(now)
            if self._to_device and (writable or not writers):
                with contextlib.suppress(BlockingIOError):
                    del self._to_device[: os.write(self._master, self._to_device)]

    def _wait(self, now: float) -> float:
        deadlines = [now + 0.05]
        if self._state is State.DIALING:
            deadlines.append(self._dial_at)
        if self._plus:
            deadlines.append(self._plus_at + self.guard_time)
        for direction in (self._up, self._down):
            due = direction.next_due()
            if due is not None:
                deadlines.append(due)
        return max(0.0, min(deadlines) - now)

    # Device side --------------------------------------------------------------------------

    def _say(self, result: str) -> None:
        self._to_device += f"\r\n{result}\r\n".encode()

    def _from_device(self, data: bytes, now: float) -> None:
        if self._state is State.ONLINE:
            self._online_bytes(data, now)
        elif self._state is not State.DIALING:
            for byte in data:
                self._command_byte(byte)
        self._last_rx = now

    def _online_bytes(self, data: bytes, now: float) -> None:
        """Forward data, holding back a possible ``+++`` escape until the guard passes."""
        quiet = now - self._last_rx >= self.guard_time
        pluses = set(data) == {ESCAPE[0]}
        if pluses and self._plus + len(data) <= 3 and (self._plus or quiet):
            self._plus += len(data)
            self._plus_at = now
            return
        if self._plus:
            self._to_line(ESCAPE[: self._plus], now)
            self._plus = 0
        self._to_line(data, now)

    def _command_byte(self, byte: int) -> None:
        if self._echo:
            self._to_device.append(byte)
        if byte in (0x0D, 0x0A):
            text = self._line.decode("ascii", "replace").strip().upper()
            self._line.clear()
            if text:
                self._command(text)
        elif byte in (0x08, 0x7F):
            del self._line[-1:]
        elif len(self._line) < 80:
            self._line.append(byte)

    def _command(self, text: str) -> None:
        if not text.startswith("AT"):
            self._say("ERROR")
            return
        rest = text[2:]
        while rest:
            letter, rest = rest[0], rest[1:]
            if letter == "D":
                self._dial(rest.lstrip("TP").strip())
                return
            digits = ""
            while rest[:1].isdigit():
                digits, rest = digits + rest[0], rest[1:]
            if letter == "Z" and digits in ("", "0"):
                self._hangup()
                self._echo = True
            elif letter == "E" and digits in ("", "0", "1"):
                self._echo = digits == "1"
            elif letter == "H" and digits in ("", "0"):
                self._hangup()
            elif letter == "O" and digits in ("", "0"):
                self._resume()
                return
            elif not (letter in "QVXLM" and len(digits) <= 1):
                self._say("ERROR")
                return
        self._say("OK")

    def _dial(self, number: str) -> None:
        if not number or self._sock is not None:
            self._say("ERROR")
            return
        self.stats["dials"] += 1
        p, draw = self.profile, self._rng.random()
        outcomes = (("NO DIALTONE", p.no_dialtone), ("BUSY", p.busy), ("NO CARRIER", p.no_answer))
        self._dial_result = "CONNECT"
        for result, chance in outcomes:
            if draw < chance:
                self._dial_result = result
                break
            draw -= chance
        self._state = State.DIALING
        self._dial_at = time.monotonic() + p.dial_delay

    def _resume(self) -> None:
        if self._sock is None:
            self._say("NO CARRIER")
            return
        self._state = State.ONLINE
        self._say(f"CONNECT {self.profile.connect_rate}")

    # Call and line ------------------------------------------------------------------------

    def _answer(self) -> None:
        result = self._dial_result
        self._state = State.COMMAND
        if result == "CONNECT":
            try:
                self._sock = socket.create_connection(self.gateway, timeout=2)
            except OSError:
                result = "NO CARRIER"
        key = {"BUSY": "busy", "NO CARRIER": "no_answer", "NO DIALTONE": "no_dialtone"}
        if result != "CONNECT":
            self.stats[key[result]] += 1
            self._say(result)
            return
        self.stats["connects"] += 1
        self._sock.settimeout(2.0)  # sends wait at most this; reads only when select says so
        drop = self.profile.drop_after
        self._budget = self._rng.randint(*drop) if drop else None
        self._state = State.ONLINE
        self._last_rx = time.monotonic()
        self._say(f"CONNECT {self.profile.connect_rate}")

    def _hangup(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._up.clear()
        self._down.clear()
        self._plus = 0
        if self._state is not State.DIALING:
            self._state = State.COMMAND

    def _carrier_lost(self) -> None:
        """Bytes already on the line still arrive; then the call is gone."""
        self.stats["carrier_drops"] += 1
        up, down = self._up.flush(), self._down.flush()
        if up and self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.sendall(up)
        if self._state is State.ONLINE:
            self._to_device += down
        self._hangup()
        self._say("NO CARRIER")

    def _carry(self, direction: Direction, data: bytes, now: float) -> None:
        """Put ``data`` on the line; the carrier drops once the call's byte budget is spent."""
        if self._budget is None:
            direction.push(data, now)
            return
        room = max(self._budget, 0)
        self._budget -= len(data)
        direction.push(data[:room], now)
        if self._budget < 0:
            self._carrier_lost()

    def _to_line(self, data: bytes, now: float) -> None:
        if self._sock is not None:
            self._carry(self._up, data, now)

    def _from_line(self, now: float) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._carrier_lost()
            return
        if self._state is State.ONLINE:
            self._carry(self._down, data, now)

    def _timers(self, now: float) -> None:
        if self._state is State.DIALING and now >= self._dial_at:
            self._answer()
        if self._plus and now - self._plus_at >= self.guard_time:
            if self._plus == 3:
                self._state = State.ONLINE_COMMAND
                self._say("OK")
            else:
                self._to_line(ESCAPE[: self._plus], now)
            self._plus = 0
        up = self._up.due(now)
        if up and self._sock is not None:
            try:
                self._sock.sendall(up)
            except OSError:
                self._carrier_lost()
        down = self._down.due(now)
        if down and self._state is State.ONLINE:
            self._to_device += down
