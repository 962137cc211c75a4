"""One control loop: observe -> decide -> act -> verify -> roll back, one record per iteration.

Level-triggered like a Kubernetes controller: each iteration looks at the whole observed
state again, and what fires is decided from it alone (``decide`` is pure). Before acting a
key (``rule/target``) must be out of its cooldown, out of its error backoff, and not still
under verification. A rule in ``monitor`` mode passes the same gates and only counts what it
would have done; nothing reaches the actuator. Every iteration returns one
:class:`DecisionRecord`; the records of a plane are chained by the digest of the previous one.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sentinel.control.actuator import Actuator, Command, Outcome
from sentinel.control.clock import VirtualClock
from sentinel.control.observation import Observation
from sentinel.control.policy import Policy, Rule, fired_rows
from sentinel.control.record_json import record_digest
from sentinel.control.verification import Analysis
from sentinel.errors import ConfigError

GENESIS: Final = "0" * 64
"""The ``previous`` of a plane's first record."""

Observer = Callable[[int], Observation]
"""Called with the tick; returns the plane's observation."""


@dataclass
class DecisionRecord:
    """What one iteration of one plane saw, decided and did (the ``control.decision`` payload)."""

    decision_id: str
    plane: str
    iteration: int
    tick: int
    observation_digest: str
    policy_revision: str
    previous: str
    fired: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    monitored: list[dict[str, str]] = field(default_factory=list)
    held: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(rule, why) -> the targets held for that reason."""
    verifications: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, str]] = field(default_factory=list)
    observation: Observation | None = None
    """What was observed (serialised into the payload; what replay needs)."""

    def decisions(self) -> dict[str, Any]:
        """The record without the observation: what a replay must reproduce."""
        return self._fields()

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready payload (see docs/audit-format.md, control payloads)."""
        data = self._fields()
        if self.observation is not None:
            data["observation"] = self.observation.to_record()
        return data

    def _fields(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "plane": self.plane,
            "iteration": self.iteration,
            "tick": self.tick,
            "observation_digest": self.observation_digest,
            "policy_revision": self.policy_revision,
            "previous": self.previous,
            "fired": self.fired,
            "actions": self.actions,
            "monitored": self.monitored,
            "held": [
                {"rule": rule, "why": why, "targets": targets}
                for (rule, why), targets in self.held.items()
            ],
            "verifications": self.verifications,
            "rollbacks": self.rollbacks,
        }

    def digest(self) -> str:
        """SHA-256 of the decisions (sorted-key JSON), the next record's ``previous``."""
        return record_digest(self.decisions())


class _RuleKeys:
    """One rule's per-target state as arrays indexed by target id (the holds in numpy).

    ``cooldown_until``, ``backoff_until`` and ``errors`` are the key's cooldown, error
    backoff and consecutive errors; ``verifying`` whether an action of the key is under
    verification; ``shadow_until`` a monitor rule's cooldown of what it would have done.
    Zero is the state of a key never seen.
    """

    def __init__(self, size: int) -> None:
        self.cooldown_until = np.zeros(size, dtype=np.int64)
        self.backoff_until = np.zeros(size, dtype=np.int64)
        self.errors = np.zeros(size, dtype=np.int64)
        self.verifying = np.zeros(size, dtype=bool)
        self.shadow_until = np.zeros(size, dtype=np.int64)

    def grow(self, size: int) -> None:
        """Make room for target ids below ``size`` (new keys start at zero)."""
        extra = size - len(self.errors)
        if extra > 0:
            for name in ("cooldown_until", "backoff_until", "errors", "verifying", "shadow_until"):
                column = getattr(self, name)
                setattr(self, name, np.concatenate([column, np.zeros(extra, dtype=column.dtype)]))


