"""Independent verification of an audit store: every link, every checkpoint, every signature.

Verification opens the database read-only and trusts nothing in it but the bytes: each
event's hash is recomputed from its canonical bytes and stored predecessor, the chain's
continuity and dense positions are checked, the index columns are checked against the
canonical bytes, the Merkle tree is rebuilt and compared with every signed checkpoint,
and each signature is checked against keys the caller trusts (or, lacking those, the keys
registered in the store, which an attacker with write access could replace).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

from sentinel import _native
from sentinel.audit.chain import GENESIS, mismatched_links
from sentinel.audit.checkpoints import SignedCheckpoint, VerifierKey
from sentinel.audit.merkle import MerkleLog, leaf_hashes
from sentinel.audit.sqlite_link import native_sqlite_is_shared
from sentinel.errors import CheckpointError, StoreCorruptError

VERIFY_BATCH: Final = 50_000

ProblemKind = Literal[
    "modified",
    "missing",
    "inserted",
    "reordered",
    "truncated",
    "rewritten",
    "bad_signature",
    "untrusted_key",
    "wrong_origin",
    "column_mismatch",
    "revision_gap",
]


@dataclass(frozen=True)
class Problem:
    """One finding: where, what kind, and what exactly was seen."""

    position: int | None
    kind: ProblemKind
    detail: str
    checkpoint: int | None = None
    """The size of the checkpoint concerned, for checkpoint problems."""


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of :func:`verify_store`."""

    path: str
    origin: str
    size: int
    events_checked: int
    checkpoints_checked: int
    key_source: Literal["caller", "store"]
    keys: list[str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    @property
    def first_bad_position(self) -> int | None:
        """The lowest position any problem names, if any does."""
        positions = [p.position for p in self.problems if p.position is not None]
        return min(positions) if positions else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {**asdict(self), "ok": self.ok, "first_bad_position": self.first_bad_position}


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StoreCorruptError(f"{path}: no such audit store")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        origin = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: not a readable audit store: {exc}") from None
    if origin is None:
        raise StoreCorruptError(f"{path}: the store has no origin in its meta table")
    return conn


@dataclass
class _ChainWalk:
    """State carried across batches while walking the chain."""

    expected_position: int = 0
    last_hash: bytes = GENESIS
    problems: list[Problem] = field(default_factory=list)
    swapped_hash: bytes | None = None
    """Set after a swap at p: the hash the chain continues from after row p + 1."""


def _canonical_position(canonical: bytes) -> int | None:
    try:
        value = json.loads(canonical)["position"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None


Row = tuple[int, bytes, bytes, bytes]
"""position, prev_hash, hash, canonical"""


def _walk_batch(walk: _ChainWalk, rows: list[Row], lookahead: Row | None, tree: MerkleLog) -> None:
    positions = [row[0] for row in rows]
    prevs, hashes, canonicals = (
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
    )
    for index in mismatched_links(prevs, canonicals, hashes):
        walk.problems.append(
            Problem(
                positions[index],
                "modified",
                "content does not match its stored hash (bytes changed)",
            )
        )
    tree.append(leaf_hashes(hashes))
    for index, (position, prev, digest, canonical) in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else lookahead
        next_hash = digest
        if position != walk.expected_position:
            missing = position - walk.expected_position
            walk.problems.append(
                Problem(
                    walk.expected_position,
                    "missing",
                    f"{missing} event(s) missing: "
                    f"positions {walk.expected_position}..{position - 1}",
                )
            )
        elif walk.swapped_hash is not None:
            next_hash, walk.swapped_hash = walk.swapped_hash, None  # second half of a reported swap
        elif prev != walk.last_hash:
            problem = _classify_break(position, canonical, following)
            walk.problems.append(problem)
            if problem.kind == "reordered":
                walk.swapped_hash = digest
        walk.expected_position, walk.last_hash = position + 1, next_hash


def _classify_break(position: int, canonical: bytes, following_row: Row | None) -> Problem:
    recorded = _canonical_position(canonical)
    following = _canonical_position(following_row[3]) if following_row is not None else None
    if recorded == position + 1 and following == position:
        return Problem(
            position, "reordered", f"events recorded at {position} and {position + 1} are swapped"
        )
    if recorded is not None and recorded > position:
        return Problem(
            position,
            "missing",
            f"{recorded - position} event(s) removed before this one "
            f"(recorded at position {recorded})",
        )
    if recorded is not None and recorded < position:
        return Problem(
            recorded,
            "inserted",
            f"{position - recorded} event(s) inserted at position {recorded}; the event recorded "
            f"there now sits at {position}",
        )
    return Problem(
        position - 1,
        "modified",
        f"the event before position {position} was replaced and re-hashed: "
        f"the chain breaks at {position}",
    )


def _column_mismatches(conn: sqlite3.Connection) -> list[Problem]:
    """Reference of the native scan's column check: index columns vs canonical bytes."""
    # Positions are checked by the chain walk; here the other index columns, with one JSON
    # parse per row. CASE keeps json_extract away from bytes that are no longer JSON (those
    # are reported as modified).
    rows = conn.execute(
        """
        SELECT position FROM events WHERE CASE WHEN json_valid(CAST(canonical AS TEXT)) THEN
            json_extract(CAST(canonical AS TEXT), '$.event_id', '$.stream', '$.stream_rev',
                         '$.type', '$.lamport', '$.correlation_id', '$.idempotency_key',
                         '$.prev_hash')
            IS NOT json_array(event_id, stream, stream_rev, type, lamport, correlation_id,
                              idempotency_key, lower(hex(prev_hash)))
        ELSE 0 END
        ORDER BY position LIMIT 100
        """
    ).fetchall()
    return [_column_problem(row[0]) for row in rows]


def _column_problem(position: int) -> Problem:
    return Problem(
        position, "column_mismatch", "an index column disagrees with the event's canonical bytes"
    )


def _revision_gaps(conn: sqlite3.Connection) -> list[Problem]:
    problems = []
    gaps = conn.execute(
        "SELECT stream, count(*), min(stream_rev), max(stream_rev) FROM events GROUP BY stream"
        " HAVING min(stream_rev) != 0 OR max(stream_rev) != count(*) - 1"
    ).fetchall()
    for stream, count, low, high in gaps:
        first = conn.execute(
            "SELECT position, stream_rev, rank FROM (SELECT position, stream_rev,"
            " row_number() OVER (ORDER BY stream_rev) - 1 AS rank FROM events WHERE stream = ?)"
            " WHERE stream_rev != rank ORDER BY position LIMIT 1",
            (stream,),
        ).fetchone()
        problems.append(
            Problem(
                first[0] if first else None,
                "revision_gap",
                f"stream {stream!r}: {count} events but revisions {low}..{high}"
                + (
                    f"; revision {first[2]} is missing before this event (revision {first[1]})"
                    if first
                    else ""
                ),
            )
        )
    return problems


def _check_checkpoint(
    signed: SignedCheckpoint,
    *,
    origin: str,
    tree: MerkleLog,
    keys: Sequence[VerifierKey],
    label: str,
    last_good: int,
    chain_problems: Sequence[Problem],
) -> list[Problem]:
    head = signed.checkpoint
    size = head.size
    if head.origin != origin:
        return [
            Problem(
                None, "wrong_origin", f"{label} is for log {head.origin!r}, not {origin!r}", size
            )
        ]
    if not any(key.verifies(signed) for key in keys):
        known_ids = {key.key_id for key in keys}
        if any(sig.key_id in known_ids for sig in signed.signatures):
            return [
                Problem(
                    None, "bad_signature", f"{label}: the signature does not verify (forged)", size
                )
            ]
        names = ", ".join(f"{sig.name}+{sig.key_id:08x}" for sig in signed.signatures)
        return [
            Problem(None, "untrusted_key", f"{label} is signed by untrusted key(s) {names}", size)
        ]
    # A break in the chain below this size already explains a different root or size.
    if any(p.position is not None and p.position < size for p in chain_problems):
        return []
    if size > len(tree):
        return [
            Problem(
                len(tree),
                "truncated",
                f"{label} covers {size} events but the log has {len(tree)}: positions "
                f"{len(tree)}..{size - 1} were removed",
                size,
            )
        ]
    if tree.root(size) != head.root:
        return [
            Problem(
                last_good,
                "rewritten",
                f"{label}: the log's Merkle root differs from the signed one: events in positions "
                f"{last_good}..{size - 1} were altered and the chain re-hashed",
                size,
            )
        ]
    return []


def _walk_reference(
    conn: sqlite3.Connection, total: int, progress: Callable[[int, int], None] | None
) -> tuple[list[Problem], list[Problem], MerkleLog]:
    """The Python chain walk: reference of ``sentinel._native.scan_store``."""
    walk, tree = _ChainWalk(), MerkleLog()
    cursor = conn.execute(
        "SELECT position, prev_hash, hash, canonical FROM events ORDER BY position"
    )
    rows = cursor.fetchmany(VERIFY_BATCH)
    while rows:
        following = cursor.fetchmany(VERIFY_BATCH)
        _walk_batch(walk, rows, following[0] if following else None, tree)
        if progress is not None:
            progress(len(tree), total)
        rows = following
    return walk.problems, _column_mismatches(conn), tree


def _walk_native(path: Path) -> tuple[list[Problem], list[Problem], MerkleLog]:
    findings, mismatched, tree = _native.scan_store(str(path))
    problems = [Problem(position, kind, detail) for position, kind, detail in findings]  # type: ignore[arg-type]
    return problems, [_column_problem(position) for position in mismatched], tree


def verify_store(
    path: Path | str,
    *,
    trusted_keys: Sequence[VerifierKey] | None = None,
    checkpoint: SignedCheckpoint | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: Literal["native", "reference"] | None = None,
) -> VerificationReport:
    """Verify a store completely.

    Args:
        path: The store's database file. It is opened read-only.
        trusted_keys: Keys to check signatures with. Without them the keys registered in the
            store are used, which proves integrity only against someone without write access.
        checkpoint: A checkpoint kept outside the store (an auditor's copy); the log must
            contain the tree it signs, which catches truncation and rewrites after it.
        progress: Called as ``progress(done, total)`` while events are checked.
        engine: ``native`` walks the chain in one Rust pass; ``reference`` in Python (same
            findings, slower; the oracle of the tests). By default native when the native
            core shares Python's SQLite library (:mod:`sentinel.audit.sqlite_link`).

    Returns:
        A report listing every problem with its position and kind.

    Raises:
        StoreCorruptError: The file is not a readable audit store.
    """
    path = Path(path)
    conn = _open_read_only(path)
    try:
        origin = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()[0]
        # Checkpoints first: the log only grows, so the walk below sees every event they cover.
        notes = conn.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        if trusted_keys is None:
            keys = [VerifierKey.parse(row[0]) for row in conn.execute("SELECT vkey FROM keys")]
            key_source: Literal["caller", "store"] = "store"
        else:
            keys, key_source = list(trusted_keys), "caller"
        total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        if engine is None:
            engine = "native" if native_sqlite_is_shared() else "reference"
        if engine == "native":
            chain_problems, column_problems, tree = _walk_native(path)
            if progress is not None:
                progress(len(tree), len(tree))
        else:
            chain_problems, column_problems, tree = _walk_reference(conn, total, progress)
        problems = chain_problems + column_problems + _revision_gaps(conn)
        last_good = 0
        for size, note in notes:
            try:
                signed = SignedCheckpoint.parse(note, source=f"checkpoint {size}")
            except CheckpointError as exc:
                problems.append(Problem(None, "bad_signature", str(exc), size))
                continue
            found = _check_checkpoint(
                signed, origin=origin, tree=tree, keys=keys, label=f"checkpoint {size}",
                last_good=last_good, chain_problems=chain_problems,
            )  # fmt: skip
            problems += found
            if not found:
                last_good = size
        if checkpoint is not None:
            problems += _check_checkpoint(
                checkpoint, origin=origin, tree=tree, keys=keys, label="the given checkpoint",
                last_good=last_good, chain_problems=chain_problems,
            )  # fmt: skip
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: reading failed: {exc}") from None
    finally:
        conn.close()
    problems.sort(key=lambda p: (p.position is None, p.position or 0, p.kind, p.detail))
    return VerificationReport(
        path=str(path),
        origin=origin,
        size=len(tree),
        events_checked=len(tree),
        checkpoints_checked=len(notes) + (checkpoint is not None),
        key_source=key_source,
        keys=[str(key) for key in keys],
        problems=problems,
    )
