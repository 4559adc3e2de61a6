"""What a unit sends to the central server, as transport messages.

The zero report goes out when the polls open, the final report and the audit-log head
when they close.  A message's sequence number is the report's own (journalled with it,
so a retransmission after a crash or a redial carries the same number and the server
answers with the same ACK); the audit-log head takes the number after the final report.
The payload is what server_stub/reports.py reads: the DEC, one tally per contest, and
the unit's whole signed report so the website can show it as printed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from transport.link import Outgoing
from transport.packet import MessageType


def _epoch(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp())


def _contests(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's counts as ``ContestTally.to_json`` maps (without the derived total)."""
    return [
        {key: value for key, value in counts.items() if key != "ballots"} | {"contest": contest}
        for contest, counts in sorted(report["counts"].items())
    ]


def zero_message(report: Mapping[str, Any]) -> Outgoing:
    """The zero report, sent when the polls open."""
    if report["kind"] != "zero":
        raise ValueError(f"not a zero report: {report['kind']}")
    payload = {"dec": report["unit"]["dec"], "contests": _contests(report), "report": dict(report)}
    when = _epoch(report["printed_at"])
    return Outgoing(MessageType.ZERO_REPORT, report["sequence"], when, payload)


def closing_messages(report: Mapping[str, Any]) -> list[Outgoing]:
    """The results and the audit-log head, sent when the polls close."""
    if report["kind"] != "final":
        raise ValueError(f"not a final report: {report['kind']}")
    when = _epoch(report["printed_at"])
    results = {"dec": report["unit"]["dec"], "contests": _contests(report), "report": dict(report)}
    head = {"head": report["audit_head"]["sha256"], "count": report["audit_head"]["seq"]}
    return [
        Outgoing(MessageType.RESULTS, report["sequence"], when, results),
        Outgoing(MessageType.AUDIT_HEAD, report["sequence"] + 1, when, head),
    ]
