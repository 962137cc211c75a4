from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sentinel.audit import AuditStore, export_parquet, query, to_arrow, to_pandas
from sentinel.errors import AuditError, StoreCorruptError
from tests.audit.conftest import fill


def test_arrow_table_is_decoded_from_the_evidence(store: AuditStore) -> None:
    fill(store, 12)
    table = to_arrow(store.path)
    assert table.num_rows == 12
    assert table.column("position").to_pylist() == list(range(12))
    assert table.column("hash").to_pylist()[3] == store.at(3).hash.hex()  # type: ignore[union-attr]


def test_duckdb_sql_over_events(store: AuditStore) -> None:
    fill(store, 12)
    result = query(
        "SELECT stream, count(*) AS n, max(CAST(json_extract(payload, '$.i') AS INTEGER)) AS top "
        "FROM events GROUP BY stream ORDER BY stream",
        store.path,
    )
    assert result.to_pylist() == [
        {"stream": "agent/A-0", "n": 4, "top": 9},
        {"stream": "agent/A-1", "n": 4, "top": 10},
        {"stream": "agent/A-2", "n": 4, "top": 11},
    ]
    with pytest.raises(AuditError, match="query failed"):
        query("SELECT nope FROM events", store.path)


def test_parquet_and_pandas(store: AuditStore, tmp_path: Path) -> None:
    fill(store, 5)
    out = tmp_path / "events.parquet"
    assert export_parquet(store.path, out) == 5
    assert pq.read_table(out).column("stream_rev").to_pylist() == [0, 0, 0, 1, 1]
    frame = to_pandas(store.path)
    assert list(frame["position"]) == [0, 1, 2, 3, 4]


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreCorruptError, match="no such audit store"):
        to_arrow(tmp_path / "absent.db")
