"""A plane's open verifications, opened in batches and measured in one call per iteration.

A storm iteration over 1,000 agents opens ~115 verifications, measures ~245 and closes
~115; one :class:`~sentinel.control.verification.Analysis` object per action, measured one
by one and turned into its record entry in Python, was about half the iteration.
:class:`VerificationStore` keeps them natively (``sentinel._native.VerificationStore``);
:class:`ReferenceVerificationStore` is the same store on ``Analysis``, its reference (a
hypothesis test, tests/control/test_verification_store.py, pins the two equal).

Both answer the same calls:

- ``add_rule(rule, metric_index)``: register a rule's ``verify`` check (returns its index);
  ``metric_index`` is the position of its metric in the ``columns`` given to ``measure``.
- ``open_many(check, decision, acted_at, keys, targets, target_ids, baselines)``: one
  verification per applied command (a NaN or None baseline is unknown).
- ``verifying(check, ids)``: per target id, whether the key has an open verification.
- ``holds(check, ids, tick, backoff_until, cooldown_until)``: per target id, why its key is
  held (an int8 code: 1 under verification, 2 in error backoff, 3 in cooldown, the first
  that applies; 0 free), ``backoff_until`` and ``cooldown_until`` indexed by target id.
- ``measure(tick, rows, columns)``: measure every open verification past its initial delay,
  in the order of actions; ``rows[target_id]`` is the target's row (-1 or past the end: not
  observed), ``columns[metric_index]`` the metric's float64 column (None: not observed).
- ``finish(why)``: close all as Inconclusive.
- ``closed_json(rollbacks)``: the JSON text the record's digest writes for the entries the
  last ``measure`` or ``finish`` returned (a list, keys sorted, compact), each Failed
  entry's ``rollback`` the next of ``rollbacks`` (one per Failed entry, in order); None
  when the native store leaves it to the standard library (see ``record_json``).

``measure`` and ``finish`` return the closed verifications' record entries (as
``Analysis.to_record`` writes them, with ``rollback`` None) and the positions of the
Failed ones, which the loop rolls back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import compress
from typing import Any

import numpy as np
import numpy.typing as npt

from sentinel import _native
from sentinel.control.actuator import Command
from sentinel.control.policy import Rule
from sentinel.control.record_json import reference_record_json
from sentinel.control.verification import Analysis

HOLD_VERIFYING, HOLD_BACKOFF, HOLD_COOLDOWN = 1, 2, 3
"""The codes ``holds`` gives a held key, in the order the holds apply (0: free)."""
HOLD_REASONS: tuple[str, ...] = ("", "verifying", "backoff", "cooldown")
"""A hold code's name in the record (``held``)."""

HeldGroups = tuple[npt.NDArray[np.intp], list[str], list[tuple[int, list[str]]]]
"""The free rows, their targets, and per hold code (first seen first) the held targets."""


def reference_group_holds(codes: npt.NDArray[np.int8], fired: list[str]) -> HeldGroups:
    """A rule's fired targets by the code ``holds`` gave each (``fired[n]``: row n's).

    The free rows (code 0) as an array and their targets; per hold code, in the order each
    is first seen, the targets held for it. The reference of :func:`group_holds`.
    """
    if len(codes) != len(fired):
        raise ValueError(f"group_holds: {len(codes)} codes for {len(fired)} targets")
    listed: list[int] = codes.tolist()
    held = [
        (code, list(compress(fired, [c == code for c in listed])))
        for code in sorted(set(listed) - {0}, key=listed.index)
    ]
    free_rows = np.flatnonzero(codes == 0)
    return free_rows, [fired[n] for n in free_rows.tolist()], held


group_holds: Callable[[npt.NDArray[np.int8], list[str]], HeldGroups] = _native.group_holds
""":func:`reference_group_holds`, natively (one pass over the codes)."""

Closed = tuple[list[dict[str, Any]], list[int]]
"""The closed verifications' record entries, and the positions of the Failed ones."""


