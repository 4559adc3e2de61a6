"""Shared builders for the device tests: one tiny election, one unit, its ballots."""

from __future__ import annotations

import functools
from typing import Any

from device.clock import FakeClock
from device.hardware import Sheet, generated
from device.machine import Pcos, UnitConfig
from device.signing import UnitKey
from device.storage import Storage
from election.model import Election
from fixtures.scenario import build

DEC = 2001
CONFIG = UnitConfig("2001-PR", DEC, ("PR",))
LATER = "2021-11-28T21:00:00+06:00"
"""A restart's clock: after everything a session records, so the clock check passes."""


@functools.cache
def election() -> Election:
    return build("kg2021", "tiny", 0)


@functools.cache
def sheets(n: int, contest: str | None = "PR", seed: int = 0) -> tuple[Sheet, ...]:
    return tuple(generated(election(), DEC, contest, n, seed))


def unit(storage: Storage, config: UnitConfig = CONFIG, **kw: Any) -> Pcos:
    kw.setdefault("clock", FakeClock(tick=1))
    kw.setdefault("key", UnitKey.derived(config.unit))
    return Pcos(config, kw.pop("election", None) or election(), storage, **kw)


def restart(storage: Storage, config: UnitConfig = CONFIG, **kw: Any) -> Pcos:
    """A fresh unit on the same memory, powered on with a later clock."""
    kw.setdefault("clock", FakeClock(LATER, tick=1))
    again = unit(storage, config, **kw)
    again.power_on()
    return again
