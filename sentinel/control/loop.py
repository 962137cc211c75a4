"""One control loop: observe -> decide -> act -> verify -> roll back, one record per iteration.

Level-triggered like a Kubernetes controller: each iteration looks at the whole observed
state again, and what fires is decided from it alone (``decide`` is pure). Before acting a
key (``rule/target``) must be out of its cooldown, out of its error backoff, and not still
under verification. A rule in ``monitor`` mode passes the same gates and only counts what it
would have done; nothing reaches the actuator. Every iteration returns one
:class:`DecisionRecord`; the records of a plane are chained by the digest of the previous one.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, repeat
from operator import itemgetter
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sentinel.control.action_entries import action_entries
from sentinel.control.actuator import Actuator, Command, Outcome
from sentinel.control.clock import VirtualClock
from sentinel.control.observation import Observation
from sentinel.control.policy import Policy, Rule, fired_rows
from sentinel.control.record_json import record_digest, spliced_record_digest
from sentinel.control.verification_store import (
    HOLD_REASONS,
    Closed,
    VerificationStore,
    group_holds,
)
from sentinel.errors import ConfigError

GENESIS: Final = "0" * 64
"""The ``previous`` of a plane's first record."""

_new_command: Callable[[tuple[Any, ...]], Command] = partial(tuple.__new__, Command)
"""A :class:`Command` from its fields as one tuple, made in C (no Python-level ``__new__``:
a busy iteration makes a hundred and more)."""

