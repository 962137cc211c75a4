"""Type stubs for :mod:`sentinel._native`, the Rust core (``native/sentinel-py``).

Every function here has a pure-Python reference elsewhere in the package and a property
test that pins the two equal. Checked against the compiled module by ``mypy.stubtest``.
"""

import os
from collections.abc import Callable, Sequence
from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "AgentProbe",
    "CasMount",
    "CasStore",
    "LogWriter",
    "MerkleLog",
    "RuleRows",
    "SynthesisMatcher",
    "VerificationStore",
    "__version__",
    "action_entries",
    "build_info",
    "canonical_json",
    "cas_encode_tree",
    "cas_object_id",
    "chain_extend",
    "chain_mismatched_links",
    "group_holds",
    "merkle_leaf_hashes",
    "merkle_root",
    "merkle_verify_consistency",
    "merkle_verify_inclusion",
    "observation_digest",
    "scan_store",
    "seal_events",
    "shim_executable",
    "sqlite_library_address",
    "stdlib_sorted_json",
    "world_param_names",
    "world_step",
]

__version__: str

def build_info() -> dict[str, Any]:
    """How this extension was built.

    Returns:
        A dict with ``version`` (crate version), ``profile`` (``"release"`` or ``"debug"``),
        ``features`` (enabled cargo features), ``rustc`` (``rustc --version`` of the
        compiler used), ``target`` (the target triple) and ``debug_assertions``.
    """

def shim_executable() -> bytes:
    """The native Landlock shim executable, compiled for this target by the build script.

    Reference: ``sentinel/sandbox/shim/landlock_shim.py`` (same rules, same exit statuses).
    """

def canonical_json(value: object, path: str = "value") -> bytes:
    """Canonical JSON bytes (docs/audit-format.md section 2).

    Reference: :func:`sentinel.audit.canonical.reference_canonical_json`.

    Raises:
        sentinel.errors.InvalidEventError: The value has no canonical form; the message
            names its path.
    """

def seal_events(prev_hash: bytes, events: list[Any]) -> list[tuple[bytes, bytes]]:
    """``(canonical bytes, hash)`` per event dict, chained from ``prev_hash``.

    Reference: :func:`sentinel.audit.chain.reference_seal_events`.

    Raises:
        sentinel.errors.InvalidEventError: An event has no canonical form.
    """

def chain_extend(prev_hash: bytes, records: list[bytes]) -> list[bytes]:
    """Hashes of ``records`` chained from ``prev_hash``.

    Reference: :func:`sentinel.audit.chain.reference_chain_extend`.
    """

def chain_mismatched_links(
    prevs: list[bytes], records: list[bytes], hashes: list[bytes]
) -> list[int]:
    """Indices whose hash is not ``SHA-256(prev || record)``.

    Reference: :func:`sentinel.audit.chain.reference_mismatched_links`.
    """

def merkle_leaf_hashes(items: list[bytes]) -> list[bytes]:
    """RFC 6962 leaf hashes, ``SHA-256(0x00 || item)``, for each item.

    Reference: :func:`sentinel.audit.merkle.reference_leaf_hash`.
    """

