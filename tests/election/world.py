"""A small hand-built election for the rule tests: every case visible at a glance.

Two regions, two districts, one abroad DEC; three parties whose lists have 3, 2 and 4
candidates, so that a part-2 number can fall past a short list.
"""

from __future__ import annotations

from election.model import (
    BallotKind,
    BallotStyle,
    Dec,
    District,
    Election,
    ListCandidate,
    Party,
    Region,
    Sex,
    SmdCandidate,
    UnitPlan,
)


def _party(pid: str, position: int, sexes: str) -> Party:
    return Party(
        pid,
        f"Party {pid}",
        position,
        tuple(ListCandidate(pid, i, f"{pid} cand {i}", Sex(s)) for i, s in enumerate(sexes, 1)),
    )


def tiny_election() -> Election:
    return Election(
        id="test",
        name="Rule test election",
        date="2021-11-28",
        regions=(Region("R1", "Region one", "R1"), Region("R2", "Region two", "R2")),
        districts=(District(1, "R1", "One"), District(2, "R2", "Two")),
        parties=(_party("P02", 2, "MF"), _party("P01", 1, "MFM"), _party("P03", 3, "FMMF")),
        smd_candidates=(
            SmdCandidate("D01-C01", 1, "Alpha", Sex.MALE, 1),
            SmdCandidate("D01-C02", 1, "Beta", Sex.FEMALE, 2),
            SmdCandidate("D02-C01", 2, "Gamma", Sex.FEMALE, 1),
            SmdCandidate("D02-C02", 2, "Delta", Sex.MALE, 2),
            SmdCandidate("D02-C03", 2, "Epsilon", Sex.MALE, 3),
        ),
        decs=(
            Dec(1, 1000, 1000, 2, district=1, region="R1"),
            Dec(2, 1000, 1000, 2, district=2, region="R2"),
            Dec(9001, 500, 0, 2, country="Germany", city="Berlin"),
        ),
        seats_pr=5,
        seats_smd=2,
        units=UnitPlan(total=8, reserve=2),
    )


PR_KY = BallotStyle(BallotKind.PR, "ky")
PR_RU = BallotStyle(BallotKind.PR, "ru")
SMD1 = BallotStyle(BallotKind.SMD, "ky", 1)
SMD2 = BallotStyle(BallotKind.SMD, "ru", 2)