_verdict_of: Callable[[dict[str, Any]], str] = itemgetter("verdict")

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
    actions_text: list[bytes] | None = field(default_factory=list, repr=False, compare=False)
    """The action entries' JSON text as the digest writes it, one part per rule acted on
    (None: a part was left to the standard library, the digest walks ``actions``); kept
    with the record it describes, never in the payload."""

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
    backoff and consecutive errors; ``shadow_until`` a monitor rule's cooldown of what it
    would have done (whether a key is under verification, the store knows). Zero is the
    state of a key never seen.
    """

    def __init__(self, size: int) -> None:
        self.cooldown_until = np.zeros(size, dtype=np.int64)
        self.backoff_until = np.zeros(size, dtype=np.int64)
        self.errors = np.zeros(size, dtype=np.int64)
        self.shadow_until = np.zeros(size, dtype=np.int64)

    def grow(self, size: int) -> None:
        """Make room for target ids below ``size`` (new keys start at zero)."""
        extra = size - len(self.errors)
        if extra > 0:
            for name in ("cooldown_until", "backoff_until", "errors", "shadow_until"):
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
        self.pending = VerificationStore()
        """The open verifications in the order of their actions (``len``: how many)."""
        self._checks: dict[str, int] = {}
        """Rule id -> its check's index in ``pending``."""
        self._metrics: list[str] = []
        """The verified metrics, in the order of the columns ``pending.measure`` reads."""
        self._rule_keys: dict[str, _RuleKeys] = {}
        self._ids: dict[str, int] = {}
        """Target -> id (an index into every rule's arrays), for every target ever seen."""
        self._seen: tuple[str, ...] | None = None
        self._unique = True
        """Whether no target appears twice in the observation (else rows go one by one)."""
        self._row_ids: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._row_targets: npt.NDArray[np.object_] = np.zeros(0, dtype=object)
        self._id_rows: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        """Target id -> its row in the observation (-1: not observed)."""
        self.counters: Counter[str] = Counter()
        self._closed_keys: deque[tuple[int, list[str]]] = deque()
        """(tick, keys) of the verifications closed at that tick, in the order they closed:
        their idempotency records go once the plane is past the horizon."""

    def observe_with(self, observe: Observer) -> None:
        """Observe through ``observe`` from the next iteration on (a feed after commit)."""
        self._observe = observe

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
        self._forget_closed(tick)
        row_ids, row_targets = self._targets(observation)
        verified = self._verify(observation, record)
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
        self.previous = self._digest(record, verified)
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
        self._closed(self.pending.finish(why), record)
        self.previous = record.digest()
        self.counters["decisions"] += 1
        return record

    # -- the steps -------------------------------------------------------------------------

    def _verify(self, observation: Observation, record: DecisionRecord) -> bytes | None:
        """Measure every open verification past its initial delay, in the order of actions.

        Returns the closed ones' entries as the record's JSON text (what the store wrote
        from its own values), or None when none closed or the store left it to the
        standard library.
        """
        if not len(self.pending):
            return None
        columns = observation.columns
        read = [columns.get(metric) for metric in self._metrics]
        found = [  # float64, aligned (a packed record's field is copied): what Rust can read
            None if column is None else np.require(column, np.float64, "A") for column in read
        ]
        closed = self.pending.measure(observation.tick, self._id_rows, found)
        rollbacks = self._closed(closed, record)
        return self.pending.closed_json(rollbacks) if closed[0] else None

    def _digest(self, record: DecisionRecord, verified: bytes | None) -> str:
        """``record.digest()``, with the entries' text spliced in where it is known.

        The verification and action entries' text was written with them (natively).
        """
        actions = record.actions_text
        if verified is None and not actions:
            return record.digest()
        decisions = record.decisions()
        if verified is not None:
            decisions["verifications"] = verified
        if actions:
            decisions["actions"] = b"[" + b",".join(actions) + b"]"
        return spliced_record_digest(decisions)

    def _closed(self, closed: Closed, record: DecisionRecord) -> list[dict[str, str]]:
        """Count the verdicts, roll back the Failed (in the order they closed), record all.

        Returns the rollbacks' entries (one per Failed verification, in order).
        """
        entries, failed = closed
        rollbacks: list[dict[str, str]] = []
        if not entries:
            return rollbacks
        counters = self.counters
        for verdict, count in Counter(map(_verdict_of, entries)).items():
            counters[f"verdict:{verdict}"] += count
        rollback = self._actuator.rollback
        for n in failed:
            entry = entries[n]
            key = entry["key"]
            outcome: Outcome = rollback(key)
            entry["rollback"] = done = {
                "key": outcome.key,
                "status": outcome.status,
                "detail": outcome.detail,
            }
            rollbacks.append(done)
            record.rollbacks.append(
                {"key": outcome.key, "of": key, "decision": entry["decision"],
                 "status": outcome.status}
            )  # fmt: skip
            counters["rollbacks"] += 1
        record.verifications.extend(entries)
        self._closed_keys.append((record.tick, [entry["key"] for entry in entries]))
        return rollbacks

    def _forget_closed(self, tick: int) -> None:
        """Let the actuator forget keys closed longer ago than the idempotency horizon."""
        horizon, closed = self.settings.idempotency_horizon_ticks, self._closed_keys
        while closed and closed[0][0] + horizon < tick:
            self._actuator.forget(closed.popleft()[1])

    def _targets(
        self, observation: Observation
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
        """Each row's target id and the targets as an array (cached while they stay equal)."""
        targets = observation.targets
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
            id_rows = np.full(len(ids), -1, dtype=np.int64)
            if self._unique:
                id_rows[self._row_ids] = np.arange(count, dtype=np.int64)
            else:  # a target twice: its row is the observation's (the last)
                for target, row in observation.index().items():
                    id_rows[ids[target]] = row
            self._id_rows = id_rows
            for keys in self._rule_keys.values():
                keys.grow(len(ids))
        return self._row_ids, self._row_targets

    def _check_of(self, rule: Rule) -> int:
        """The index of ``rule``'s check in the store (registered at its first action)."""
        check = self._checks.get(rule.id)
        if check is None:
            metric = rule.verify.comparison.metric
            if metric not in self._metrics:
                self._metrics.append(metric)
            check = self.pending.add_rule(rule, self._metrics.index(metric))
            self._checks[rule.id] = check
        return check

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
        codes = self.pending.holds(
            self._check_of(rule), ids, observation.tick, keys.backoff_until, keys.cooldown_until
        )
        free_rows, targets, held = group_holds(codes, fired)
        for code, held_targets in held:  # in the order each reason is first seen
            record.held.setdefault((rule.id, HOLD_REASONS[code]), []).extend(held_targets)
        if targets:
            self._act(rule, targets, ids[free_rows], keys, observation, record)

    def _act(
        self,
        rule: Rule,
        targets: list[str],
        free_id_array: npt.NDArray[np.intp],
        keys: _RuleKeys,
        observation: Observation,
        record: DecisionRecord,
    ) -> None:
        """Apply one command per free key, in target order; verify the applied, back off the rest.

        ``targets`` are the free keys' targets, ``free_id_array`` their ids. Everything that
        is the same for the rule's commands in this iteration is read once (the key's
        prefix, the record entry's params, the verified metric's column for the baselines);
        what stays per command is the actuator call and the action's entry, made natively
        with its text for the record's digest. The applied ones open their verifications in
        one call to the store.
        """
        tick = observation.tick
        rule_id, action, rule_params = rule.id, rule.action, rule.params
        prefix, suffix = f"{self.name}/{rule_id}/", f"/{tick}"
        metric = rule.verify.comparison.metric
        free_ids: list[int] = free_id_array.tolist()
        baselines = self._baselines(  # a target's row: its id's (when each is listed once)
            observation, metric, targets, self._id_rows[free_id_array] if self._unique else None
        )
        command_keys = [prefix + target + suffix for target in targets]
        commands = list(
            map(_new_command, zip(command_keys, repeat(action), targets, repeat(rule_params)))
        )
        outcomes = list(self._actuator.act_many(commands))
        entries, written = action_entries(
            rule_id, action, dict(rule_params), targets, command_keys, outcomes
        )
        record.actions.extend(entries)
        if written is None:
            record.actions_text = None  # the digest walks the entries instead
        elif record.actions_text is not None:
            record.actions_text.append(written)
        statuses = [outcome.status for outcome in outcomes]
        if statuses.count("applied") == len(statuses):  # the usual case: every one applied
            applied, opened_keys, opened_targets = free_ids, command_keys, targets
            opened_baselines, applied_ids = baselines, free_id_array
        else:
            went = [status == "applied" for status in statuses]
            for target_id, ok in zip(free_ids, went, strict=True):
                if not ok:
                    self._backoff(keys, target_id, tick)
            applied = list(compress(free_ids, went))
            opened_keys = list(compress(command_keys, went))
            opened_targets = list(compress(targets, went))
            opened_baselines = list(compress(baselines, went))
            applied_ids = free_id_array[went]
        if applied:  # each key once per rule: the keys' updates need no order
            self.pending.open_many(
                self._check_of(rule), record.decision_id, tick, opened_keys, opened_targets,
                applied, opened_baselines,
            )  # fmt: skip
            keys.errors[applied_ids] = 0
            keys.cooldown_until[applied_ids] = tick + rule.cooldown_ticks
            self.counters["actions"] += len(applied)
            self.counters[f"action:{action}"] += len(applied)

    @staticmethod
    def _baselines(
        observation: Observation,
        metric: str,
        targets: list[str],
        rows: npt.NDArray[np.intp] | None = None,
    ) -> list[float | None]:
        """Each target's value of ``metric`` (None: unknown), what ``Observation.value`` gives.

        ``rows``: the targets' rows, when each target is listed once (then its row is the
        one ``Observation.value`` reads); only those values are converted.
        """
        column = observation.columns.get(metric)
        if column is None:
            return [None] * len(targets)
        if rows is not None:
            picked: list[float] = column[rows].astype(np.float64, copy=False).tolist()
            return [None if value != value else value for value in picked]  # noqa: PLR0124
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