class ControlPlane:
    """One plane's loop.

    Args:
        name: ``agent``, ``platform`` or ``api``.
        policy: The rules (only this plane's are used).
        observe: The plane's observer.
        actuator: The plane's own actuator (an actuator of another plane is refused).
        metrics: The metric names the observer provides (rules reading others are refused).
        clock: The virtual clock.
        record_observations: Put the observation in each record (what replay needs).

    Raises:
        ConfigError: The actuator belongs to another plane, or a rule of this plane reads a
            metric it does not observe or names an action its actuator lacks.
    """

    def __init__(
        self,
        name: str,
        policy: Policy,
        observe: Observer,
        actuator: Actuator,
        metrics: frozenset[str],
        clock: VirtualClock,
        *,
        record_observations: bool = True,
    ) -> None:
        if actuator.plane != name:
            raise ConfigError(f"the {name} plane cannot hold the {actuator.plane} plane's actuator")
        policy.check(name, metrics, actuator.actions)
        self.name = name
        self.policy = policy
        self._observe = observe
        self._actuator = actuator
        self.clock = clock
        self.settings = policy.settings(name)
        self.record_observations = record_observations
        self.iteration = 0
        self.next_tick = 0
        self.previous = GENESIS
        self.pending: dict[str, Analysis] = {}
        """The open verifications in the order of their actions."""
        self._waiting: list[tuple[int, int, str]] = []
        """Heap of (first tick measured, order, key): open verifications in their delay."""
        self._measuring: list[tuple[int, str, Analysis]] = []
        """(order, key, analysis) of the open verifications past their delay, in order."""
        self._order = 0
        self._verified_at: int | None = None
        self._rule_keys: dict[str, _RuleKeys] = {}
        self._ids: dict[str, int] = {}
        """Target -> id (an index into every rule's arrays), for every target ever seen."""
        self._seen: tuple[str, ...] | None = None
        self._unique = True
        """Whether no target appears twice in the observation (else rows go one by one)."""
        self._row_ids: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._row_targets: npt.NDArray[np.object_] = np.zeros(0, dtype=object)
        self.counters: Counter[str] = Counter()

    # -- driving ---------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether the clock reached the next iteration."""
        return self.clock.tick >= self.next_tick

    def tick(self) -> DecisionRecord | None:
        """Run one iteration if it is due (observe at the clock's tick)."""
        if not self.due():
            return None
        return self.step(self._observe(self.clock.tick))

    def step(self, observation: Observation) -> DecisionRecord:
        """One iteration over a given observation (the runtime's and the replay's entry)."""
        tick = observation.tick
        self.next_tick = tick + self.settings.interval_ticks
        self.iteration += 1
        record = DecisionRecord(
            decision_id=f"{self.name}-{self.iteration:06d}",
            plane=self.name,
            iteration=self.iteration,
            tick=tick,
            observation_digest=observation.digest(),
            policy_revision=self.policy.revision,
            previous=self.previous,
            observation=observation if self.record_observations else None,
        )
        self._verify(observation, record)
        row_ids, row_targets = self._targets(observation.targets)
        for rule, rows in fired_rows(observation, self.policy):
            fired: list[str] = row_targets[rows].tolist()
            record.fired.append({"rule": rule.id, "mode": rule.mode, "targets": fired})
            self.counters["fired"] += len(fired)
            keys = self._keys_of(rule.id)
            ids = row_ids[rows]
            handle = self._monitor if rule.mode == "monitor" else self._enforce
            if self._unique:
                handle(rule, fired, ids, keys, observation, record)
            else:  # a target twice: its second row sees what its first did, one at a time
                for n, target in enumerate(fired):
                    handle(rule, [target], ids[n : n + 1], keys, observation, record)
        self.previous = record.digest()
        self.counters["decisions"] += 1
        return record

    def finish(self, tick: int, why: str = "the run ended before the TTL") -> DecisionRecord | None:
        """Close every open verification as Inconclusive; None when nothing was open."""
        if not self.pending:
            return None
        self.iteration += 1
        record = DecisionRecord(
            decision_id=f"{self.name}-{self.iteration:06d}",
            plane=self.name,
            iteration=self.iteration,
            tick=tick,
            observation_digest="",
            policy_revision=self.policy.revision,
            previous=self.previous,
        )
        for analysis in list(self.pending.values()):
            analysis.expire(why)
            self._closed(analysis, record)
        self.previous = record.digest()
        self.counters["decisions"] += 1
        return record

    # -- the steps -------------------------------------------------------------------------

    def _verify(self, observation: Observation, record: DecisionRecord) -> None:
        """Measure every open verification past its initial delay, in the order of actions."""
        tick = observation.tick
        if self._verified_at is not None and tick < self._verified_at:
            # Time went back (a driver's choice, never a run's): sort everything open again.
            self._waiting = [
                (analysis.measure_from, n, key)
                for n, (key, analysis) in enumerate(self.pending.items())
            ]
            heapq.heapify(self._waiting)
            self._measuring = []
        self._verified_at = tick
        waiting, measuring = self._waiting, self._measuring
        if waiting and waiting[0][0] <= tick:
            due = []
            while waiting and waiting[0][0] <= tick:
                _, order, key = heapq.heappop(waiting)
                analysis = self.pending.get(key)
                if analysis is not None:
                    due.append((order, key, analysis))
            measuring = sorted(measuring + due)  # two sorted runs; orders are unique
        rows, columns = observation.index(), observation.columns
        values: dict[str, list[float]] = {}
        still = []
        for entry in measuring:
            analysis = entry[2]
            if analysis.verdict is not None:
                continue  # closed meanwhile (``finish``)
            value: float | None = None
            row = rows.get(analysis.command.target)
            if row is not None:
                column = values.get(analysis.metric)
                if column is None and analysis.metric in columns:
                    column = values[analysis.metric] = (
                        columns[analysis.metric].astype(np.float64, copy=False).tolist()
                    )
                if column is not None:
                    value = column[row]
                    if value != value:  # NaN: unknown  # noqa: PLR0124
                        value = None
            if analysis.measure(tick, value):
                self._closed(analysis, record)
            else:
                still.append(entry)
        self._measuring = still

    def _closed(self, analysis: Analysis, record: DecisionRecord) -> None:
        key = analysis.command.key
        del self.pending[key]
        self._rule_keys[analysis.rule.id].verifying[self._ids[analysis.command.target]] = False
        entry = analysis.to_record()
        self.counters[f"verdict:{analysis.verdict}"] += 1
        if analysis.verdict == "Failed":
            outcome: Outcome = self._actuator.rollback(key)
            entry["rollback"] = {
                "key": outcome.key,
                "status": outcome.status,
                "detail": outcome.detail,
            }
            record.rollbacks.append(
                {"key": outcome.key, "of": key, "decision": analysis.decision,
                 "status": outcome.status}
            )  # fmt: skip
            self.counters["rollbacks"] += 1
        else:
            entry["rollback"] = None
        record.verifications.append(entry)

    def _targets(
        self, targets: tuple[str, ...]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
        """Each row's target id and the targets as an array (cached while they stay equal)."""
        if targets != self._seen:
            ids = self._ids
            for target in targets:
                if target not in ids:
                    ids[target] = len(ids)
            count = len(targets)
            self._row_ids = np.fromiter((ids[t] for t in targets), dtype=np.intp, count=count)
            self._row_targets = np.empty(len(targets), dtype=object)
            self._row_targets[:] = targets
            self._seen = targets
            self._unique = len(set(targets)) == count
            for keys in self._rule_keys.values():
                keys.grow(len(ids))
        return self._row_ids, self._row_targets

    def _keys_of(self, rule: str) -> _RuleKeys:
        keys = self._rule_keys.get(rule)
        if keys is None:
            keys = self._rule_keys[rule] = _RuleKeys(len(self._ids))
        return keys

    def _monitor(
        self,
        rule: Rule,
        fired: list[str],
        ids: npt.NDArray[np.intp],
        keys: _RuleKeys,
        observation: Observation,
        record: DecisionRecord,
    ) -> None:
        """Count what a monitor rule would have done, behind its cooldown; nothing acts."""
        tick = observation.tick
        due = tick >= keys.shadow_until[ids]
        count = int(due.sum())
        if not count:
            return
        keys.shadow_until[ids[due]] = tick + rule.cooldown_ticks
        record.monitored.extend(
            {"rule": rule.id, "target": target, "action": rule.action}
            for target in compress(fired, due.tolist())
        )
        self.counters[f"would_act:{rule.id}"] += count
        self.counters["would_act"] += count

    def _enforce(
        self,
        rule: Rule,
        fired: list[str],
        ids: npt.NDArray[np.intp],
        keys: _RuleKeys,
        observation: Observation,
        record: DecisionRecord,
    ) -> None:
        """Hold the keys under verification, in backoff or in cooldown; act for the others.

        A held key is held for the first of those that applies; actions go in target order.
        """
        tick = observation.tick
        verifying = keys.verifying[ids]
        backoff = (tick < keys.backoff_until[ids]) & ~verifying
        cooldown = (tick < keys.cooldown_until[ids]) & ~verifying & ~backoff
        reasons = (("verifying", verifying), ("backoff", backoff), ("cooldown", cooldown))
        held = [(int(mask.argmax()), why, mask) for why, mask in reasons if mask.any()]
        for _, why, mask in sorted(held, key=lambda h: h[0]):  # the record's order: first seen
            record.held.setdefault((rule.id, why), []).extend(compress(fired, mask.tolist()))
        free = ~(verifying | backoff | cooldown)
        if not free.any():
            return
        self._act(rule, fired, ids, free, keys, observation, record)

    def _act(
        self,
        rule: Rule,
        fired: list[str],
        ids: npt.NDArray[np.intp],
        free: npt.NDArray[np.bool_],
        keys: _RuleKeys,
        observation: Observation,
        record: DecisionRecord,
    ) -> None:
        """Apply one command per free key, in target order; verify the applied, back off the rest.

        Everything that is the same for the rule's commands in this iteration is read once
        (the key's prefix, the record entry's params, the verified metric's column for the
        baselines); what stays per command is the actuator call and its bookkeeping.
        """
        tick = observation.tick
        act = self._actuator.act
        actions, pending, waiting = record.actions, self.pending, self._waiting
        rule_id, action, rule_params = rule.id, rule.action, rule.params
        params = dict(rule_params)
        prefix, suffix = f"{self.name}/{rule_id}/", f"/{tick}"
        decision = record.decision_id
        metric = rule.verify.comparison.metric
        rows = np.flatnonzero(free)
        free_ids: list[int] = ids[rows].tolist()
        baselines = self._baselines(observation, metric, [fired[n] for n in rows.tolist()])
        applied: list[int] = []
        order = self._order
        for n, target_id, baseline in zip(rows.tolist(), free_ids, baselines, strict=True):
            target = fired[n]
            key = prefix + target + suffix
            command = Command(key, action, target, rule_params)
            outcome = act(command)
            status = outcome.status
            actions.append(
                {"rule": rule_id, "target": target, "action": action, "key": key,
                 "params": params, "status": status, "detail": outcome.detail}
            )  # fmt: skip
            if status != "applied":
                self._backoff(keys, target_id, tick)
                continue
            analysis = Analysis(command, rule, decision, tick, baseline)
            pending[key] = analysis
            heapq.heappush(waiting, (analysis.measure_from, order, key))
            order += 1
            applied.append(target_id)
        self._order = order
        if applied:  # each key once per rule: the keys' updates need no order
            keys.errors[applied] = 0
            keys.cooldown_until[applied] = tick + rule.cooldown_ticks
            keys.verifying[applied] = True
            self.counters["actions"] += len(applied)
            self.counters[f"action:{action}"] += len(applied)

    @staticmethod
    def _baselines(observation: Observation, metric: str, targets: list[str]) -> list[float | None]:
        """Each target's value of ``metric`` (None: unknown), what ``Observation.value`` gives."""
        column = observation.columns.get(metric)
        if column is None:
            return [None] * len(targets)
        index = observation.index()
        values: list[float] = column.astype(np.float64, copy=False).tolist()
        found = []
        for target in targets:
            row = index.get(target)
            value = None if row is None else values[row]
            found.append(None if value is None or value != value else value)  # noqa: PLR0124
        return found

    def _backoff(self, keys: _RuleKeys, target_id: int, tick: int) -> None:
        """An action failed: the key's next try waits twice as long as the last (capped)."""
        errors = int(keys.errors[target_id]) + 1
        keys.errors[target_id] = errors
        delay = self.settings.backoff_base_ticks * 2 ** (errors - 1)
        keys.backoff_until[target_id] = tick + min(delay, self.settings.backoff_max_ticks)
        self.counters["action_errors"] += 1
