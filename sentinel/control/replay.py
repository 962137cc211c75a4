"""Replay: re-run the planes from their recorded observations and prove the same decisions.

The store of a run holds the policy (``control.policy``: its text and revision) and one
``control.decision`` per plane iteration, each with the observation it was decided on. A
replay loads the recorded policy, feeds each plane its recorded observations at the recorded
ticks, lets a recorded actuator answer each action with the outcome the run had, and
compares every record it produces (digests, rules fired, actions and keys, held and
monitored firings, verification series, verdicts, rollbacks, the chain of previous digests)
with the recorded one. A tampered observation changes its digest; a changed policy changes
the revision; either way the replay differs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sentinel.audit import AuditStore
from sentinel.control.actuator import ROLLBACK_SUFFIX, Actuator, ActuatorError, Command
from sentinel.control.agent_plane import AGENT_METRICS
from sentinel.control.api_plane import API_METRICS, ApiActuator
from sentinel.control.clock import VirtualClock
from sentinel.control.loop import ControlPlane
from sentinel.control.observation import Observation
from sentinel.control.platform_plane import PLATFORM_METRICS
from sentinel.control.policy import Policy
from sentinel.errors import InvalidInputError

API_ACTIONS = ApiActuator.actions
METRICS = {"agent": AGENT_METRICS, "platform": PLATFORM_METRICS, "api": API_METRICS}


class ControlReplayError(InvalidInputError):
    """The store holds no control record to replay, or the replay asked for what it lacks."""


class RecordedActuator(Actuator):
    """Answers each command with the outcome the run recorded under its key; changes nothing."""

    plane: ClassVar[str] = "recorded"
    actions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, outcomes: Mapping[str, tuple[str, str]]) -> None:
        super().__init__()
        self._recorded = dict(outcomes)

    def _answer(self, key: str) -> str:
        status, detail = self._recorded.get(key, ("error", f"{key} is not in the record"))
        if status == "error":
            raise ActuatorError(detail)
        return detail

    def apply(self, command: Command) -> str:
        """The recorded outcome of ``command.key``.

        Raises:
            ActuatorError: The run's action failed (or is not in the record).
        """
        return self._answer(command.key)

    def revert(self, command: Command) -> str:
        """The recorded outcome of the rollback.

        Raises:
            ActuatorError: The run's rollback failed (or is not in the record).
        """
        return self._answer(command.key + ROLLBACK_SUFFIX)


def recorded_actuator(
    plane: str, actions: frozenset[str], outcomes: Mapping[str, tuple[str, str]]
) -> RecordedActuator:
    """A :class:`RecordedActuator` that belongs to ``plane``."""
    cls = type(
        f"Recorded{plane.title()}Actuator",
        (RecordedActuator,),
        {"plane": plane, "actions": actions},
    )
    return cls(outcomes)  # type: ignore[no-any-return]


def outcomes_of(records: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Every action's and rollback's recorded (status, detail) by key."""
    found: dict[str, tuple[str, str]] = {}
    for record in records:
        for action in record["actions"]:
            found[action["key"]] = (action["status"], action["detail"])
        for verification in record["verifications"]:
            rollback = verification.get("rollback")
            if rollback:
                found[rollback["key"]] = (rollback["status"], rollback["detail"])
    return found


class RecordedObservations:
    """A plane's observer that returns what the run observed at each tick.

    Raises (when called):
        ControlReplayError: The run did not observe at that tick.
    """

    def __init__(self, plane: str, records: list[dict[str, Any]]) -> None:
        self.plane = plane
        self._by_tick = {
            int(r["tick"]): r["observation"] for r in records if r.get("observation") is not None
        }

    def __call__(self, tick: int) -> Observation:
        """The recorded observation at ``tick``."""
        record = self._by_tick.get(tick)
        if record is None:
            raise ControlReplayError(f"the {self.plane} plane observed nothing at tick {tick}")
        return Observation.from_record(self.plane, tick, record)


@dataclass
class ControlReplayReport:
    """The outcome of a control replay."""

    store: str
    revision: str
    records: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Every replayed record equals the recorded one."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "equal": self.equal}


def read_control(store: AuditStore) -> tuple[Policy, dict[str, list[dict[str, Any]]]]:
    """The recorded policy and each plane's decision payloads, in order.

    Raises:
        ControlReplayError: The store holds no ``control.policy`` event.
    """
    policy: Policy | None = None
    by_plane: dict[str, list[dict[str, Any]]] = {}
    for event in store.read(type="control.policy"):
        policy = Policy.from_text(str(event.payload["text"]).encode(), "<recorded policy>")
    if policy is None:
        raise ControlReplayError("the store holds no control.policy event (no planes ran)")
    for event in store.read(type="control.decision"):
        payload = dict(event.payload)
        by_plane.setdefault(str(payload["plane"]), []).append(payload)
    return policy, by_plane


