"""The same store on PostgreSQL (``--db postgresql://…``), through psycopg 3.

Each write is one transaction at the default isolation level; PostgreSQL's default
``synchronous_commit = on`` makes a returned commit durable, like SQLite's FULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from server_stub.errors import StoreError
from server_stub.store import SqlStore


class PgStore(SqlStore):
    dialect = "postgresql"
    placeholder = "%s"
    integrity_errors = (psycopg.IntegrityError,)
    operational_errors = (psycopg.OperationalError,)

    def __init__(self, dsn: str):
        self.dsn = dsn
        super().__init__()

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor]:
        with self._conn.transaction(), self._conn.cursor() as cur:
            yield cur
