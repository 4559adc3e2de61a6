"""Shared worlds for the server tests: the tiny election, its truth, unit keys, tokens,
and a store fixture parameterised over SQLite and PostgreSQL.

PostgreSQL comes from ``PCOS_TEST_PG_DSN`` (``scripts/ensure-postgres.sh`` prints it).
Without it the PostgreSQL half fails under CI (``CI=true``) and is skipped, with the
reason shown, on a developer's machine.  Each PostgreSQL test gets its own schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from election.model import Election
from fixtures import scenario, votes
from fixtures.votes import GroundTruth
from server_stub import auth
from server_stub.service import ResultsService
from server_stub.store import SqlStore
from server_stub.store_pg import PgStore
from server_stub.store_sqlite import SqliteStore
from tests.server_stub.pcos_sim import Fleet, provision
from transport.keys import KeyStore

PG_ENV = "PCOS_TEST_PG_DSN"


@pytest.fixture(scope="session")
def election() -> Election:
    return scenario.build("kg2021", "tiny", 0)


@pytest.fixture(scope="session")
def truth(election: Election) -> GroundTruth:
    return votes.generate(election, 0)


@pytest.fixture(scope="session")
def keys(election: Election, tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return provision(tmp_path_factory.mktemp("keys"), election)


@pytest.fixture(scope="session")
def fleet(election: Election, keys: KeyStore) -> Fleet:
    return Fleet(election, keys, with_cvrs=True)


@pytest.fixture(scope="session")
def night(fleet: Fleet, truth: GroundTruth) -> list[bytes]:
    return [p for _, p in fleet.night(truth)]


@pytest.fixture(scope="session")
def tokens(election: Election, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    return path, auth.issue(election, path)


def pg_dsn() -> str:
    dsn = os.environ.get(PG_ENV)
    if dsn:
        return dsn
    message = f"{PG_ENV} is not set: run scripts/ensure-postgres.sh (make test does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL store tests cannot run in CI: {message}")
    pytest.skip(message)


@pytest.fixture
def pg_schema_dsn() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema, dropped afterwards."""
    dsn = pg_dsn()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in dsn else "?"
    yield f"{dsn}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A factory of stores on one database (call it again to 'restart')."""
    opened: list[SqlStore] = []
    if request.param == "sqlite":
        target = str(tmp_path / "results.db")

        def make() -> SqlStore:
            opened.append(SqliteStore(target))
            return opened[-1]
    else:
        target = request.getfixturevalue("pg_schema_dsn")

        def make() -> SqlStore:
            opened.append(PgStore(target))
            return opened[-1]

    yield make
    for store in opened:
        store.close()  # closing twice is harmless on both engines


@pytest.fixture
def make_service(election, keys, tokens, tmp_path: Path):
    """Build a ResultsService on a store (SQLite in tmp_path unless given)."""
    made: list[ResultsService] = []

    def make(store: SqlStore | None = None, **options) -> ResultsService:
        registry = keys.registry()
        registry.path = tmp_path / "registry.json"  # revocations stay in this test
        service = ResultsService(
            election=election,
            store=store or SqliteStore(tmp_path / "service.db"),
            registry=registry,
            server_keys=keys.server_keys(),
            auth=auth.Auth.load(tokens[0]),
            uploads_dir=tmp_path / "uploads",
            **options,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        service.publisher.stop()
