"""The durable store: reports from units and manual protocols, on SQLite or PostgreSQL.

One SQL text serves both engines (see :mod:`server_stub.schema`); the subclasses in
``store_sqlite`` and ``store_pg`` only connect and name their quirks.  Writes are whole
transactions that either commit durably or raise, so a caller may acknowledge exactly
what a returned call stored.  Reads return everything in insertion order: the server
keeps its working view in memory and rebuilds it from here at start-up.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from server_stub.errors import StoreError
from server_stub.schema import SCHEMA_VERSION, statements


class DuplicateReport(StoreError):
    """A (unit, seq) or (unit, nonce) is stored already; the whole batch was refused."""

    code = "duplicate-report"
    status = 409


@dataclass(frozen=True)
class StoredReport:
    """One accepted packet: header fields, the evidence, the payload and its ACK.

    ``payload`` is the deterministic CBOR of the decrypted payload map, ``packet`` the
    signed bytes as received and ``ack`` the ACK sent for it (byte for byte what a
    retransmission is answered with).  ``id`` is None until stored.
    """

    unit: str
    seq: int
    type: int
    dec: int
    unit_ts: int
    received_at: float
    nonce: bytes
    digest: bytes
    ack: bytes
    packet: bytes
    payload: bytes
    id: int | None = None


@dataclass(frozen=True)
class StoredProtocol:
    """A manual protocol as a commission uploaded it; ``image_name`` is the generated
    file name of its scan under the uploads folder (None when no scan was sent)."""

    dec: int
    contest: str
    commission: str
    uploaded_at: float
    data: dict[str, Any]
    image_name: str | None = None
    image_type: str | None = None
    image_sha256: str | None = None
    id: int | None = None


_REPORT_COLUMNS = "unit, seq, type, dec, unit_ts, received_at, nonce, digest, ack, packet, payload"
_PROTOCOL_COLUMNS = (
    "dec, contest, commission, uploaded_at, data, image_name, image_type, image_sha256"
)


class SqlStore(ABC):
    """The store over a DB-API connection; subclasses provide :meth:`_connect` and the
    dialect's parameter style and integrity-error classes."""

    dialect: str = ""
    placeholder: str = "?"
    integrity_errors: tuple[type[BaseException], ...] = ()
    operational_errors: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._conn = self._connect()

    # Subclass hooks ---------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """An open DB-API connection in autocommit mode (transactions are explicit)."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A cursor inside one transaction: committed on exit, rolled back on error."""

    # Plumbing ---------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._lock:
            try:
                with self._transaction() as cur:
                    yield cur
            except self.integrity_errors as exc:
                raise DuplicateReport(f"already stored: {exc}") from exc
            except self.operational_errors as exc:
                raise StoreError(f"{self.dialect} write failed: {exc}") from exc

    def _read(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock, self._transaction() as cur:
            cur.execute(self._sql(text), params)
            return cur.fetchall()

    # Schema -----------------------------------------------------------------------------

    def migrate(self, election: str) -> None:
        """Create or upgrade the schema and bind the database to one election.

        A database made for another election definition (fingerprint) or by newer code
        is refused: mixing two elections' reports would publish nonsense.
        """
        with self._write() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            cur.execute(self._sql("SELECT value FROM meta WHERE key = ?"), ("schema",))
            row = cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"database schema {version} is newer than this code's")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for text in statements(self.dialect, number):
                    cur.execute(text)
            self._put_meta(cur, "schema", str(SCHEMA_VERSION))
            cur.execute(self._sql("SELECT value FROM meta WHERE key = ?"), ("election",))
            row = cur.fetchone()
            if row is None:
                self._put_meta(cur, "election", election)
            elif row[0] != election:
                raise StoreError(
                    f"the database holds election {row[0][:16]}…, not {election[:16]}…; "
                    "use another --db"
                )

    def _put_meta(self, cur: Any, key: str, value: str) -> None:
        cur.execute(self._sql("DELETE FROM meta WHERE key = ?"), (key,))
        cur.execute(self._sql("INSERT INTO meta (key, value) VALUES (?, ?)"), (key, value))

    def meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    # Reports ----------------------------------------------------------------------------

    def add_reports(self, reports: Sequence[StoredReport]) -> list[int]:
        """Store ``reports`` in one durable transaction and return their ids.

        Raises :class:`DuplicateReport` (nothing stored) if any (unit, seq) or
        (unit, nonce) is already present.
        """
        marks = ", ".join("?" * 11)
        insert = self._sql(f"INSERT INTO reports ({_REPORT_COLUMNS}) VALUES ({marks}) RETURNING id")
        ids = []
        with self._write() as cur:
            for r in reports:
                cur.execute(
                    insert,
                    (
                        r.unit,
                        r.seq,
                        r.type,
                        r.dec,
                        r.unit_ts,
                        r.received_at,
                        r.nonce,
                        r.digest,
                        r.ack,
                        r.packet,
                        r.payload,
                    ),
                )
                ids.append(int(cur.fetchone()[0]))
        return ids

    def reports(self, *, dec: int | None = None) -> list[StoredReport]:
        """Every stored report (of one DEC if given), in arrival order."""
        where, params = ("WHERE dec = ?", (dec,)) if dec is not None else ("", ())
        rows = self._read(f"SELECT {_REPORT_COLUMNS}, id FROM reports {where} ORDER BY id", params)
        return [
            StoredReport(*row[:6], *(bytes(v) for v in row[6:11]), id=int(row[11])) for row in rows
        ]

    def report_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM reports")[0][0])

    # Manual protocols -------------------------------------------------------------------

    def add_protocol(self, p: StoredProtocol) -> int:
        marks = ", ".join("?" * 8)
        insert = self._sql(
            f"INSERT INTO protocols ({_PROTOCOL_COLUMNS}) VALUES ({marks}) RETURNING id"
        )
        with self._write() as cur:
            cur.execute(
                insert,
                (
                    p.dec,
                    p.contest,
                    p.commission,
                    p.uploaded_at,
                    json.dumps(p.data, sort_keys=True),
                    p.image_name,
                    p.image_type,
                    p.image_sha256,
                ),
            )
            return int(cur.fetchone()[0])

    def protocols(self) -> list[StoredProtocol]:
        """Every upload in order; a later upload of a (DEC, contest) supersedes earlier."""
        rows = self._read(f"SELECT {_PROTOCOL_COLUMNS}, id FROM protocols ORDER BY id")
        return [
            StoredProtocol(
                int(r[0]), r[1], r[2], float(r[3]), json.loads(r[4]), r[5], r[6], r[7], int(r[8])
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(db: str) -> SqlStore:
    """A store from a ``--db`` value: a ``postgresql://`` DSN or an SQLite file path."""
    if db.startswith(("postgresql://", "postgres://")):
        from server_stub.store_pg import PgStore

        return PgStore(db)
    from server_stub.store_sqlite import SqliteStore

    return SqliteStore(db)