def replay_control(store_path: Path | str) -> ControlReplayReport:
    """Re-run every plane of the run in ``store_path`` from its recorded observations.

    Raises:
        ControlReplayError: No planes ran in that run.
        InvalidInputError: There is no store at ``store_path``.
    """
    path = Path(store_path)
    if not path.is_file():
        raise InvalidInputError(f"no store at {path}")
    with AuditStore(path, create=False) as store:
        policy, by_plane = read_control(store)
    report = ControlReplayReport(str(path), policy.revision)
    for plane_name, records in by_plane.items():
        clock = VirtualClock()
        actuator = recorded_actuator(
            plane_name, frozenset(rule.action for rule in policy.rules_of(plane_name)),
            outcomes_of(records),
        )  # fmt: skip
        observed = {m for r in records if r.get("observation") for m in r["observation"]["columns"]}
        plane = ControlPlane(
            plane_name, policy, RecordedObservations(plane_name, records), actuator,
            METRICS.get(plane_name, frozenset()) | observed, clock,
        )  # fmt: skip
        for recorded in records:
            clock.tick = int(recorded["tick"])
            if recorded.get("observation") is not None:
                replayed = plane.step(
                    Observation.from_record(plane_name, clock.tick, recorded["observation"])
                )
            else:
                closing = plane.finish(clock.tick)
                if closing is None:
                    report.differences.append(f"{recorded['decision_id']}: nothing to close")
                    continue
                replayed = closing
            want = {k: v for k, v in recorded.items() if k != "observation"}
            got = replayed.decisions()
            if got != want:
                fields = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
                report.differences.append(f"{recorded['decision_id']}: {', '.join(fields)} differ")
        report.records[plane_name] = len(records)
    return report


class ReplayingActuator(RecordedActuator):
    """Re-applies a run's commands to a replayed world, answering with the recorded outcomes.

    A command the run applied is applied again through ``inner`` (the replayed world changes
    as the run's did) and answered with the recorded detail; one that failed in the run
    fails again without reaching ``inner``.
    """

    def __init__(self, inner: Actuator | None, outcomes: Mapping[str, tuple[str, str]]) -> None:
        super().__init__(outcomes)
        self._inner = inner

    def apply(self, command: Command) -> str:
        """Apply as the run did; the recorded detail.

        Raises:
            ActuatorError: The run's action failed (or is not in the record).
        """
        detail = self._answer(command.key)
        if self._inner is not None:
            # The record says it was applied; the replayed world decides the rest.
            with contextlib.suppress(ActuatorError):
                self._inner.apply(command)
        return detail

    def revert(self, command: Command) -> str:
        """Undo as the run did; the recorded detail.

        Raises:
            ActuatorError: The run's rollback failed (or is not in the record).
        """
        detail = self._answer(command.key + ROLLBACK_SUFFIX)
        if self._inner is not None:
            with contextlib.suppress(ActuatorError):
                self._inner.revert(command)
        return detail


def replaying_actuator(
    plane: str, inner: Actuator | None, outcomes: Mapping[str, tuple[str, str]]
) -> ReplayingActuator:
    """A :class:`ReplayingActuator` that belongs to ``plane`` (with ``inner``'s actions)."""
    actions = inner.actions if inner is not None else frozenset(API_ACTIONS)
    cls = type(
        f"Replaying{plane.title()}Actuator",
        (ReplayingActuator,),
        {"plane": plane, "actions": actions},
    )
    return cls(inner, outcomes)  # type: ignore[no-any-return]


def compare(recorded: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> list[str]:
    """Differences between recorded and replayed decision payloads (observations left out)."""
    differences = []
    by_id = {r["decision_id"]: r for r in replayed}
    for want in recorded:
        got = by_id.get(want["decision_id"])
        if got is None:
            differences.append(f"{want['decision_id']}: not replayed")
            continue
        expected = {k: v for k, v in want.items() if k != "observation"}
        actual = {k: v for k, v in got.items() if k != "observation"}
        if expected != actual:
            keys = expected.keys() | actual.keys()
            fields = sorted(k for k in keys if expected.get(k) != actual.get(k))
            differences.append(f"{want['decision_id']}: {', '.join(fields)} differ")
    return differences
