"""Typed errors of the PCOS firmware, and the simulated power cut.

Every refusal a technician or voter can cause is a :class:`DeviceError` (a
``PcosLabError``), so the CLI prints one line and the firmware logs it.  A power cut is
not an error the firmware can handle: :class:`PowerCut` derives from ``BaseException``
so that no ``except Exception`` in the firmware can swallow it, just as no code runs on
a real unit once the supply is gone.
"""

from __future__ import annotations

from election.errors import PcosLabError


class DeviceError(PcosLabError):
    """A refused operation or a fault of the unit, with a message for the operator."""

    code = "device_error"


class IllegalTransition(DeviceError):
    """An operator action the current state does not allow (e.g. open polls twice)."""

    code = "illegal_transition"

    def __init__(self, state: str, action: str, why: str = "") -> None:
        message = f"'{action}' is not allowed in state {state}"
        super().__init__(f"{message}: {why}" if why else message)
        self.state = state
        self.action = action


class JournalCorrupt(DeviceError):
    """A journal that is damaged somewhere other than a torn last record.

    ``offset`` is the byte where the first bad record starts and ``record`` its index
    (0 is the file header); the file itself is never modified.
    """

    code = "journal_corrupt"

    def __init__(self, offset: int, record: int, reason: str) -> None:
        super().__init__(f"journal corrupt at byte {offset} (record {record}): {reason}")
        self.offset = offset
        self.record = record
        self.reason = reason


class PollsRefused(DeviceError):
    """The self-test failed, so the unit will not print reports or open the polls."""

    code = "polls_refused"


class StorageFull(DeviceError):
    """The unit's memory has no room for the next record; nothing of it was written."""

    code = "storage_full"


class TakeoverRefused(DeviceError):
    """A failed unit's journal that a reserve unit must not import (and why)."""

    code = "takeover_refused"


class SignedReportError(DeviceError):
    """A signed report that cannot be decoded or whose signature does not verify."""

    code = "report_invalid"


class PowerCut(BaseException):
    """The supply failed at a write point; raised by a simulated storage layer."""
