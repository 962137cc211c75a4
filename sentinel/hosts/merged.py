"""The merged view of a multi-host run: every host's events in one Lamport order.

A ``run --hosts N`` run keeps one chain per host (the coordinator's and each worker's).
The merged view concatenates them, each row tagged with its ``host`` (0 the coordinator,
``n`` worker host ``n``), ordered by Lamport time with the host as tie-break (and the
position within a host last): a total order that extends every host's own order and every
request -> reply between hosts, because each request carries the sender's clock and each
host observes it before it appends (:mod:`sentinel.hosts.worker`).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sentinel.audit.analytics import query_table, to_arrow
from sentinel.audit.readonly import open_read_only
from sentinel.audit.verify import verify_store
from sentinel.errors import StoreCorruptError

HOSTS_EVENT = "runtime.hosts"
"""The coordinator's record of its worker hosts (written before the first tick)."""


def host_stores(store: Path) -> list[tuple[int, Path]]:
    """``(host, path)`` of every store of the run whose coordinator store is ``store``.

    A single-host store is its own run: ``[(0, store)]``.

    Raises:
        StoreCorruptError: A store is missing or not an audit store.
    """
    conn, _ = open_read_only(store)
    try:
        row = conn.execute(
            "SELECT canonical FROM events WHERE type = ? ORDER BY position LIMIT 1",
            (HOSTS_EVENT,),
        ).fetchone()
    finally:
        conn.close()
    stores = [(0, store)]
    if row is None:
        return stores
    for entry in json.loads(row[0])["payload"]["hosts"]:
        name = str(entry["store"])
        if Path(name).name != name:  # recorded as a name beside the coordinator's store
            raise StoreCorruptError(f"{store}: {HOSTS_EVENT} names a store outside: {name!r}")
        path = store.with_name(name)
        if not path.is_file():
            raise StoreCorruptError(f"{path}: host {entry['host']}'s store is missing")
        stores.append((int(entry["host"]), path))
    return stores


def merged_table(store: Path) -> pa.Table:
    """Every event of the run, column ``host`` added, in (lamport, host, position) order."""
    tables = []
    for host, path in host_stores(store):
        table = to_arrow(path)
        tables.append(table.append_column("host", pa.array([host] * table.num_rows, pa.int32())))
    merged = pa.concat_tables(tables)
    order = pc.sort_indices(
        merged,
        sort_keys=[("lamport", "ascending"), ("host", "ascending"), ("position", "ascending")],
    )
    return merged.take(order)


def query_merged(sql: str, store: Path) -> pa.Table:
    """DuckDB SQL over the merged view (table ``events``, with ``host``), as ``audit query``.

    Raises:
        AuditError: DuckDB rejected the query.
    """
    return query_table(sql, merged_table(store))


@dataclass
class MergedReport:
    """Whether a multi-host run's stores and their merged order hold together."""

    stores: dict[int, str] = field(default_factory=dict)
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every chain verifies and the merged order is consistent."""
        return not self.problems


def check_merged(store: Path) -> MergedReport:
    """Verify every host's chain and the merged order.

    Consistent means: every store verifies (chain, Merkle tree, signed checkpoints); within
    each host Lamport times strictly increase with position (so the merged order keeps each
    host's own order); no event id appears twice across hosts; and no host lost mid-run holds
    fewer events than the coordinator saw it acknowledge.
    """
    report = MergedReport()
    sizes: dict[int, int] = {}
    for host, path in host_stores(store):
        report.stores[host] = str(path)
        verified = verify_store(path)
        if not verified.ok:
            report.problems.append(f"host {host} ({path}): the chain does not verify")
        table = to_arrow(path)
        sizes[host] = table.num_rows
        lamports = table.column("lamport").to_pylist()
        for position, (before, after) in enumerate(itertools.pairwise(lamports)):
            if after <= before:
                report.problems.append(
                    f"host {host}: Lamport time {after} at position {position + 1} is not"
                    f" after {before}"
                )
                break
    merged = merged_table(store)
    report.events = merged.num_rows
    ids = merged.column("event_id")
    if pc.count_distinct(ids).as_py() != report.events:
        report.problems.append("an event id appears in more than one host's store")
    acknowledged: list[tuple[int, int]] = []
    for row in merged.filter(pc.equal(merged.column("host"), 0)).to_pylist():
        payload = json.loads(row["payload"])
        if row["type"] == "runtime.host_lost":
            acknowledged.append((int(payload["host"]), int(payload["acknowledged"])))
        elif row["type"] == "runtime.finished":
            acknowledged += [(int(h["host"]), int(h["acknowledged"])) for h in payload["hosts"]]
    for host, count in acknowledged:
        if sizes.get(host, 0) < count:
            report.problems.append(
                f"host {host} holds {sizes.get(host, 0)} events; {count} were acknowledged"
            )
    return report
