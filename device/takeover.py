"""Reserve-unit takeover: a failed unit's journal becomes one record of the reserve's.

The territorial commission brings a reserve unit; its technician prints the reserve's
zero report, plugs in the failed unit's memory and imports its journal.  The import is
a single journal record holding every ballot record the failed unit had made durable
(and, recursively, what *it* had imported), so it is atomic: after a power cut it is
either wholly there or torn and absent -- never half counted, and a second import of
the same unit is refused, so nothing is doubled.  The failed unit's own torn record, if
any, stays uncounted: that voter's ballot was never accepted and is fed again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from device.errors import JournalCorrupt, TakeoverRefused
from device.journal import scan


def import_record(
    data: bytes, *, fingerprint: str, dec: int, contests: Iterable[str], reserve: str
) -> dict[str, Any]:
    """The journal record a reserve unit appends to take over the journal ``data``."""
    try:
        found = scan(data)
    except JournalCorrupt as exc:
        raise TakeoverRefused(f"the failed unit's journal cannot be imported: {exc}") from None
    if not found.records or found.records[0].get("t") != "unit":
        raise TakeoverRefused("the failed unit's journal holds no unit record (nothing to import)")
    head = found.records[0]
    source = head["unit"]
    if head["election"] != fingerprint:
        raise TakeoverRefused(
            f"unit {source} counted election {head['election'][:16]}…, "
            f"this unit {fingerprint[:16]}…"
        )
    if head["dec"] != dec:
        raise TakeoverRefused(f"unit {source} served DEC {head['dec']}, this unit DEC {dec}")
    missing = set(head["contests"]) - set(contests)
    if missing:
        raise TakeoverRefused(f"unit {source} counted {sorted(missing)}, which this unit does not")
    if source == reserve:
        raise TakeoverRefused(f"a unit cannot import its own journal ({source})")
    ballots: list[dict[str, Any]] = []
    returned: Counter[str] = Counter()
    units = [source]
    for record in found.records[1:]:
        kind = record["t"]
        if kind == "ballot":
            ballots.append({**record, "u": source})
        elif kind == "return":
            returned[record["r"]] += 1
        elif kind == "import":
            ballots += record["ballots"]
            returned.update(record["returned"])
            units += record["units"]
    return {
        "t": "import",
        "unit": source,
        "units": units,
        "sha256": found.sha256(data),
        "ballots": ballots,
        "returned": dict(sorted(returned.items())),
        "torn": len(found.torn),
    }