def merkle_root(leaf_hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash over already-hashed leaves.

    Reference: :func:`sentinel.audit.merkle.reference_root`.

    Raises:
        sentinel.errors.InvalidInputError: An item is not 32 bytes long; the message names
            its index.
    """

def merkle_verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2. Reference: ``reference_verify_inclusion``."""

def merkle_verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2. Reference: ``reference_verify_consistency``."""

def scan_store(path: str) -> tuple[list[tuple[int, str, str]], list[int], MerkleLog]:
    """Walk a store's chain read-only: ``(findings, column mismatches, Merkle tree)``.

    Each finding is ``(position, kind, detail)``. Reference: the Python walk in
    :func:`sentinel.audit.verify.verify_store` with ``engine="reference"``.

    Raises:
        sentinel.errors.StoreCorruptError: SQLite cannot read the file.
    """

def sqlite_library_address() -> int:
    """Address of ``sqlite3_libversion`` in the SQLite library the native core links to.

    Compared with Python's copy by :mod:`sentinel.audit.sqlite_link`.
    """

@final
class MerkleLog:
    """An append-only Merkle tree with roots and proofs at any earlier size.

    References: ``reference_root``, ``reference_inclusion_proof``,
    ``reference_consistency_proof`` in :mod:`sentinel.audit.merkle`.
    """

    def __new__(cls) -> MerkleLog: ...
    def __len__(self) -> int: ...
    def append(self, leaf_hashes: list[bytes]) -> None:
        """Append leaf hashes (each 32 bytes) in order."""

    def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` leaves (default: all)."""

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 section 2.1.3.1 audit path."""

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 section 2.1.4.1 proof."""

    def subtree(self, level: int, index: int) -> bytes:
        """The complete subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.

        Reference: ``reference_subtree`` in :mod:`sentinel.audit.merkle`.

        Raises:
            sentinel.errors.InvalidInputError: The tree does not hold all of its leaves yet.
        """

def stdlib_sorted_json(value: object, verbatim: bool = False) -> bytes | None:
    """The bytes of ``json.dumps(value, sort_keys=True, separators=(",", ":"))``.

    None when the value holds something left to the standard library (a subclass, a key
    that is not a string, an integer beyond 64 bits, nesting deeper than 64, a lone
    surrogate). With ``verbatim``, an exact ``bytes`` that is a value of a top-level dict is
    JSON text written before, copied as it is (any other ``bytes`` is left to the standard
    library, which refuses it).
    Reference: :func:`sentinel.control.record_json.reference_record_json` (with
    ``verbatim``: :func:`sentinel.control.record_json.reference_spliced_record_json`).
    """

def observation_digest(
    plane: object,
    tick: object,
    targets: object,
    names: list[str],
    columns: list[npt.NDArray[np.float64]],
) -> str | None:
    """The hex SHA-256 of a control plane's observation.

    ``names`` are its column names in sorted order, ``columns`` their float64 arrays in
    that order. None when something is left to the reference (a tick that is not an int
    within 64 bits, targets that are not a tuple of strings, text UTF-8 cannot encode, a
    column of another dtype or length).
    Reference: :meth:`sentinel.control.observation.Observation.reference_digest`.
    """

def group_holds(
    codes: npt.NDArray[np.int8], fired: list[str]
) -> tuple[npt.NDArray[np.intp], list[str], list[tuple[int, list[str]]]]:
    """A rule's fired targets by the code ``VerificationStore.holds`` gave each.

    The free rows (code 0) and their targets; per hold code, in the order each is first
    seen, the targets held for it. Reference:
    :func:`sentinel.control.verification_store.reference_group_holds`.

    Raises:
        ValueError: ``codes`` and ``fired`` differ in length.
    """

def action_entries(
    rule: str,
    action: str,
    params: dict[str, Any],
    targets: list[str],
    keys: list[str],
    outcomes: list[Any],
) -> tuple[list[dict[str, Any]], bytes | None]:
    """A rule's action entries of a decision record, and their JSON text joined by commas.

    The text is None when something in it is left to the standard library. Reference:
    :func:`sentinel.control.action_entries.reference_action_entries`.

    Raises:
        ValueError: ``targets``, ``keys`` and ``outcomes`` differ in length.
    """

def world_param_names() -> list[str]:
    """The order of the world's scalar parameter vector (``sentinel.world.layout``)."""

def world_step(
    state: dict[str, npt.NDArray[Any]],
    tables: dict[str, npt.NDArray[Any]],
    scalars: npt.NDArray[np.float64],
    ticks: int,
) -> None:
    """Run ``ticks`` ticks of the world's systems over ``state``'s arrays, in place.

    The arrays are used zero-copy and the GIL is released for the whole run. Reference:
    :func:`sentinel.world.reference.step` (and the esper oracle, ``sentinel.world.oracle``).

    Raises:
        KeyError: A component or table is missing.
        sentinel.errors.InvalidInputError: A component has the wrong dtype, size, layout
            (not C-contiguous) or holds an impossible value; nothing is modified.
    """

@final
class LogWriter:
    """The native write path of an audit store (one SQLite connection).

    Reference: ``AuditStore(writer="reference")`` (``AuditStore._apply``).
    """

    def __new__(cls, path: str, node: str, max_event_bytes: int) -> LogWriter: ...
    def commit_group(
        self,
        requests: list[
            tuple[
                list[tuple[str, str, bytes, int | None, str | None, str | None, str | None]],
                list[tuple[str, int]],
            ]
        ],
        clock: int,
        checkpoint: tuple[tuple[int, bytes, str, str, int], list[tuple[int, int, bytes]]]
        | None = None,
        build: Callable[[list[Any]], Any] | None = None,
    ) -> Any:  # noqa: ANN401 - the outcomes, or what build returns
        """Commit requests in one durable transaction; one outcome per request.

        Per request: nine columns ``(positions, event_ids, stream_revs, lamports, wall_ns,
        canonicals, hashes, prevs, existing)`` or a refusal tuple. ``checkpoint`` is a
        signed checkpoint's row and its subtree rows, stored in the same transaction.
        ``build`` is called with the outcomes while the COMMIT waits for the disk on a
        native thread; its result is returned, only once the COMMIT succeeded.

        Raises:
            sentinel.errors.StoreCorruptError: SQLite failed; the group was rolled back.
        """

@final
class SynthesisMatcher:
    """Synthesis rules compiled once; decides batches of agent fingerprints.

    Args:
        gate: Conditions (``"HR==0"``) that must all hold before any rule is tried.
        rules: Each rule's conditions (``["T>=6", "T<=7"]``), tried in order.

    Raises:
        InvalidInputError: A condition does not compile; the message names rule and text.
    """

    def __new__(cls, gate: list[str], rules: list[list[str]]) -> SynthesisMatcher: ...
    def __len__(self) -> int: ...
    def decide(self, fingerprint: str) -> int:
        """The first matching rule's index; -1 no rule, -2 gate closed, -3 malformed."""

    def decide_many(self, fingerprints: list[str]) -> list[int]:
        """:meth:`decide` over a batch in one call."""

@final
class RuleRows:
    """A plane's control rules as comparisons of numbered float64 columns.

    Reference: :func:`sentinel.control.policy.reference_fired_rows`; a hypothesis test pins
    :func:`sentinel.control.policy.fired_rows` to it.

    Raises:
        ValueError: An unknown operator or a column number past ``columns``; ``fired`` with
            another number of columns, or a column of another length than ``count``.
    """

    def __new__(cls, rules: list[list[tuple[int, str, float]]], columns: int) -> RuleRows: ...
    def fired(
        self, columns: Sequence[npt.NDArray[np.float64] | None], count: int
    ) -> list[tuple[int, npt.NDArray[np.intp]]]:
        """Per rule (its position) that fires for any row, the rows it fires for.

        A rule comparing a column that is None fires nothing; NaN never holds.
        """

@final
class VerificationStore:
    """A control plane's open verifications: series, limits, verdicts, the ``verifying`` hold.

    Reference: :class:`sentinel.control.verification_store.ReferenceVerificationStore`
    (its module docstring describes every call); a hypothesis test pins the two equal.

    Raises:
        InvalidInputError: ``add_check`` with an unknown operator; ``open_many`` with an
            unknown check or batches of different lengths.
    """

    def __new__(cls) -> VerificationStore: ...
    def __len__(self) -> int: ...
    def add_check(
        self,
        rule: str,
        condition: str,
        text: str,
        metric: str,
        metric_index: int,
        op: str,
        threshold: float,
        tolerance: float,
        delay: int,
        ttl: int,
        failure_limit: int,
        error_limit: int,
        inconclusive_limit: int,
    ) -> int:
        """Register a rule's check (``text``: ``str(Comparison)``); returns its index."""

    def open_many(
        self,
        check: int,
        decision: str,
        acted_at: int,
        keys: list[str],
        targets: list[str],
        target_ids: list[int],
        baselines: list[float | None],
    ) -> None:
        """Open one verification per applied command (a NaN baseline is unknown)."""

    def verifying(self, check: int, ids: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        """Per target id, whether (``check``, id) has an open verification."""

    def holds(
        self,
        check: int,
        ids: npt.NDArray[np.intp],
        tick: int,
        backoff_until: npt.NDArray[np.int64],
        cooldown_until: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int8]:
        """Per target id, why its key is held: 1 verifying, 2 backoff, 3 cooldown; 0 free.

        Raises:
            IndexError: An id is outside ``backoff_until`` or ``cooldown_until``.
        """

    def measure(
        self,
        tick: int,
        rows: npt.NDArray[np.int64],
        columns: Sequence[npt.NDArray[np.float64] | None],
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Measure the open verifications past their delay, in the order of actions.

        Returns the closed ones' record entries and the positions of the Failed ones.
        """

    def finish(self, why: str) -> tuple[list[dict[str, Any]], list[int]]:
        """Close every open verification as Inconclusive with ``why``."""

    def closed_json(self, rollbacks: Sequence[object]) -> bytes | None:
        """The JSON text of the entries the last ``measure`` or ``finish`` returned.

        A list, keys sorted, compact; each Failed entry's ``rollback`` is the next of
        ``rollbacks``. None when a rollback holds what the native encoder leaves to the
        standard library, or ``rollbacks`` is not one per Failed entry.
        """

@final
class AgentProbe:
    """The agent probe: CO-RE eBPF programs on BTF tracepoints, filtered to watched cgroups.

    No Python reference: this class only loads, attaches and reads the kernel's maps; the
    records it returns are decoded by ``sentinel.probes.records``.

    Raises:
        OSError: The kernel would not load or attach a program (the message says which).
    """

    def __new__(cls, capacity: int) -> AgentProbe: ...
    def programs(self) -> list[str]:
        """The attached programs' names."""
    def watch(self, cgroup_id: int, slot: int) -> None:
        """Report cgroup ``cgroup_id`` (a cgroup v2 id) as agent ``slot``."""
    def unwatch(self, cgroup_id: int) -> None:
        """Stop reporting cgroup ``cgroup_id``."""
    def totals(self, slot: int) -> bytes | None:
        """The raw kernel-side totals of agent ``slot``, or None."""
    def drain(self) -> tuple[list[bytes], int]:
        """``(records, lost)``: the raw records queued so far, and how many were dropped."""
    def set_attached(self, on: bool) -> None:
        """Attach (True) or detach (False) every program; the maps and totals stay.

        Raises:
            OSError: The polling thread stopped, did not answer, or the kernel refused to
                attach a program again (they then all stay detached).
        """
    def attached(self) -> bool:
        """Whether the programs are attached now."""
    def running(self) -> bool:
        """Whether the polling thread still runs."""
    def close(self) -> None:
        """Detach the programs and stop the polling thread (idempotent)."""

def cas_object_id(kind: str, payload: bytes) -> str:
    """The hex id of a content-addressed object of ``kind`` (``file``, ``dir``, ``link``).

    Python reference: ``sentinel.cas.reference.object_id``.

    Raises:
        ValueError: ``kind`` is not one of the three.
    """

def cas_encode_tree(entries: Sequence[tuple[str, int, int, int, bytes, str]]) -> bytes:
    """The tree listing of ``(kind, mode, uid, gid, name, id hex)`` entries, sorted by name.

    Python reference: ``sentinel.cas.reference.encode_tree``.

    Raises:
        ValueError: A kind, name or id is invalid.
    """

@final
class CasStore:
    """A per-run object store (objects named by SHA-256 only) shared by CAS mounts.

    Raises:
        OSError: The store's directory cannot be created.
    """

    def __new__(cls, path: os.PathLike[str] | str) -> CasStore: ...
    def stats(self) -> tuple[int, int, int, int]:
        """``(logical_bytes, stored_bytes, dedup_hits, objects_written)``."""
    def get(self, id: str) -> bytes:  # noqa: A002 - the object's id
        """The payload of object ``id`` (hex)."""

@final
class CasMount:
    """A content-addressed workspace mounted over FUSE, served on a native thread.

    Raises:
        OSError: The mount failed.
    """

    def __new__(
        cls,
        store: CasStore,
        mountpoint: os.PathLike[str] | str,
        uid: int,
        gid: int,
        mode: int,
        max_nodes: int = ...,
        linger_us: int = ...,
    ) -> CasMount:
        """Mount ``store`` on ``mountpoint``.

        ``max_nodes``: most inodes (ENOSPC beyond; default one million); ``linger_us``:
        the request thread's spin after each reply (default 50, at most 10000, 0: none).

        Raises:
            ValueError: ``linger_us`` is over 10000.
        """
    def snapshot(self) -> str:
        """Commit every file, store the tree; returns the Merkle root (hex)."""
    def restore(self, root: str) -> None:
        """Make the workspace the tree of snapshot ``root`` (hex).

        Raises:
            ValueError: ``root`` is not an id, or the store lacks part of the snapshot.
        """
    def linger_stats(self) -> tuple[int, int, int, int]:
        """The spin after each reply so far: ``(spins, hits, spun_ns, cpu_ns)``."""
    def inodes(self) -> int:
        """Live inodes."""
    def unmount(self) -> None:
        """Unmount and wait for the session to end (idempotent)."""
