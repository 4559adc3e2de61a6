"""The numbers an official checks first: seats, contestants, stations and rolls.

Grouped by the seed's districting rows (``Region.seed_group``) as well as by region, so a
national scenario can be compared line by line with the CEC report.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from election.model import Election


def summarize(election: Election) -> dict[str, Any]:
    """A JSON-ready summary; every figure is counted from the definition, none stored."""
    home = [d for d in election.decs if not d.abroad]
    abroad = [d for d in election.decs if d.abroad]
    region_of_district = {d.number: d.region for d in election.districts}
    by_region: dict[str, dict[str, int]] = {}
    for region in election.regions:
        by_region[region.code] = {
            "districts": 0,
            "smd_candidates": 0,
            "decs": 0,
            "roll_smd": 0,
        }
    for district in election.districts:
        by_region[district.region]["districts"] += 1
    for cand in election.smd_candidates:
        by_region[region_of_district[cand.district]]["smd_candidates"] += 1
    for dec in home:
        by_region[dec.region]["decs"] += 1
        by_region[dec.region]["roll_smd"] += dec.roll_smd
    by_group: dict[str, dict[str, int]] = {}
    for region in election.regions:
        group = by_group.setdefault(region.seed_group, Counter())
        group.update(by_region[region.code])
    sexes = Counter(c.sex.value for p in election.parties for c in p.candidates)
    return {
        "election": {"id": election.id, "name": election.name, "date": election.date},
        "seats": {
            "total": election.seats_total,
            "pr": election.seats_pr,
            "smd": election.seats_smd,
        },
        "parties": len(election.parties),
        "list_candidates": sum(len(p.candidates) for p in election.parties),
        "list_candidates_by_sex": {"F": sexes["F"], "M": sexes["M"]},
        "max_list_length": election.max_list_length,
        "smd_candidates": len(election.smd_candidates),
        "regions": len(election.regions),
        "districts": len(election.districts),
        "decs": {"total": len(election.decs), "home": len(home), "abroad": len(abroad)},
        "abroad_countries": len({d.country for d in abroad}),
        "rolls": {
            "single_constituency": sum(d.roll_pr for d in election.decs),
            "abroad": sum(d.roll_pr for d in abroad),
            "smd": sum(d.roll_smd for d in home),
        },
        "units": {
            "total": election.units.total,
            "at_decs": sum(d.units for d in election.decs),
            "reserve": election.units.reserve,
        },
        "by_region": by_region,
        "by_seed_region": {k: dict(v) for k, v in by_group.items()},
    }
