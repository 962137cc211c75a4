"""The SQLite schema of an audit store, with the triggers that make it append-only.

Triggers stop every UPDATE and DELETE issued through SQLite, by Sentinel or anyone else
using the file through SQLite. They do not stop someone who rewrites the file or drops the
triggers: that is what the hash chain and the signed checkpoints detect.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 1

INDEXED_MEMBERS: Final = (
    "position",
    "event_id",
    "stream",
    "stream_rev",
    "type",
    "lamport",
    "correlation_id",
    "idempotency_key",
)
"""Document members the ``events`` table copies into columns of the same name, in column
order (docs/audit-format.md section 6); writers, verify and analytics all derive from it."""

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    position        INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL UNIQUE,
    stream          TEXT    NOT NULL,
    stream_rev      INTEGER NOT NULL,
    type            TEXT    NOT NULL,
    lamport         INTEGER NOT NULL,
    correlation_id  TEXT,
    idempotency_key TEXT,
    prev_hash       BLOB    NOT NULL,
    hash            BLOB    NOT NULL,
    canonical       BLOB    NOT NULL,
    UNIQUE (stream, stream_rev)
);
-- Unique over the keys given only: most events have none, and a UNIQUE column would add
-- an index entry for every NULL (measured ~25% of a bare INSERT's cost). Stores written
-- before keep their UNIQUE column as well; both enforce the same rule.
CREATE UNIQUE INDEX IF NOT EXISTS events_by_idempotency_key ON events (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, position);
CREATE INDEX IF NOT EXISTS events_by_correlation ON events (correlation_id)
    WHERE correlation_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS checkpoints (
    size    INTEGER PRIMARY KEY,
    root    BLOB    NOT NULL,
    note    TEXT    NOT NULL,
    key_id  TEXT    NOT NULL,
    wall_ns INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS keys (
    key_id     TEXT PRIMARY KEY,
    vkey       TEXT    NOT NULL,
    created_ns INTEGER NOT NULL,
    first_size INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS subtrees (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS projection_offsets (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    state    TEXT    NOT NULL
);
"""

APPEND_ONLY_TABLES: Final = ("events", "checkpoints", "keys")

TRIGGER_NAMES: Final = tuple(
    f"{table}_{action}" for table in APPEND_ONLY_TABLES for action in ("no_update", "no_delete")
)
"""Every trigger a store must have (docs/audit-format.md section 6); verify reports missing ones."""

DERIVED_TABLES: Final = ("subtrees",)
"""Append-only tables of data derived from the events (section 6): they get the same
triggers, but verify does not require them (stores written before them lack the table)."""

TRIGGERS: Final = "\n".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {table} rows cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {table} rows cannot be deleted'); END;
"""
    for table in (*APPEND_ONLY_TABLES, *DERIVED_TABLES)
)
