"""Analytics over the log: Arrow tables, DuckDB SQL, Parquet export.

SQLite is the log (fast single appends, durable); DuckDB is the analytical engine. Events
are decoded from their canonical bytes (the evidence), never from the index columns, into
Arrow record batches; DuckDB queries them as the table ``events``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from sentinel.audit.schema import INDEXED_MEMBERS
from sentinel.errors import AuditError, StoreCorruptError

if TYPE_CHECKING:
    import pandas as pd

ARROW_BATCH: Final = 50_000
_COPIED_MEMBERS: Final = (*INDEXED_MEMBERS, "node", "tick", "causation_id")
"""Document members copied as they are: the index columns and the members not indexed."""

EVENT_SCHEMA: Final = pa.schema(
    [
        ("position", pa.int64()),
        ("event_id", pa.string()),
        ("stream", pa.string()),
        ("stream_rev", pa.int64()),
        ("type", pa.string()),
        ("payload", pa.string()),
        ("lamport", pa.int64()),
        ("node", pa.string()),
        ("wall_time", pa.timestamp("ns", tz="UTC")),
        ("tick", pa.int64()),
        ("correlation_id", pa.string()),
        ("causation_id", pa.string()),
        ("idempotency_key", pa.string()),
        ("hash", pa.string()),
    ]
)
"""Columns of the ``events`` table; ``payload`` is canonical JSON text (use json_extract)."""


def _batches(path: Path) -> Iterator[pa.RecordBatch]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        cursor = conn.execute("SELECT canonical, hash FROM events ORDER BY position")
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: not a readable audit store: {exc}") from None
    try:
        while rows := cursor.fetchmany(ARROW_BATCH):
            columns: dict[str, list[object]] = {name: [] for name in EVENT_SCHEMA.names}
            for canonical, digest in rows:
                doc = json.loads(canonical)
                for name in _COPIED_MEMBERS:
                    columns[name].append(doc[name])
                columns["payload"].append(
                    json.dumps(doc["payload"], ensure_ascii=False, sort_keys=True)
                )
                columns["wall_time"].append(doc["wall_ns"])
                columns["hash"].append(digest.hex())
            yield pa.RecordBatch.from_pydict(columns, schema=EVENT_SCHEMA)
    finally:
        conn.close()


def to_arrow(store: Path | str) -> pa.Table:
    """Every event of the store as an Arrow table (see :data:`EVENT_SCHEMA`)."""
    path = Path(store)
    if not path.exists():
        raise StoreCorruptError(f"{path}: no such audit store")
    return pa.Table.from_batches(list(_batches(path)), schema=EVENT_SCHEMA)


def to_pandas(store: Path | str) -> pd.DataFrame:
    """Every event of the store as a pandas DataFrame."""
    return to_arrow(store).to_pandas()


def query(sql: str, store: Path | str) -> pa.Table:
    """Run DuckDB SQL over the store's events (table ``events``); returns Arrow.

    Raises:
        AuditError: DuckDB rejected the query; the message is DuckDB's.
    """
    return query_table(sql, to_arrow(store))


def query_table(sql: str, events: pa.Table) -> pa.Table:
    """Run DuckDB SQL over ``events`` (registered as the table ``events``); returns Arrow.

    Raises:
        AuditError: DuckDB rejected the query; the message is DuckDB's.
    """
    import duckdb  # noqa: PLC0415 - DuckDB loads in ~0.2 s; only analytics needs it

    connection = duckdb.connect()
    try:
        connection.register("events", events)
        relation: Any = connection.sql(sql)  # None for statements without a result (SET ...)
        if relation is None:
            return pa.table({})
        # DuckDB 2 names it to_arrow_table; 1.x named it fetch_arrow_table.
        export = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        table: pa.Table = export()
    except duckdb.Error as exc:
        raise AuditError(f"query failed: {exc}") from None
    finally:
        connection.close()
    return table


def export_parquet(store: Path | str, destination: Path | str) -> int:
    """Write every event to a Parquet file; returns the number of rows."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - the Parquet module is only needed here

    table = to_arrow(store)
    pq.write_table(table, destination, compression="zstd")
    return int(table.num_rows)
