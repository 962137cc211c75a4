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
from sentinel.audit.document_rules import DocumentCheck, Facts, check_document
from sentinel.audit.location import witness_dir
from sentinel.audit.merkle import MerkleLog, leaf_hashes
from sentinel.audit.readonly import open_read_only
from sentinel.audit.schema import INDEXED_MEMBERS, TRIGGER_NAMES
from sentinel.audit.sqlite_link import native_sqlite_is_shared
from sentinel.audit.subtrees import mismatched_subtrees
from sentinel.audit.witness import Witness
from sentinel.errors import ChainBrokenError, CheckpointError, StoreCorruptError

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
    "storage_class",
    "not_canonical",
    "invalid_event",
    "position_mismatch",
    "duplicate_event_id",
    "lamport_order",
    "triggers_missing",
    "checkpoints_missing",
    "subtree_mismatch",
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
    witnessed: int | None = None
    """The size of the latest witnessed checkpoint compared with, if any."""

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


@dataclass
class _ChainWalk:
    """State carried across batches while walking the chain (the native ``Walk``'s twin)."""

    expected_position: int = 0
    last_hash: bytes = GENESIS
    problems: list[Problem] = field(default_factory=list)
    swapped_hash: bytes | None = None
    """Set after a swap at p: the hash the chain continues from after row p + 1."""
    shift: int = 0
    """Recorded minus stored position, as established by the last missing/inserted finding."""
    ids: dict[str, int] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    lamport: int | None = None
    streams_from_start: bool = True
    """False after a row without facts: streams first seen then may start anywhere."""
    column_mismatches: list[int] = field(default_factory=list)

    def cross_event(self, position: int, facts: Facts, *, quiet: bool) -> None:
        """The rules that span events: position member, unique ids, revisions, Lamport."""
        found: list[tuple[ProblemKind, str]] = []
        if facts.position - position != self.shift:
            found.append(
                (
                    "position_mismatch",
                    f"the event records position {facts.position}, it is stored at {position}",
                )
            )
        first = self.ids.get(facts.event_id)
        if first is not None:
            found.append(
                (
                    "duplicate_event_id",
                    f"event_id {facts.event_id} is also the id of the event at position {first}",
                )
            )
        else:
            self.ids[facts.event_id] = position
        last = self.revisions.get(facts.stream)
        due = last + 1 if last is not None else (0 if self.streams_from_start else None)
        if due is not None and facts.stream_rev != due:
            found.append(
                (
                    "revision_gap",
                    f"stream {facts.stream}: revision {facts.stream_rev} where {due} was due",
                )
            )
        top = facts.stream_rev if last is None else max(last, facts.stream_rev)
        self.revisions[facts.stream] = top
        if self.lamport is not None and facts.lamport <= self.lamport:
            found.append(
                (
                    "lamport_order",
                    f"lamport {facts.lamport} is not above {self.lamport}, the largest before it",
                )
            )
        self.lamport = facts.lamport if self.lamport is None else max(self.lamport, facts.lamport)
        if not quiet:
            self.problems += [Problem(position, kind, detail) for kind, detail in found]

    def forget(self) -> None:
        """A row without facts: what came before no longer predicts what follows."""
        self.revisions.clear()
        self.lamport = None
        self.streams_from_start = False


def _recorded(canonical: bytes, member: str) -> object:
    try:
        return json.loads(canonical)[member]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _canonical_position(canonical: bytes) -> int | None:
    value = _recorded(canonical, "position")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


Row = tuple[int, bytes, bytes, bytes, tuple[str, ...], tuple[object, ...]]
"""position, prev_hash, hash, canonical, columns not stored as the format says, and the
index columns event_id, stream, stream_rev, type, lamport, correlation_id, idempotency_key"""


def _stored(value: object) -> tuple[bytes, bool]:
    """The bytes of a column that should hold a BLOB, and whether it does."""
    if isinstance(value, bytes):
        return value, True
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass"), False
    return b"", False


def _to_hash(value: bytes) -> bytes:
    # As the native scan: a value of the wrong length cannot match any hash.
    return value if len(value) == 32 else b"\xff" * 32


