"""Page data: one plain dict per page, which the HTML page renders and the API returns.

Building each page's data once, here, is what makes the JSON API mirror the website:
both serialise the same dict.  Numbers come only from published DEC states (and seats
only from ``election.results``); shares are of participants, rounded for display after
the invariants have checked the exact counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from election.model import AGAINST_ALL, PR_CONTEST_ID, Election
from election.protocol import Protocol, ProtocolFormatError
from election.results import ElectionResults
from election.rules import RuleSet
from election.tally import ContestTally, total
from server_stub import reports
from server_stub.aggregate import DecState
from server_stub.discrepancies import compare, protocol_problems
from server_stub.ledger import Arrival
from server_stub.store import StoredProtocol

BISHKEK = dt.timezone(dt.timedelta(hours=6), "Asia/Bishkek")

PALETTE = (
    "#1f5fa8",
    "#c0392b",
    "#2e8b57",
    "#d68910",
    "#7d3c98",
    "#17859b",
    "#a0522d",
    "#5d6d7e",
    "#b03a7a",
    "#4b7f1a",
    "#2c3e91",
    "#9a7d0a",
    "#117a65",
    "#922b21",
    "#6c3483",
    "#1a5276",
    "#7e5109",
    "#0e6655",
    "#943126",
    "#515a5a",
    "#2471a3",
)
AGAINST_ALL_COLOR = "#3d3d3d"


def pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


class Names:
    """Display names and colours of every option, looked up once."""

    def __init__(self, election: Election):
        self.election = election
        self.option: dict[str, str] = {p.id: p.name for p in election.parties}
        self.option.update({c.id: c.name for c in election.smd_candidates})
        self.option[AGAINST_ALL] = "AGAINST_ALL"
        self.color = {
            p.id: PALETTE[(p.ballot_position - 1) % len(PALETTE)] for p in election.parties
        }
        self.nominated = {c.id: c.nominated_by for c in election.smd_candidates}
        for c in election.smd_candidates:
            self.color[c.id] = self.color.get(c.nominated_by or "", "#7f8c8d")
        self.color[AGAINST_ALL] = AGAINST_ALL_COLOR


def contest_block(names: Names, tally: ContestTally, participants: int) -> dict[str, Any]:
    """A contest's numbers in ballot order, "against all" last."""
    options = names.election.options(tally.contest)
    rows = [
        {
            "id": o,
            "name": names.option.get(o, o),
            "votes": tally.votes.get(o, 0),
            "share_pct": pct(tally.votes.get(o, 0), participants),
            "color": names.color.get(o, "#7f8c8d"),
            "party": names.nominated.get(o) if tally.contest != PR_CONTEST_ID else o,
            "against_all": o == AGAINST_ALL,
        }
        for o in options
    ]
    return {
        "contest": tally.contest,
        "kind": "PR" if tally.contest == PR_CONTEST_ID else "SMD",
        "participants": participants,
        "ballots": tally.ballots,
        "valid": tally.valid,
        "invalid": tally.invalid,
        "blank": tally.blank,
        "overvote": tally.overvote,
        "options": rows,
    }


def _sum(states: Iterable[DecState], contest: str) -> tuple[ContestTally, int, int]:
    """Tally, participants and number of DECs of ``contest`` over published states.

    The tally has no preference votes: an area's page does not show them, and summing
    them would be most of the work of a PR total.
    """
    chosen = [s for s in states if s.published and contest in s.tallies]
    tally = total((s.tallies[contest] for s in chosen), contest, preferences=False)
    return tally, sum(s.participants or 0 for s in chosen), len(chosen)


def _coverage(published: Iterable[DecState]) -> dict[str, tuple[int, int]]:
    """Participants and number of DECs of every contest over published states, as
    :func:`_sum` counts them, in one pass (the national page shows every district's)."""
    out: dict[str, tuple[int, int]] = {}
    for s in published:
        for contest in s.tallies:
            participants, n = out.get(contest, (0, 0))
            out[contest] = (participants + (s.participants or 0), n + 1)
    return out


