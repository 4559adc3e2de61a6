"""What the server reads in a unit's payloads, and how it refuses what it cannot read.

The transport treats a payload as an opaque map; this module is the server's contract
with the device (docs/server.md, "Payloads").  A payload the server cannot read is still
stored and acknowledged -- it is signed evidence, and refusing it would only make the
unit send it forever -- but it never counts: its DEC is quarantined with the reason.

RESULTS   ``{"dec": int, "contests": [ContestTally.to_json(), ...],
            "participants": int (optional), "cvrs": [...] (optional)}``
ZERO_REPORT  ``{"dec": int, "contests": [...] (optional, all zero)}``
AUDIT_HEAD   ``{"head": text or bytes, "count": int (optional)}``

``participants`` is the number of voters issued a ballot at the DEC, as the commission
enters it at the close; without it the server takes the ballots found as a lower bound.
``cvrs`` are anonymised cast vote records (:func:`parse_cvrs`) for the NIST SP 1500-103
export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from election.tally import ContestTally
from transport.packet import MessageType


class PayloadError(ValueError):
    """A payload that is not what its message type promises; the text says why."""


@dataclass(frozen=True)
class Cvr:
    """One ballot's reading in one contest: ``kind`` vote, blank or overvote; ``option``
    for a vote; ``position`` the credited list position (PR only)."""

    contest: str
    kind: str
    option: str | None = None
    position: int | None = None


@dataclass(frozen=True)
class Results:
    """A unit's final report as the server counts it."""

    dec: int
    tallies: Mapping[str, ContestTally]
    participants: int | None
    cvrs: tuple[Cvr, ...] = ()


@dataclass(frozen=True)
class Zero:
    """A zero (initial) report: ``ok`` when every count in it is zero."""

    dec: int
    ok: bool


@dataclass(frozen=True)
class AuditHead:
    """The head hash of a unit's audit log and how many entries it covers."""

    head: str
    count: int | None


Parsed = Results | Zero | AuditHead | None


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{name} must be a whole number >= 0, got {value!r}")
    return value


def _dec(payload: Mapping[str, Any], header_dec: int) -> int:
    dec = _count(payload.get("dec"), "dec")
    if dec != header_dec:
        raise PayloadError(f"payload names DEC {dec} but the signed header DEC {header_dec}")
    return dec


def _tallies(items: Any) -> dict[str, ContestTally]:
    if not isinstance(items, list):
        raise PayloadError("contests must be a list of tallies")
    out: dict[str, ContestTally] = {}
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("contest"), str):
            raise PayloadError("each contest must be a map with a contest id")
        try:
            tally = ContestTally.from_json(item)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise PayloadError(f"contest {item['contest']}: {exc}") from None
        if tally.contest in out:
            raise PayloadError(f"contest {tally.contest} appears twice")
        out[tally.contest] = tally
    return out


def parse_cvrs(items: Any) -> tuple[Cvr, ...]:
    """``[{"c": contest, "k": "vote"|"blank"|"overvote", "o": option, "p": position}]``,
    the device journal's short keys, in an order that does not follow casting."""
    if not isinstance(items, list):
        raise PayloadError("cvrs must be a list")
    out = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("k") not in ("vote", "blank", "overvote"):
            raise PayloadError("each cvr must be a map with k = vote, blank or overvote")
        option, position = item.get("o"), item.get("p")
        if item["k"] == "vote" and not isinstance(option, str):
            raise PayloadError("a vote cvr needs its option")
        if position is not None:
            _count(position, "cvr position")
        out.append(Cvr(str(item.get("c")), item["k"], option, position))
    return tuple(out)


def parse(kind: MessageType, header_dec: int, payload: Mapping[str, Any]) -> Parsed:
    """The server's reading of a verified payload; :class:`PayloadError` if unreadable.

    HEARTBEAT (and any future type) carries nothing the server counts: None.
    """
    if kind is MessageType.RESULTS:
        participants = payload.get("participants")
        if participants is not None:
            participants = _count(participants, "participants")
        cvrs = parse_cvrs(payload["cvrs"]) if "cvrs" in payload else ()
        return Results(
            _dec(payload, header_dec), _tallies(payload.get("contests")), participants, cvrs
        )
    if kind is MessageType.ZERO_REPORT:
        tallies = _tallies(payload.get("contests", []))
        return Zero(_dec(payload, header_dec), all(t.ballots == 0 for t in tallies.values()))
    if kind is MessageType.AUDIT_HEAD:
        head = payload.get("head")
        if isinstance(head, bytes):
            head = head.hex()
        if not isinstance(head, str) or not head:
            raise PayloadError("head must be text or bytes")
        count = payload.get("count")
        return AuditHead(head, None if count is None else _count(count, "count"))
    return None
