"""The device's half of the Hayes AT dialogue: reset, dial, hang up.

Kept apart from the retransmission logic so the same link code runs over a modem (with a
number to dial) or straight over ``socket://`` or ``loop://`` (no number, no dialogue).
"""

from __future__ import annotations

import time

import serial

from transport.errors import ModemError

FINAL = ("OK", "CONNECT", "BUSY", "NO CARRIER", "NO DIALTONE", "NO ANSWER", "ERROR")
CARRIER_LOST = b"NO CARRIER"


class Dialer:
    """Sends AT commands on ``port`` and reads the modem's result codes."""

    def __init__(
        self,
        port: serial.SerialBase,
        number: str,
        *,
        command_timeout: float = 2.0,
        dial_timeout: float = 60.0,
        guard_time: float = 1.0,
    ):
        self.port = port
        self.number = number
        self.command_timeout = command_timeout
        self.dial_timeout = dial_timeout
        self.guard_time = guard_time

    def dial(self) -> int:
        """ATZ, ATE0, ATD<number>; returns the CONNECT rate or raises :class:`ModemError`."""
        self._drain()
        self._expect_ok("ATZ")
        self._expect_ok("ATE0")
        result = self.command(f"ATD{self.number}", self.dial_timeout)
        if not result.startswith("CONNECT"):
            raise ModemError(f"dialling {self.number}: {result}", result=result)
        rate = result.removeprefix("CONNECT").strip()
        return int(rate) if rate.isdigit() else 300

    def _drain(self, quiet: float = 0.02) -> None:
        """End whatever the modem was collecting (frame bytes sent after the carrier
        dropped land in its command buffer) with a CR, and discard its answer."""
        self.port.write(b"\r")
        self.port.flush()
        self.port.timeout = quiet
        deadline = time.monotonic() + self.command_timeout
        while self.port.read(4096) and time.monotonic() < deadline:
            pass

    def hangup(self) -> None:
        """Escape to command mode with ``+++`` between guard times, then ATH."""
        time.sleep(self.guard_time)
        self.port.reset_input_buffer()
        self.port.write(b"+++")
        self.port.flush()
        result = self._result("+++", self.guard_time + self.command_timeout)
        if result != "OK":
            raise ModemError(f"+++: {result}", result=result)
        self._expect_ok("ATH")

    def _expect_ok(self, text: str) -> None:
        result = self.command(text, self.command_timeout)
        if result != "OK":
            raise ModemError(f"{text}: {result}", result=result)

    def command(self, text: str, timeout: float) -> str:
        """Send one command line and return its final result code."""
        self.port.write(text.encode("ascii") + b"\r")
        self.port.flush()
        return self._result(text, timeout)

    def _result(self, text: str, timeout: float) -> str:
        """Read lines until a final result code; frame bytes and echo are skipped."""
        deadline = time.monotonic() + timeout
        buffer = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ModemError(f"{text}: no answer from the modem", result="TIMEOUT")
            self.port.timeout = min(remaining, 0.1)
            buffer += self.port.read(self.port.in_waiting or 1)
            *lines, buffer = buffer.replace(b"\n", b"\r").split(b"\r")
            for raw in lines:
                line = raw.decode("ascii", "replace").strip()
                if line.startswith(FINAL):
                    return line