class VerificationStore:
    """The native store (see the module docstring for its calls)."""

    __slots__ = ("_store", "closed_json", "finish", "holds", "measure", "open_many", "verifying")

    def __init__(self) -> None:
        store = _native.VerificationStore()
        self._store = store
        self.open_many = store.open_many
        self.verifying = store.verifying
        self.holds = store.holds
        self.measure = store.measure
        self.finish = store.finish
        self.closed_json = store.closed_json

    def __len__(self) -> int:
        return len(self._store)

    def add_rule(self, rule: Rule, metric_index: int) -> int:
        """Register ``rule``'s check; returns its index."""
        spec = rule.verify
        comparison = spec.comparison
        return self._store.add_check(
            rule.id, spec.condition, str(comparison), comparison.metric, metric_index,
            comparison.op, comparison.value, spec.tolerance, spec.initial_delay_ticks,
            rule.ttl_ticks, spec.failure_limit, spec.error_limit, spec.inconclusive_limit,
        )  # fmt: skip


class ReferenceVerificationStore:
    """The store on :class:`Analysis`, one object per open verification (the reference)."""

    def __init__(self) -> None:
        self._rules: list[tuple[Rule, int]] = []
        self._open: list[tuple[int, int, Analysis]] = []
        self._verifying: set[tuple[int, int]] = set()
        self._last: list[dict[str, Any]] = []
        """The entries the last ``measure`` or ``finish`` returned."""

    def __len__(self) -> int:
        return len(self._open)

    def add_rule(self, rule: Rule, metric_index: int) -> int:
        """Register ``rule``'s check; returns its index."""
        self._rules.append((rule, metric_index))
        return len(self._rules) - 1

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
        """Open one verification per applied command."""
        rule = self._rules[check][0]
        for key, target, target_id, baseline in zip(
            keys, targets, target_ids, baselines, strict=True
        ):
            known = None if baseline is None or math.isnan(baseline) else baseline
            command = Command(key, rule.action, target, rule.params)
            self._open.append(
                (check, target_id, Analysis(command, rule, decision, acted_at, known))
            )
            self._verifying.add((check, target_id))

    def verifying(self, check: int, ids: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        """Per target id, whether (``check``, id) has an open verification."""
        return np.array([(check, int(i)) in self._verifying for i in ids], dtype=bool)

    def holds(
        self,
        check: int,
        ids: npt.NDArray[np.intp],
        tick: int,
        backoff_until: npt.NDArray[np.int64],
        cooldown_until: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int8]:
        """Per target id, why its key is held (1 verifying, 2 backoff, 3 cooldown; 0 free)."""
        codes = np.zeros(len(ids), dtype=np.int8)
        codes[tick < cooldown_until[ids]] = HOLD_COOLDOWN
        codes[tick < backoff_until[ids]] = HOLD_BACKOFF
        codes[self.verifying(check, ids)] = HOLD_VERIFYING
        return codes

    def measure(
        self,
        tick: int,
        rows: npt.NDArray[np.int64],
        columns: Sequence[npt.NDArray[np.float64] | None],
    ) -> Closed:
        """Measure every open verification past its delay, in the order of actions."""
        closed: list[Analysis] = []
        still = []
        for entry in self._open:
            check, target_id, analysis = entry
            if tick < analysis.measure_from:
                still.append(entry)
                continue
            value: float | None = None
            column = columns[self._rules[check][1]]
            if column is not None and target_id < len(rows) and rows[target_id] >= 0:
                value = float(column[int(rows[target_id])])
                if math.isnan(value):
                    value = None
            if analysis.measure(tick, value):
                self._verifying.discard((check, target_id))
                closed.append(analysis)
            else:
                still.append(entry)
        self._open = still
        entries, failed = _entries(closed)
        self._last = entries
        return entries, failed

    def finish(self, why: str) -> Closed:
        """Close every open verification as Inconclusive."""
        closed = [analysis for _, _, analysis in self._open]
        for analysis in closed:
            analysis.expire(why)
        self._open = []
        self._verifying.clear()
        entries, failed = _entries(closed)
        self._last = entries
        return entries, failed

    def closed_json(self, rollbacks: Sequence[object]) -> bytes | None:
        """The record's JSON text of the last entries, each Failed one's rollback given."""
        if sum(entry["verdict"] == "Failed" for entry in self._last) != len(rollbacks):
            return None
        given = iter(rollbacks)
        entries = [
            {**entry, "rollback": next(given)} if entry["verdict"] == "Failed" else entry
            for entry in self._last
        ]
        return reference_record_json(entries)


def _entries(closed: list[Analysis]) -> Closed:
    entries = []
    failed = []
    for n, analysis in enumerate(closed):
        entry = analysis.to_record()
        entry["rollback"] = None
        entries.append(entry)
        if analysis.verdict == "Failed":
            failed.append(n)
    return entries, failed