def _row(position: int, prev: object, digest: object, canonical: object, *columns: object) -> Row:
    prev_bytes, prev_ok = _stored(prev)
    hash_bytes, hash_ok = _stored(digest)
    canonical_bytes, canonical_ok = _stored(canonical)
    misstored = tuple(
        name
        for name, ok in (
            ("prev_hash", prev_ok and len(prev_bytes) == 32),
            ("hash", hash_ok and len(hash_bytes) == 32),
            ("canonical", canonical_ok),
        )
        if not ok
    )
    prev_hash, hash_ = _to_hash(prev_bytes), _to_hash(hash_bytes)
    return position, prev_hash, hash_, canonical_bytes, misstored, columns


def _row_findings(walk: _ChainWalk, row: Row, *, link_holds: bool) -> DocumentCheck:
    """Storage classes, index columns and (when the link holds) the document rules of a row."""
    position, prev, _, canonical, misstored, columns = row
    document = check_document(canonical)
    if (
        not _columns_match(document.document, prev, columns)
        and len(walk.column_mismatches) < MAX_COLUMN_MISMATCHES
    ):
        walk.column_mismatches.append(position)
    for column in misstored:
        size = "" if column == "canonical" else "32-byte "
        walk.problems.append(
            Problem(position, "storage_class", f"column {column} does not hold a {size}BLOB")
        )
    if link_holds:
        walk.problems += [
            Problem(position, kind, detail)  # type: ignore[arg-type]
            for kind, detail in document.findings
        ]
    return document


def _walk_batch(walk: _ChainWalk, rows: list[Row], lookahead: Row | None, tree: MerkleLog) -> None:
    prevs, hashes, canonicals = (
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
    )
    broken = set(mismatched_links(prevs, canonicals, hashes))
    tree.append(leaf_hashes(hashes))
    for index, (position, prev, digest, canonical, _, _) in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else lookahead
        document = _row_findings(walk, rows[index], link_holds=index not in broken)
        chain_before = len(walk.problems)
        if index in broken:
            walk.problems.append(
                Problem(
                    position, "modified", "content does not match its stored hash (bytes changed)"
                )
            )
        next_hash, quiet = digest, False
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
            quiet = True
        elif prev != walk.last_hash:
            problem = _classify_break(position, canonical, following, walk.last_hash)
            walk.problems.append(problem)
            if problem.kind == "reordered":
                walk.swapped_hash = digest
            if problem.kind in ("missing", "inserted"):
                recorded = _canonical_position(canonical)
                if recorded is not None:
                    walk.shift = recorded - position
        walk.expected_position, walk.last_hash = position + 1, next_hash
        quiet = quiet or len(walk.problems) > chain_before
        if document.facts is None:
            walk.forget()
        else:
            walk.cross_event(position, document.facts, quiet=quiet)


def _classify_break(
    position: int, canonical: bytes, following_row: Row | None, last_hash: bytes
) -> Problem:
    if _recorded(canonical, "prev_hash") == last_hash.hex():
        return Problem(
            position,
            "modified",
            "the prev_hash column differs from the prev_hash the event records "
            "(the column was changed)",
        )
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


MAX_COLUMN_MISMATCHES: Final = 100
"""How many column mismatches are listed (as the native scan)."""


def _columns_match(
    document: dict[str, object] | None, prev: bytes, columns: tuple[object, ...]
) -> bool:
    """Reference of the native column check: index columns vs the document's members.

    Only documents that pass the member rules are compared (a malformed one is reported as
    such); each column must hold its member with the storage class of the schema.
    ``columns`` are the columns of :data:`INDEXED_MEMBERS` after ``position``.
    """
    if document is None:
        return True
    event_id, stream, stream_rev, type_, lamport, correlation_id, idempotency_key = columns
    texts = (event_id, stream, type_)
    nullable = (correlation_id, idempotency_key)
    integers = (stream_rev, lamport)
    return (
        all(isinstance(value, str) for value in texts)
        and all(value is None or isinstance(value, str) for value in nullable)
        and all(isinstance(value, int) for value in integers)
        and columns == tuple(document[name] for name in INDEXED_MEMBERS[1:])
        and prev.hex() == document["prev_hash"]
    )


def _column_problem(position: int) -> Problem:
    return Problem(
        position, "column_mismatch", "an index column disagrees with the event's canonical bytes"
    )


def _missing_triggers(conn: sqlite3.Connection) -> list[Problem]:
    """The append-only triggers are part of the format (section 6): report any that is gone."""
    present = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    missing = [name for name in TRIGGER_NAMES if name not in present]
    if not missing:
        return []
    return [
        Problem(
            None,
            "triggers_missing",
            f"append-only trigger(s) {', '.join(missing)} were dropped: someone changed the "
            "store outside Sentinel",
        )
    ]


