"""The per-key reference of the control loop (``sentinel.control.loop`` before its holds,
verification scheduling and record digest were vectorised / made native).

Kept verbatim apart from this docstring: ``test_loop_equivalence`` drives it and
``sentinel.control.loop.ControlPlane`` side by side and requires the same records, digests,
counters and actuator calls. Each key's hold is checked one target at a time, every open
verification is looked at every iteration, and the digest is the standard library's JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sentinel.control.actuator import Actuator, Command, Outcome
from sentinel.control.clock import VirtualClock
from sentinel.control.observation import Observation
from sentinel.control.policy import Policy, Rule, fired_rows
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
        text = json.dumps(self.decisions(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _KeyState:
    cooldown_until: int = 0
    backoff_until: int = 0
    errors: int = 0


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
        self._verifying: set[tuple[str, str]] = set()
        """(rule, target) of the open verifications (the ``verifying`` hold, O(1))."""
        self._keys: dict[tuple[str, str], _KeyState] = {}
        self._shadow: dict[tuple[str, str], int] = {}
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
        targets = observation.targets
        for rule, rows in fired_rows(observation, self.policy):
            fired = [targets[n] for n in rows.tolist()]
            record.fired.append({"rule": rule.id, "mode": rule.mode, "targets": fired})
            self.counters["fired"] += len(fired)
            for target in fired:
                self._handle(rule, target, observation, record)
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
        tick = observation.tick
        for analysis in list(self.pending.values()):
            if tick < analysis.measure_from:
                continue  # still in its initial delay
            metric = analysis.rule.verify.comparison.metric
            if analysis.measure(tick, observation.value(analysis.command.target, metric)):
                self._closed(analysis, record)

    def _closed(self, analysis: Analysis, record: DecisionRecord) -> None:
        del self.pending[analysis.command.key]
        self._verifying.discard((analysis.rule.id, analysis.command.target))
        entry = analysis.to_record()
        self.counters[f"verdict:{analysis.verdict}"] += 1
        if analysis.verdict == "Failed":
            outcome: Outcome = self._actuator.rollback(analysis.command.key)
            entry["rollback"] = {
                "key": outcome.key,
                "status": outcome.status,
                "detail": outcome.detail,
            }
            record.rollbacks.append(
                {"key": outcome.key, "of": analysis.command.key, "decision": analysis.decision,
                 "status": outcome.status}
            )  # fmt: skip
            self.counters["rollbacks"] += 1
        else:
            entry["rollback"] = None
        record.verifications.append(entry)

    def _handle(
        self, rule: Rule, target: str, observation: Observation, record: DecisionRecord
    ) -> None:
        key = (rule.id, target)
        tick = observation.tick
        if rule.mode == "monitor":
            if tick >= self._shadow.get(key, 0):
                self._shadow[key] = tick + rule.cooldown_ticks
                record.monitored.append({"rule": rule.id, "target": target, "action": rule.action})
                self.counters[f"would_act:{rule.id}"] += 1
                self.counters["would_act"] += 1
            return
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState()
        held = self._held(rule, target, state, tick)
        if held:
            record.held.setdefault((rule.id, held), []).append(target)
            return
        self._act(rule, target, state, observation, record)

    def _held(self, rule: Rule, target: str, state: _KeyState, tick: int) -> str:
        if (rule.id, target) in self._verifying:
            return "verifying"
        if tick < state.backoff_until:
            return "backoff"
        if tick < state.cooldown_until:
            return "cooldown"
        return ""

    def _act(
        self,
        rule: Rule,
        target: str,
        state: _KeyState,
        observation: Observation,
        record: DecisionRecord,
    ) -> None:
        tick = observation.tick
        command = Command(
            f"{self.name}/{rule.id}/{target}/{tick}", rule.action, target, rule.params
        )
        outcome = self._actuator.act(command)
        record.actions.append(
            {"rule": rule.id, "target": target, "action": rule.action, "key": command.key,
             "params": dict(rule.params), "status": outcome.status, "detail": outcome.detail}
        )  # fmt: skip
        if outcome.status != "applied":
            state.errors += 1
            delay = self.settings.backoff_base_ticks * 2 ** (state.errors - 1)
            state.backoff_until = tick + min(delay, self.settings.backoff_max_ticks)
            self.counters["action_errors"] += 1
            return
        state.errors = 0
        state.cooldown_until = tick + rule.cooldown_ticks
        self.counters["actions"] += 1
        self.counters[f"action:{rule.action}"] += 1
        baseline = observation.value(target, rule.verify.comparison.metric)
        self.pending[command.key] = Analysis(command, rule, record.decision_id, tick, baseline)
        self._verifying.add((rule.id, target))
