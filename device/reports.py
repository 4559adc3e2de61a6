"""Zero and final reports: one JSON body, a signed summary, and their paper forms.

The body (:func:`body`) is what the website publishes and what the tape prints.  Its
SHA-256 (``digest``) goes into the signed payload together with the counts, so an
observer holding the paper can check the counts offline and then check that the
website's JSON is the very report the unit signed (same digest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from device.errors import SignedReportError
from device.signing import Opened, UnitKey, base64_lines, open_envelope, qr_text, seal

FORMAT = "pcos-lab/unit-report"
SIGNED_FORMAT = "pcos-lab/signed-results/1"
VERSION = 1


@dataclass(frozen=True)
class Stamp:
    """What a report record in the journal fixes, so that a reprint is the same bytes."""

    kind: str
    sequence: int
    printed_at: str
    journal_sha256: str
    journal_records: int
    audit_seq: int
    audit_sha256: str


def body(
    stamp: Stamp,
    *,
    unit: Mapping[str, Any],
    election: Mapping[str, str],
    rules: Mapping[str, str],
    times: Mapping[str, str | None],
    tallies: Mapping[str, Any],
    summary: Mapping[str, Any],
    imported: Sequence[Mapping[str, Any]],
    clock_warnings: Sequence[str],
) -> dict[str, Any]:
    """The report as plain, key-sortable data (see docs/device.md for every field)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": stamp.kind,
        "sequence": stamp.sequence,
        "unit": dict(unit),
        "election": dict(election),
        "rules": dict(rules),
        "printed_at": stamp.printed_at,
        "polls_opened_at": times.get("polls_open"),
        "polls_closed_at": times.get("polls_closed"),
        "counts": {
            contest: {**tally.to_json(), "ballots": tally.ballots}
            for contest, tally in tallies.items()
        },
        "ballots": dict(summary),
        "imported": [dict(i) for i in imported],
        "journal": {"records": stamp.journal_records, "sha256": stamp.journal_sha256},
        "audit_head": {"seq": stamp.audit_seq, "sha256": stamp.audit_sha256},
        "clock_warnings": list(clock_warnings),
    }


def digest(report_body: Mapping[str, Any]) -> str:
    text = json.dumps(report_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def signed_payload(report_body: Mapping[str, Any]) -> dict[str, Any]:
    """The compact summary the QR code carries: counts per option, invalid ballots, the
    report's identity and its digest (which also covers the preference votes)."""
    return {
        "f": SIGNED_FORMAT,
        "k": report_body["kind"],
        "u": report_body["unit"]["id"],
        "d": report_body["unit"]["dec"],
        "e": report_body["election"]["fingerprint"],
        "n": report_body["sequence"],
        "t": report_body["printed_at"],
        "a": report_body["ballots"]["accepted"],
        "c": {
            contest: {"v": dict(c["votes"]), "b": c["blank"], "o": c["overvote"]}
            for contest, c in report_body["counts"].items()
        },
        "r": digest(report_body),
    }


@dataclass(frozen=True)
class Report:
    """A printed report: its body, and the signed envelope of its summary."""

    body: dict[str, Any]
    envelope: bytes

    @classmethod
    def sign(cls, report_body: dict[str, Any], key: UnitKey) -> Report:
        return cls(report_body, seal(key, signed_payload(report_body)))

    @property
    def digest(self) -> str:
        return digest(self.body)

    @property
    def qr(self) -> str:
        return qr_text(self.envelope)

    def to_json(self) -> dict[str, Any]:
        """The body plus its digest and the signed block (what the website shows)."""
        return {**self.body, "digest": self.digest, "signed": {"qr": self.qr}}

    def base64_block(self, width: int) -> list[str]:
        return base64_lines(self.envelope, width)


def compare(opened: Opened, report_json: Mapping[str, Any]) -> list[str]:
    """Differences between signed results and a report JSON (e.g. the website's copy);
    empty when the JSON is the report the unit signed."""
    payload = opened.payload
    try:
        stripped = {k: v for k, v in report_json.items() if k not in ("digest", "signed")}
        expected = signed_payload(stripped)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SignedReportError(f"not a unit report JSON (missing {exc})") from None
    out = [
        f"{name}: signed {payload.get(key)!r}, report {expected[key]!r}"
        for key, name in (
            ("u", "unit"),
            ("d", "DEC"),
            ("e", "election"),
            ("k", "kind"),
            ("n", "sequence"),
            ("a", "accepted ballots"),
        )
        if payload.get(key) != expected[key]
    ]
    for contest in sorted(set(payload.get("c", {})) | set(expected["c"])):
        signed, shown = payload.get("c", {}).get(contest), expected["c"].get(contest)
        if signed != shown:
            out.append(f"{contest}: signed {signed}, report {shown}")
    if not out and payload.get("r") != expected["r"]:
        out.append("report digest differs: same counts, but other content was changed")
    return out


def open_signed(envelope: bytes) -> Opened:
    opened = open_envelope(envelope)
    if opened.payload.get("f") != SIGNED_FORMAT:
        raise SignedReportError(f"unknown signed format {opened.payload.get('f')!r}")
    return opened