MAX_SUBTREE_PROBLEMS: Final = 100
"""How many wrong stored subtrees are listed."""


def _subtree_problems(
    conn: sqlite3.Connection, tree: MerkleLog, chain_problems: Sequence[Problem]
) -> list[Problem]:
    """Stored subtrees (docs/audit-format.md section 6) that the events' hashes contradict.

    A row over events at or after a chain problem is explained by that problem already.
    """
    first_break = min((p.position for p in chain_problems if p.position is not None), default=None)
    found = []
    for level, index in mismatched_subtrees(conn, tree):
        if isinstance(level, int) and isinstance(index, int):
            start, end = index << level, (index + 1) << level
            if first_break is not None and end > first_break:
                continue
            where, span = start, f"over positions {start}..{end - 1}"
        else:
            where, span = None, "with a malformed level or index"
        found.append(
            Problem(
                where,
                "subtree_mismatch",
                f"the stored subtree (level {level!r}, index {index!r}) {span} differs from "
                "the tree of the events' hashes",
            )
        )
        if len(found) == MAX_SUBTREE_PROBLEMS:
            break
    return found


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
        "SELECT position, prev_hash, hash, canonical, event_id, stream, stream_rev, type,"
        " lamport, correlation_id, idempotency_key FROM events ORDER BY position"
    )
    rows = [_row(*row) for row in cursor.fetchmany(VERIFY_BATCH)]
    while rows:
        following = [_row(*row) for row in cursor.fetchmany(VERIFY_BATCH)]
        _walk_batch(walk, rows, following[0] if following else None, tree)
        if progress is not None:
            progress(len(tree), total)
        rows = following
    return walk.problems, [_column_problem(p) for p in walk.column_mismatches], tree


def _walk_native(path: Path) -> tuple[list[Problem], list[Problem], MerkleLog]:
    findings, mismatched, tree = _native.scan_store(str(path))
    problems = [Problem(position, kind, detail) for position, kind, detail in findings]  # type: ignore[arg-type]
    return problems, [_column_problem(position) for position in mismatched], tree


def trusted_after_handovers(
    notes: Sequence[tuple[int, SignedCheckpoint]],
    trusted: Sequence[VerifierKey],
    registered: Sequence[VerifierKey],
) -> list[VerifierKey]:
    """Extend trust along key rotations (docs/audit-format.md section 5).

    A checkpoint signed by a trusted key and by a key registered in the store hands trust
    over to that key; handovers are followed in tree-size order.
    """
    keys = list(trusted)
    for _, signed in notes:
        if not any(key.verifies(signed) for key in keys):
            continue
        for candidate in registered:
            if candidate not in keys and candidate.verifies(signed):
                keys.append(candidate)
    return keys


def _checkpoint_rows(
    conn: sqlite3.Connection,
) -> tuple[list[tuple[int, SignedCheckpoint]], list[Problem]]:
    parsed, problems = [], []
    for size, root, note in conn.execute("SELECT size, root, note FROM checkpoints ORDER BY size"):
        try:
            signed = SignedCheckpoint.parse(note, source=f"checkpoint {size}")
        except CheckpointError as exc:
            problems.append(Problem(None, "bad_signature", str(exc), size))
            continue
        if signed.checkpoint.size != size or root != signed.checkpoint.root:
            problems.append(
                Problem(
                    None,
                    "column_mismatch",
                    f"checkpoint {size}: the size or root column differs from the signed note",
                    size,
                )
            )
        parsed.append((size, signed))
    return parsed, problems


def _witness_problems(
    witnessed: SignedCheckpoint,
    stored: dict[int, SignedCheckpoint],
    check: Callable[[SignedCheckpoint, str], list[Problem]],
) -> tuple[list[Problem], bool]:
    """Problems the witnessed checkpoint reveals, and whether it was checked itself.

    It need not be when the store holds the very same checkpoint, already checked.
    """
    head = witnessed.checkpoint
    same = stored.get(head.size)
    problems = []
    checked = same is None or same.checkpoint != head
    if checked:
        problems += check(witnessed, f"the witnessed checkpoint {head.size}")
    top = max(stored, default=0)
    if top < head.size:
        problems.append(
            Problem(
                None,
                "checkpoints_missing",
                f"the store's checkpoints end at {top}, but checkpoint {head.size} was "
                "witnessed: checkpoints were deleted",
                head.size,
            )
        )
    return problems, checked


