"""Injectable clocks: the unit reads the time only through a :class:`Clock`.

A test or a simulation drives a :class:`FakeClock` (deterministic, with skew and jumps
on demand) so that reports and audit records are the same bytes on every run.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

BISHKEK = dt.timezone(dt.timedelta(hours=6), "Asia/Bishkek")
"""Kyrgyzstan's time zone (UTC+6, no daylight saving)."""


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The host's clock in Bishkek time."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(BISHKEK)


class FakeClock:
    """A clock that moves only when told: ``tick`` seconds on every reading, plus
    :meth:`advance` (forwards, or backwards as a mis-set real-time clock jumps)."""

    def __init__(self, start: dt.datetime | str = "2021-11-28T07:30:00+06:00", tick: float = 0.0):
        self._now = dt.datetime.fromisoformat(start) if isinstance(start, str) else start
        if self._now.tzinfo is None:
            raise ValueError("a clock's start time needs a time zone")
        self.tick = dt.timedelta(seconds=tick)

    def now(self) -> dt.datetime:
        current = self._now
        self._now += self.tick
        return current

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)

    def set(self, when: dt.datetime | str) -> None:
        self._now = dt.datetime.fromisoformat(when) if isinstance(when, str) else when


def stamp(when: dt.datetime) -> str:
    """The one text form of a time in journals, logs and reports."""
    return when.isoformat(timespec="seconds")