def progress(election: Election, states: Mapping[int, DecState]) -> dict[str, Any]:
    counts = {"published": 0, "partial": 0, "quarantined": 0, "awaiting": 0}
    units = roll_covered = 0
    for dec in election.decs:
        state = states[dec.number]
        counts[state.status] += 1
        units += len(state.units_reported)
        if state.published:
            roll_covered += dec.roll_pr
    roll = sum(d.roll_pr for d in election.decs)
    units_total = sum(d.units for d in election.decs)
    return {
        "decs_total": len(election.decs),
        "decs_published": counts["published"],
        "decs_partial": counts["partial"],
        "decs_quarantined": counts["quarantined"],
        "decs_awaiting": counts["awaiting"],
        "decs_published_pct": pct(counts["published"], len(election.decs)),
        "units_total": units_total,
        "units_reported": units,
        "units_reported_pct": pct(units, units_total),
        "roll_total": roll,
        "roll_covered": roll_covered,
        "roll_covered_pct": pct(roll_covered, roll),
    }


def _dec_rows(election: Election, states: Mapping[int, DecState], numbers: Iterable[int]) -> list:
    rows = []
    for n in numbers:
        dec, s = election.dec(n), states[n]
        rows.append(
            {
                "number": n,
                "status": s.status,
                "city": dec.city,
                "country": dec.country,
                "units_reported": len(s.units_reported),
                "units_expected": s.units_expected,
                "participants": s.participants,
                "roll": dec.roll_pr,
                "turnout_pct": pct(s.participants or 0, dec.roll_pr) if s.published else None,
            }
        )
    return rows


def _smd_summary(names: Names, results: ElectionResults, contest: str) -> dict[str, Any]:
    outcome = results.smd[contest]
    winner = outcome.winner
    return {
        "status": outcome.status.value,
        "winner": winner,
        "winner_name": names.option.get(winner) if winner else None,
        "winner_party": names.nominated.get(winner) if winner else None,
        "leader": outcome.standings[0][0] if outcome.standings else None,
        "leader_name": names.option.get(outcome.standings[0][0]) if outcome.standings else None,
        "against_all": outcome.against_all,
        "tied": list(outcome.tied),
    }


def national(
    names: Names,
    rules: RuleSet,
    states: Mapping[int, DecState],
    results: ElectionResults,
    roll_margin: int,
) -> dict[str, Any]:
    election = names.election
    published = [s for s in states.values() if s.published]
    roll = sum(election.dec(s.dec).roll_pr for s in published)
    block = contest_block(names, results.pr, results.participants)
    won = results.allocation.won
    smd_won: dict[str, int] = {}
    districts = []
    coverage = _coverage(published)
    for d in election.districts:
        participants, n = coverage.get(d.contest_id, (0, 0))
        summary = _smd_summary(names, results, d.contest_id) if n else None
        if summary and summary["winner"]:
            key = summary["winner_party"] or "independent"
            smd_won[key] = smd_won.get(key, 0) + 1
        districts.append(
            {
                "number": d.number,
                "name": d.name,
                "region": d.region,
                "decs_published": n,
                "participants": participants,
                "smd": summary,
            }
        )
    allocation = {p.party: p for p in results.allocation.parties}
    parties = []
    for p in election.parties_in_ballot_order:
        row = allocation.get(p.id)
        parties.append(
            {
                "id": p.id,
                "name": p.name,
                "color": names.color[p.id],
                "votes": results.pr.votes.get(p.id, 0),
                "share_pct": pct(results.pr.votes.get(p.id, 0), results.participants),
                "qualified": bool(row and row.qualified),
                "reasons": list(row.reasons) if row else [],
                "seats_pr": won.get(p.id, 0),
                "seats_smd": smd_won.get(p.id, 0),
                "members": [
                    {
                        "name": e.candidate.name,
                        "position": e.candidate.position,
                        "sex": e.candidate.sex.value,
                        "preference_votes": e.preference_votes,
                        "via_quota": e.via_quota,
                    }
                    for e in results.members[p.id].elected
                ]
                if p.id in results.members
                else [],
            }
        )
    regions = []
    for r in election.regions:
        numbers = [d.number for d in election.decs if d.region == r.code]
        pub = [states[n] for n in numbers if states[n].published]
        participants = sum(s.participants or 0 for s in pub)
        rroll = sum(election.dec(s.dec).roll_pr for s in pub)
        regions.append(
            {
                "code": r.code,
                "name": r.name,
                "decs_total": len(numbers),
                "decs_published": len(pub),
                "participants": participants,
                "turnout_pct": pct(participants, rroll),
            }
        )
    return {
        "level": "national",
        "name": election.name,
        "election": {"id": election.id, "name": election.name, "date": election.date},
        "progress": progress(election, states),
        "participants": results.participants,
        "roll": roll,
        "margin": roll_margin * len(published),
        "turnout_pct": pct(results.participants, roll),
        "threshold_pct": float(100 * rules.seats.national_threshold),
        "contests": [block],
        "parties": parties,
        "seats": {
            "pr": election.seats_pr,
            "smd": election.seats_smd,
            "pr_allocated": sum(won.values()),
            "smd_decided": sum(smd_won.values()),
            "smd_independent": smd_won.get("independent", 0),
            "regional_check": results.allocation.regional.value,
            "notes": list(results.allocation.notes),
        },
        "regions": regions,
        "districts": districts,
        "quarantine": quarantine(states),
    }


