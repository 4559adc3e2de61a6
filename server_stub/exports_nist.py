"""Exports in the NIST common data formats that auditors' tools read.

* SP 1500-100 (Election Results Reporting), JSON: the published snapshot's counts per
  contest and reporting unit (country, regions, districts, DECs), with the parties and
  candidates.  Only published DECs appear; the report's status says the results are
  preliminary while DECs are outstanding.
* SP 1500-103 (Cast Vote Records), JSON: the anonymised ballot records that units sent
  with their final reports (``cvrs`` in the payload), for published DECs only.

Object ids are stable strings (``gp-dec-2001``, ``c-PR``, ``cs-PR-P03``) so two exports
of the same snapshot are identical apart from their generation time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from election.model import AGAINST_ALL, PR_CONTEST_ID, Election
from election.tally import ContestTally
from server_stub import reports
from server_stub.aggregate import latest_results
from server_stub.ledger import Ledger
from server_stub.publish import Snapshot

ISSUER = "Central Commission for Elections and Referenda of the Kyrgyz Republic (simulated)"


def _now(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _gp_units(election: Election) -> list[dict[str, Any]]:
    units = [
        {
            "@type": "ElectionResults.ReportingUnit",
            "@id": "gp-country",
            "Type": "country",
            "Name": "Kyrgyz Republic",
            "ComposingGpUnitIds": [f"gp-region-{r.code}" for r in election.regions]
            + [f"gp-dec-{d.number}" for d in election.decs if d.abroad],
        }
    ]
    for r in election.regions:
        units.append(
            {
                "@type": "ElectionResults.ReportingUnit",
                "@id": f"gp-region-{r.code}",
                "Type": "state",
                "Name": r.name,
                "ComposingGpUnitIds": [
                    f"gp-district-{d.number}" for d in election.districts if d.region == r.code
                ],
            }
        )
    for d in election.districts:
        units.append(
            {
                "@type": "ElectionResults.ReportingUnit",
                "@id": f"gp-district-{d.number}",
                "Type": "congressional",
                "Name": d.name,
                "ComposingGpUnitIds": [
                    f"gp-dec-{x.number}" for x in election.decs if x.district == d.number
                ],
            }
        )
    for x in election.decs:
        units.append(
            {
                "@type": "ElectionResults.ReportingUnit",
                "@id": f"gp-dec-{x.number}",
                "Type": "precinct",
                "Name": f"DEC {x.number}",
                "TotalSubUnits": x.units,
            }
        )
    return units


def _selection_id(contest: str, option: str) -> str:
    return f"cs-{contest}-{option}"


def _counts(tally: ContestTally, gp: str, option: str) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.VoteCounts",
        "GpUnitId": gp,
        "Type": "total",
        "Count": tally.votes.get(option, 0),
    }


def _contest(
    election: Election, contest: str, per_gp: list[tuple[str, ContestTally]]
) -> dict[str, Any]:
    pr = contest == PR_CONTEST_ID
    selections = []
    for option in election.options(contest):
        item: dict[str, Any] = {"@id": _selection_id(contest, option)}
        if option == AGAINST_ALL:
            item.update(
                {"@type": "ElectionResults.BallotMeasureSelection", "Selection": "Against all"}
            )
        elif pr:
            item.update(
                {"@type": "ElectionResults.PartySelection", "PartyIds": [f"party-{option}"]}
            )
        else:
            item.update(
                {"@type": "ElectionResults.CandidateSelection", "CandidateIds": [f"cand-{option}"]}
            )
        item["VoteCounts"] = [_counts(t, gp, option) for gp, t in per_gp]
        selections.append(item)
    district = "gp-country" if pr else f"gp-district-{contest.removeprefix('SMD-').lstrip('0')}"
    return {
        "@type": "ElectionResults.PartyContest" if pr else "ElectionResults.CandidateContest",
        "@id": f"c-{contest}",
        "Name": "Jogorku Kenesh, proportional" if pr else f"Jogorku Kenesh, district {contest}",
        "ElectionDistrictId": district,
        "VotesAllowed": 1,
        "NumberElected": election.seats_pr if pr else 1,
        "ContestSelection": selections,
        "OtherCounts": [
            {
                "@type": "ElectionResults.OtherCounts",
                "GpUnitId": gp,
                "Overvotes": t.overvote,
                "Undervotes": t.blank,
            }
            for gp, t in per_gp
        ],
    }


def results_report(election: Election, snapshot: Snapshot, fingerprint: str) -> dict[str, Any]:
    """NIST SP 1500-100 ElectionReport of the published snapshot."""
    published = [s for s in snapshot.states.values() if s.published]
    per_contest: dict[str, list[tuple[str, ContestTally]]] = {c: [] for c in election.contest_ids}
    per_contest[PR_CONTEST_ID].append(("gp-country", snapshot.results.pr))
    for state in sorted(published, key=lambda s: s.dec):
        for contest, tally in sorted(state.tallies.items()):
            per_contest[contest].append((f"gp-dec-{state.dec}", tally))
    complete = len(published) == len(election.decs)
    return {
        "@type": "ElectionResults.ElectionReport",
        "Format": "precinct-level",
        "GeneratedDate": _now(snapshot.generated_at),
        "Issuer": ISSUER,
        "IssuerAbbreviation": "CEC-KG",
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "Status": "unofficial-complete" if complete else "unofficial-partial",
        "VendorApplicationId": f"pcos-lab server_stub, snapshot {snapshot.version}",
        "Election": [
            {
                "@type": "ElectionResults.Election",
                "@id": f"election-{fingerprint[:16]}",
                "Name": election.name,
                "StartDate": election.date,
                "EndDate": election.date,
                "Type": "general",
                "ElectionScopeId": "gp-country",
                "ExternalIdentifier": [
                    {
                        "@type": "ElectionResults.ExternalIdentifier",
                        "Type": "other",
                        "OtherType": "definition-sha256",
                        "Value": fingerprint,
                    }
                ],
                "Contest": [_contest(election, c, per_contest[c]) for c in election.contest_ids],
                "Candidate": [
                    {
                        "@type": "ElectionResults.Candidate",
                        "@id": f"cand-{c.id}",
                        "BallotName": c.name,
                        **({"PartyId": f"party-{c.nominated_by}"} if c.nominated_by else {}),
                    }
                    for c in election.smd_candidates
                ],
            }
        ],
        "GpUnit": _gp_units(election),
        "Party": [
            {"@type": "ElectionResults.Party", "@id": f"party-{p.id}", "Name": p.name}
            for p in election.parties_in_ballot_order
        ],
    }


def _cvr(cvr: reports.Cvr, unit: str, dec: int, index: int, election_id: str) -> dict[str, Any]:
    selections = []
    if cvr.kind == "vote" and cvr.option is not None:
        selections.append(
            {
                "@type": "CVR.CVRContestSelection",
                "ContestSelectionId": _selection_id(cvr.contest, cvr.option),
                "SelectionPosition": [
                    {
                        "@type": "CVR.SelectionPosition",
                        "HasIndication": "yes",
                        "IsAllocable": "yes",
                        "NumberVotes": 1,
                        "Position": 1,
                        **({"Rank": cvr.position} if cvr.position else {}),
                    }
                ],
            }
        )
    return {
        "@type": "CVR.CVR",
        "@id": f"cvr-{unit}-{index}",
        "BallotStyleUnitId": f"gp-dec-{dec}",
        "CreatingDeviceId": f"device-{unit}",
        "ElectionId": election_id,
        "CurrentSnapshotId": f"snap-{unit}-{index}",
        "CVRSnapshot": [
            {
                "@type": "CVR.CVRSnapshot",
                "@id": f"snap-{unit}-{index}",
                "Type": "original",
                "CVRContest": [
                    {
                        "@type": "CVR.CVRContest",
                        "ContestId": f"c-{cvr.contest}",
                        "Overvotes": 1 if cvr.kind == "overvote" else 0,
                        "Undervotes": 1 if cvr.kind == "blank" else 0,
                        "CVRContestSelection": selections,
                    }
                ],
            }
        ],
    }


def cvr_report(
    election: Election, snapshot: Snapshot, ledger: Ledger, fingerprint: str
) -> dict[str, Any]:
    """NIST SP 1500-103 CastVoteRecordReport of the published DECs' ballot records."""
    election_id = f"election-{fingerprint[:16]}"
    cvrs: list[dict[str, Any]] = []
    devices: set[str] = set()
    for state in sorted(snapshot.states.values(), key=lambda s: s.dec):
        if not state.published:
            continue
        for unit, arrival in sorted(latest_results(ledger.arrivals(state.dec)).items()):
            parsed = arrival.parsed
            if isinstance(parsed, reports.Results) and parsed.cvrs:
                devices.add(unit)
                cvrs += [
                    _cvr(c, unit, state.dec, i, election_id) for i, c in enumerate(parsed.cvrs, 1)
                ]
    return {
        "@type": "CVR.CastVoteRecordReport",
        "Version": "1.0.0",
        "GeneratedDate": _now(snapshot.generated_at),
        "ReportType": ["originating-device-export"],
        "ReportGeneratingDeviceIds": ["device-central-server"],
        "ReportingDevice": [
            {"@type": "CVR.ReportingDevice", "@id": f"device-{u}", "SerialNumber": u}
            for u in sorted(devices)
        ]
        + [
            {
                "@type": "CVR.ReportingDevice",
                "@id": "device-central-server",
                "Application": "pcos-lab server_stub",
            }
        ],
        "Election": [
            {
                "@type": "CVR.Election",
                "@id": election_id,
                "Name": election.name,
                "ElectionScopeId": "gp-country",
                "Contest": [_cvr_contest(election, c) for c in election.contest_ids],
            }
        ],
        "GpUnit": [
            {
                "@type": "CVR.GpUnit",
                "@id": f"gp-dec-{d.number}",
                "Type": "precinct",
                "Name": f"DEC {d.number}",
            }
            for d in election.decs
        ]
        + [
            {
                "@type": "CVR.GpUnit",
                "@id": "gp-country",
                "Type": "other",
                "OtherType": "country",
                "Name": "Kyrgyz Republic",
            }
        ],
        "Party": [
            {"@type": "CVR.Party", "@id": f"party-{p.id}", "Name": p.name}
            for p in election.parties_in_ballot_order
        ],
        "CVR": cvrs,
    }


def _cvr_contest(election: Election, contest: str) -> dict[str, Any]:
    pr = contest == PR_CONTEST_ID
    selections: Iterable[dict[str, Any]] = (
        {
            "@type": "CVR.PartySelection" if pr and o != AGAINST_ALL else "CVR.ContestSelection",
            "@id": _selection_id(contest, o),
            **({"PartyIds": [f"party-{o}"]} if pr and o != AGAINST_ALL else {}),
        }
        for o in election.options(contest)
    )
    return {
        "@type": "CVR.PartyContest" if pr else "CVR.CandidateContest",
        "@id": f"c-{contest}",
        "Name": contest,
        "ContestSelection": list(selections),
    }