def verify_store(
    path: Path | str,
    *,
    trusted_keys: Sequence[VerifierKey] | None = None,
    checkpoint: SignedCheckpoint | None = None,
    witness: Path | bool = True,
    progress: Callable[[int, int], None] | None = None,
    engine: Literal["native", "reference"] | None = None,
) -> VerificationReport:
    """Verify a store completely.

    Args:
        path: The store's database file. It is opened read-only.
        trusted_keys: Keys to check signatures with. Without them the keys registered in the
            store are used, which proves integrity only against someone without write access.
            Trust follows key rotations: a checkpoint signed by a trusted key and a new key
            makes the new key trusted.
        checkpoint: A checkpoint kept outside the store (an auditor's copy); the log must
            contain the tree it signs, which catches truncation and rewrites after it.
        witness: The witness directory to compare with (``True``: the default one of
            :func:`sentinel.audit.location.witness_dir`; ``False``: none). The latest
            witnessed checkpoint is checked like ``checkpoint``, and a store whose
            checkpoints end below it is reported (``checkpoints_missing``).
        progress: Called as ``progress(done, total)`` while events are checked.
        engine: ``native`` walks the chain in one Rust pass; ``reference`` in Python (same
            findings, slower; the oracle of the tests). By default native when the native
            core shares Python's SQLite library (:mod:`sentinel.audit.sqlite_link`).

    Returns:
        A report listing every problem with its position and kind.

    Raises:
        StoreCorruptError: The file is not a readable audit store.
        CheckpointError: A witnessed note does not parse.
    """
    path = Path(path)
    conn, origin = open_read_only(path)
    try:
        # The witness first (it records a checkpoint after the store committed it), then the
        # checkpoints: the log only grows, so the walk below sees every event they cover.
        directory = witness_dir() if witness is True else (witness or None)
        witnessed = Witness(Path(directory), origin).latest() if directory else None
        notes, problems = _checkpoint_rows(conn)
        registered = [VerifierKey.parse(row[0]) for row in conn.execute("SELECT vkey FROM keys")]
        key_source: Literal["caller", "store"] = "store" if trusted_keys is None else "caller"
        keys = (
            registered
            if trusted_keys is None
            else trusted_after_handovers(notes, trusted_keys, registered)
        )
        if engine is None:
            engine = "native" if native_sqlite_is_shared() else "reference"
        if engine == "native":
            chain_problems, column_problems, tree = _walk_native(path)
            if progress is not None:
                progress(len(tree), len(tree))
        else:
            total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            chain_problems, column_problems, tree = _walk_reference(conn, total, progress)
        problems += chain_problems + column_problems + _missing_triggers(conn)
        problems += _subtree_problems(conn, tree, chain_problems)
        last_good = 0
        for size, signed in notes:
            found = _check_checkpoint(
                signed, origin=origin, tree=tree, keys=keys, label=f"checkpoint {size}",
                last_good=last_good, chain_problems=chain_problems,
            )  # fmt: skip
            problems += found
            if not found:
                last_good = size

        def check(signed: SignedCheckpoint, label: str) -> list[Problem]:
            return _check_checkpoint(
                signed, origin=origin, tree=tree, keys=keys, label=label,
                last_good=last_good, chain_problems=chain_problems,
            )  # fmt: skip

        if checkpoint is not None:
            problems += check(checkpoint, "the given checkpoint")
        witness_checked = False
        if witnessed is not None:
            found, witness_checked = _witness_problems(witnessed, dict(notes), check)
            problems += found
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
        checkpoints_checked=len(notes) + (checkpoint is not None) + witness_checked,
        key_source=key_source,
        keys=[str(key) for key in keys],
        problems=problems,
        witnessed=None if witnessed is None else witnessed.checkpoint.size,
    )


def refuse_unverified(path: Path | str) -> VerificationReport:
    """Verify a store before anything is taken from it; raise when it fails.

    Raises:
        ChainBrokenError: The store does not verify; the message names the first problem.
        StoreCorruptError: The file is not a readable audit store.
    """
    report = verify_store(path)
    if not report.ok:
        first = report.problems[0]
        where = "" if first.position is None else f" at position {first.position}"
        raise ChainBrokenError(
            f"{path} does not verify ({len(report.problems)} problem(s); first{where}: "
            f"{first.kind}: {first.detail}); refusing to use a tampered store "
            "(see `sentinel-run audit verify`)"
        )
    return report