def quarantine(states: Mapping[int, DecState]) -> list[dict[str, Any]]:
    return [
        {"dec": s.dec, "problems": [p.to_json() for p in s.problems]}
        for s in sorted(states.values(), key=lambda s: s.dec)
        if s.status == "quarantined"
    ]


def region(
    names: Names, states: Mapping[int, DecState], code: str, roll_margin: int
) -> dict[str, Any]:
    election = names.election
    numbers = [d.number for d in election.decs if d.region == code]
    mine = {n: states[n] for n in numbers}
    tally, participants, n = _sum(mine.values(), PR_CONTEST_ID)
    roll = sum(election.dec(x).roll_pr for x, s in mine.items() if s.published)
    return {
        "level": "region",
        "code": code,
        "name": election.region(code).name,
        "participants": participants,
        "roll": roll,
        "margin": roll_margin * n,
        "turnout_pct": pct(participants, roll),
        "decs_total": len(numbers),
        "decs_published": n,
        "contests": [contest_block(names, tally, participants)],
        "districts": [
            {"number": d.number, "name": d.name} for d in election.districts if d.region == code
        ],
        "decs": _dec_rows(election, states, numbers),
    }


def district(
    names: Names,
    states: Mapping[int, DecState],
    results: ElectionResults,
    number: int,
    roll_margin: int,
) -> dict[str, Any]:
    election = names.election
    d = election.district(number)
    numbers = [x.number for x in election.decs if x.district == number]
    mine = [states[x] for x in numbers]
    smd, participants, n = _sum(mine, d.contest_id)
    pr, _, _ = _sum(mine, PR_CONTEST_ID)
    roll = sum(election.dec(s.dec).roll_smd for s in mine if s.published)
    return {
        "level": "district",
        "number": number,
        "name": d.name,
        "region": d.region,
        "region_name": election.region(d.region).name,
        "participants": participants,
        "roll": roll,
        "margin": roll_margin * n,
        "turnout_pct": pct(participants, roll),
        "decs_total": len(numbers),
        "decs_published": n,
        "smd": _smd_summary(names, results, d.contest_id) if n else None,
        "contests": [
            contest_block(names, smd, participants),
            contest_block(names, pr, participants),
        ],
        "decs": _dec_rows(election, states, numbers),
    }


