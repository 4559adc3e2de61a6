"""Shared fixtures: one seeded key directory, an election id, and packet builders."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from election.model import AGAINST_ALL, PR_CONTEST_ID, smd_contest_id
from election.tally import ContestTally
from transport.keys import KeyStore
from transport.packet import Header, MessageType, seal

ELECTION = "e1" * 32
OTHER_ELECTION = "0f" * 32
UNITS = ("PCOS-0001", "PCOS-0002", "PCOS-REVOKED")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    keys = KeyStore(Path(tmp_path_factory.mktemp("keys")))
    keys.provision(UNITS, seed=7)
    registry = keys.registry()
    registry.revoke("PCOS-REVOKED", "stolen", now=1)
    registry.save()
    return keys


@pytest.fixture(scope="session")
def make_packet(store: KeyStore) -> Callable[..., bytes]:
    """Seal a packet for a provisioned unit; keyword arguments override the header."""
    server = store.server_public()
    keys = {unit: store.unit_key(unit) for unit in UNITS}

    def build(
        seq: int = 1,
        *,
        unit: str = "PCOS-0001",
        election: str = ELECTION,
        payload: dict | None = None,
        type: MessageType = MessageType.RESULTS,
        ts: int = 1_638_129_600,
        signer: str | None = None,
        **crypto: bytes,
    ) -> bytes:
        header = Header(type, unit, election, 1001, seq, ts)
        body = {"votes": {"P01": seq}} if payload is None else payload
        return seal(header, body, keys[signer or unit].sign, server.kex, **crypto)

    return build


def dec_results(dec: int, seed: int = 0) -> dict:
    """A realistic final-report payload of one DEC: the PR tally (21 parties, 54
    preference positions each) and an SMD tally, as ContestTally.to_json gives them."""
    rng = random.Random(f"{seed}/{dec}")
    parties = [f"P{i:02d}" for i in range(1, 22)]
    pr = ContestTally(
        PR_CONTEST_ID,
        votes={**{p: rng.randrange(400) for p in parties}, AGAINST_ALL: rng.randrange(40)},
        blank=rng.randrange(10),
        overvote=rng.randrange(10),
        preferences={p: {pos: rng.randrange(60) for pos in range(1, 55)} for p in parties},
    )
    smd = ContestTally(
        smd_contest_id(1 + dec % 36),
        votes={**{f"C{dec % 36}-{i}": rng.randrange(900) for i in range(8)}, AGAINST_ALL: 3},
    )
    return {"dec": dec, "contests": [pr.to_json(), smd.to_json()]}
