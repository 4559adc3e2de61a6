"""The database schema, one text for SQLite and PostgreSQL, with numbered migrations.

Only three column types differ between the two engines; they are written as
placeholders and filled in per dialect.  A migration runs once, in order, and the schema
version is kept in ``meta``; a database newer than this code is refused rather than
written by code that does not understand it.

Reports keep the signed packet as received (the evidence), its decrypted payload as
deterministic CBOR, and the replay record (nonce, digest, ACK bytes) in the same row, so
storing a packet and remembering it for exactly-once is one insert in one transaction.
"""

from __future__ import annotations

DIALECT_TYPES = {
    "sqlite": {"blob": "BLOB", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL"},
    "postgresql": {"blob": "BYTEA", "serial": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION"},
}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE reports (
            id {serial},
            unit TEXT NOT NULL,
            seq BIGINT NOT NULL,
            type INTEGER NOT NULL,
            dec BIGINT NOT NULL,
            unit_ts BIGINT NOT NULL,
            received_at {real} NOT NULL,
            nonce {blob} NOT NULL,
            digest {blob} NOT NULL,
            ack {blob} NOT NULL,
            packet {blob} NOT NULL,
            payload {blob} NOT NULL,
            UNIQUE (unit, seq),
            UNIQUE (unit, nonce)
        )""",
        "CREATE INDEX reports_dec ON reports (dec)",
        """CREATE TABLE protocols (
            id {serial},
            dec BIGINT NOT NULL,
            contest TEXT NOT NULL,
            commission TEXT NOT NULL,
            uploaded_at {real} NOT NULL,
            data TEXT NOT NULL,
            image_name TEXT,
            image_type TEXT,
            image_sha256 TEXT
        )""",
        "CREATE INDEX protocols_dec ON protocols (dec, contest)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def statements(dialect: str, version: int) -> list[str]:
    """The DDL of migration ``version`` (1-based) for ``dialect``."""
    types = DIALECT_TYPES[dialect]
    return [text.format(**types) for text in MIGRATIONS[version - 1]]