def _when(ts: float | None) -> str | None:
    """Bishkek time (UTC+6), which is what commissions and observers read."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, BISHKEK).isoformat(timespec="seconds")


def _arrival(a: Arrival, show_counts: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": a.id,
        "type": a.type.name,
        "seq": a.seq,
        "digest": a.digest,
        "received_at": _when(a.received_at),
        "unit_time": _when(a.unit_ts),
        "problem": a.problem,
    }
    parsed = a.parsed
    if isinstance(parsed, reports.Zero):
        row["zero_ok"] = parsed.ok
    elif isinstance(parsed, reports.AuditHead):
        row["audit_head"], row["audit_count"] = parsed.head, parsed.count
    elif isinstance(parsed, reports.Results) and show_counts:
        row["ballots"] = {c: t.ballots for c, t in sorted(parsed.tallies.items())}
    return row


def dec(
    names: Names,
    state: DecState,
    arrivals: list[Arrival],
    protocols: Mapping[str, StoredProtocol],
) -> dict[str, Any]:
    """A DEC's page: status, its units' reports, the published numbers, the manual
    protocols with their scans and the discrepancies between the two counts."""
    election = names.election
    record = election.dec(state.dec)
    units: dict[str, dict[str, Any]] = {}
    for a in arrivals:
        unit = units.setdefault(
            a.unit,
            {"unit": a.unit, "zero": None, "results": None, "audit_head": None, "reports": []},
        )
        item = _arrival(a, state.published)
        unit["reports"].append(item)
        slot = {"ZERO_REPORT": "zero", "RESULTS": "results", "AUDIT_HEAD": "audit_head"}
        key = slot.get(a.type.name)
        if key and (unit[key] is None or unit[key]["seq"] < a.seq):
            unit[key] = item
    manual = []
    flagged = False
    for contest, p in sorted(protocols.items()):
        try:
            protocol = Protocol.from_json(p.data)
        except ProtocolFormatError as exc:  # stored data was checked at upload
            manual.append({"contest": contest, "error": str(exc)})
            continue
        machine = state.tallies.get(contest) if state.published else None
        diffs = compare(machine, protocol) if machine is not None else None
        problems = protocol_problems(protocol, election)
        flagged = flagged or bool(diffs) or bool(problems)
        manual.append(
            {
                "contest": contest,
                "commission": p.commission,
                "uploaded_at": _when(p.uploaded_at),
                "lines": protocol.lines(),
                "problems": problems,
                "discrepancies": diffs,
                "image_url": f"/protocols/{p.id}/image" if p.image_name else None,
            }
        )
    participants = state.participants or 0
    return {
        "level": "dec",
        "number": state.dec,
        "city": record.city,
        "country": record.country,
        "abroad": record.abroad,
        "district": record.district,
        "region": record.region,
        "roll_pr": record.roll_pr,
        "roll_smd": record.roll_smd,
        "status": state.status,
        "problems": [p.to_json() for p in state.problems],
        "units_expected": state.units_expected,
        "units_reported": list(state.units_reported),
        "participants": state.participants,
        "participants_source": state.participants_source,
        "turnout_pct": pct(participants, record.roll_pr) if state.published else None,
        "contests": [
            contest_block(names, t, participants) for _, t in sorted(state.tallies.items())
        ]
        if state.published
        else [],
        "units": list(units.values()),
        "protocols": manual,
        "discrepancy": flagged,
    }


def discrepancy_list(
    names: Names,
    states: Mapping[int, DecState],
    protocols: Mapping[tuple[int, str], StoredProtocol],
) -> list[dict[str, Any]]:
    """Every (DEC, contest) whose manual protocol disagrees with the published machine
    count or with itself, worst first."""
    out = []
    for (number, contest), p in sorted(protocols.items()):
        state = states.get(number)
        try:
            protocol = Protocol.from_json(p.data)
        except ProtocolFormatError:
            continue
        machine = state.tallies.get(contest) if state and state.published else None
        diffs = compare(machine, protocol) if machine is not None else []
        problems = protocol_problems(protocol, names.election)
        if diffs or problems:
            out.append(
                {
                    "dec": number,
                    "contest": contest,
                    "status": state.status if state else None,
                    "lines": len(diffs),
                    "largest": max((abs(d["difference"]) for d in diffs), default=0),
                    "discrepancies": diffs,
                    "problems": problems,
                }
            )
    return sorted(out, key=lambda r: (-r["largest"], -len(r["problems"]), r["dec"]))
