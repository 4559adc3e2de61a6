"""Printed output shared by the demo and the ground-truth run: summaries, seat tables,
sample ballots, and the report files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from election import definition
from election.layout import layout_for
from election.model import BallotKind, BallotStyle, Election
from election.results import ElectionResults
from election.seats import SmdStatus
from election.stylecode import election_tag
from election.summary import summarize
from fixtures import marks, render, scan, votes


def summary_text(election: Election) -> str:
    s = summarize(election)
    rows = [
        f"      {name:<24} {g['districts']:>3} districts {g['smd_candidates']:>4} SMD candidates "
        f"{g['decs']:>5} DECs {g['roll_smd']:>10,} voters"
        for name, g in s["by_seed_region"].items()
    ]
    return "\n".join(
        [
            f"      {s['seats']['total']} seats ({s['seats']['pr']} PR + {s['seats']['smd']} SMD), "
            f"{s['parties']} parties, {s['list_candidates']:,} list candidates, "
            f"{s['smd_candidates']:,} SMD candidates",
            f"      {s['decs']['total']:,} DECs ({s['decs']['home']:,} home + "
            f"{s['decs']['abroad']:,} abroad); roll {s['rolls']['single_constituency']:,} "
            f"(abroad {s['rolls']['abroad']:,}, SMD {s['rolls']['smd']:,}); "
            f"{s['units']['total']:,} PCOS units",
            *rows,
        ]
    )


def sample_ballots(
    election: Election, truth: votes.GroundTruth, seed: int, folder: Path
) -> list[Path]:
    """The first home DEC's first ballots, both kinds and languages: printed, marked by a
    typical voter, and fed through a typical scanner."""
    folder.mkdir(parents=True, exist_ok=True)
    dec = next(d for d in election.decs if not d.abroad)
    tag = election_tag(definition.fingerprint(election))
    rng = np.random.default_rng(seed)
    files = []
    for kind in BallotKind:
        contest = "PR" if kind is BallotKind.PR else f"SMD-{dec.district:02d}"
        sample = votes.ballots(truth, dec.number, contest)
        for language, ballot in zip(("ky", "ru"), sample, strict=False):
            style = BallotStyle(kind, language, dec.district if kind is BallotKind.SMD else None)
            layout = layout_for(election, style, dec=dec.number, election_tag=tag)
            stem = folder / f"{kind.value.lower()}-{language}-dec{dec.number}"
            specs = marks.marks_for(ballot, layout, marks.policy("typical"), rng)
            page = render.render(layout, language, 200, specs, seed=seed)
            scanned = scan.scan(page, 200, "typical", rng)
            pdf = stem.with_name(stem.name + "-blank.pdf")
            pdf.write_bytes(render.render_pdf(layout, language))
            marked, scanned_png = stem.with_suffix(".marked.png"), stem.with_suffix(".scan.png")
            marked.write_bytes(render.encode_png(page, 200))
            scanned_png.write_bytes(render.encode_png(scanned.image, 200))
            files += [pdf, marked, scanned_png]
    return files


def seats_text(election: Election, results: ElectionResults) -> str:
    """The PR table and the SMD outcomes, as a person reads them."""
    alloc = results.allocation
    lines = [
        f"PR: {alloc.seats} seats; threshold {float(alloc.rules.national_threshold):.0%} of "
        f"{alloc.threshold_base:,} {alloc.rules.threshold_base.value.replace('_', ' ')} = "
        f"{float(alloc.rules.national_threshold * alloc.threshold_base):,.0f} votes; "
        f"regional threshold {alloc.regional.value}; quota "
        f"{float(alloc.quota or 0):,.2f}; cap {alloc.cap}",
        f"  {'#':>2}  {'party':<22} {'votes':>9} {'share':>7}  {'seats':>5}",
    ]
    for row in sorted(alloc.parties, key=lambda p: -p.votes):
        name = election.party(row.party).name
        mark = f"{row.seats:>5}" if row.qualified else "    -"
        share = float(row.share)
        lines.append(
            f"  {row.ballot_position:>2}  {name[:22]:<22} {row.votes:>9,} {share:>7.2%}  {mark}"
        )
    against = results.pr.votes.get("AGAINST_ALL", 0)
    lines.append(f"      {'against all':<22} {against:>9,} {against / results.participants:>7.2%}")
    lines.append(f"      {'invalid (blank, over)':<22} {results.pr.invalid:>9,}")
    elected = sum(r.status is SmdStatus.ELECTED for r in results.smd.values())
    lines.append("")
    lines.append(f"SMD: {elected} of {len(results.smd)} districts elected a member")
    names = {c.id: c.name for c in election.smd_candidates}
    for contest, r in results.smd.items():
        best = r.standings[0][1] if r.standings else 0
        if r.status is SmdStatus.ELECTED:
            outcome = f"{names[r.winner]} elected with {best:,} votes"
        else:
            outcome = f"{r.status.value} (best candidate {best:,})"
        lines.append(f"  {contest}: {outcome}; against all {r.against_all:,}")
    return "\n".join(lines)


def write_reports(election: Election, results: ElectionResults, out_dir: Path) -> list[Path]:
    seats_txt = out_dir / "seats.txt"
    seats_txt.write_text(
        seats_text(election, results) + "\n\n" + results.allocation.explain() + "\n",
        encoding="utf-8",
    )
    data = {
        "election": election.id,
        "fingerprint": definition.fingerprint(election),
        "decs_counted": results.decs_counted,
        "participants": results.participants,
        "pr_tally": results.pr.to_json(),
        "pr_allocation": results.allocation.to_dict(),
        "members": {
            party: [
                {
                    "position": e.candidate.position,
                    "name": e.candidate.name,
                    "votes": e.preference_votes,
                }
                for e in seats.elected
            ]
            for party, seats in results.members.items()
        },
        "smd": {
            contest: {"status": r.status.value, "winner": r.winner, "against_all": r.against_all}
            for contest, r in results.smd.items()
        },
    }
    results_json = out_dir / "results.json"
    results_json.write_text(
        json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return [seats_txt, results_json]
