"""Actuators: the only way a plane changes anything, one per plane, idempotent by key.

An actuator belongs to exactly one plane (``plane``) and knows a fixed set of actions. A
plane holds its own actuator and no other (the plane refuses an actuator of another plane
at construction, and a policy naming an action its actuator lacks). Each application carries
an idempotency key: applying the same key again returns the first outcome and changes
nothing; a rollback is the action's inverse under the key ``KEY/rollback``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar, Final, Literal, NamedTuple

from sentinel.errors import SentinelError

ROLLBACK_SUFFIX = "/rollback"
LOG_LIMIT: Final = 10_000
"""Outcomes an actuator's ``log`` keeps (the latest): a plane runs for days."""


class ActuatorError(SentinelError):
    """An action could not be applied (the plane backs off and tries again later)."""


NO_PARAMS: Mapping[str, str | int | float | bool] = MappingProxyType({})


class Command(NamedTuple):
    """One action for one target.

    A named tuple: immutable, and cheap to make by the hundred in a busy iteration, where a
    frozen dataclass cost about a microsecond each.
    """

    key: str
    """The idempotency key: ``plane/rule/target/tick``."""
    action: str
    target: str
    params: Mapping[str, str | int | float | bool] = NO_PARAMS


class Outcome(NamedTuple):
    """What happened when a command (or its inverse) was applied."""

    key: str
    status: Literal["applied", "error", "skipped"]
    detail: str = ""


class Actuator(ABC):
    """Base of the planes' actuators: idempotency and the inverse bookkeeping."""

    plane: ClassVar[str]
    actions: ClassVar[frozenset[str]]

    def __init__(self) -> None:
        self._outcomes: dict[str, Outcome] = {}
        self._applied: dict[str, Command] = {}
        self.log: deque[Outcome] = deque(maxlen=LOG_LIMIT)
        """The latest outcomes in order (what this actuator did, for tests and summaries)."""

    def act(self, command: Command) -> Outcome:
        """Apply ``command`` once; the same key again returns the first outcome.

        An error is not remembered under the key: the plane backs off and retries with a
        new key at a later tick.
        """
        return self.act_many((command,))[0]

    def act_many(self, commands: Sequence[Command]) -> list[Outcome]:
        """:meth:`act` for each command, in order, in one call.

        A rule's actions in one iteration come as one batch: what ``act`` looks up per
        command (the action set, the idempotency records, ``apply``) is read once.
        """
        outcomes: list[Outcome] = []
        known_outcomes, applied, log = self._outcomes, self._applied, self.log
        actions, apply, new = self.actions, self.apply, tuple.__new__
        append_outcome, append_log = outcomes.append, log.append
        for command in commands:
            key = command.key
            if command.action not in actions:
                outcome = Outcome(key, "error", f"no action {command.action!r}")
                append_log(outcome)
            elif (known := known_outcomes.get(key)) is not None:
                outcome = known
            else:
                try:
                    detail = apply(command)
                except ActuatorError as exc:
                    outcome = Outcome(key, "error", str(exc))
                else:  # made in C: Outcome's Python-level __new__ cost more than the rest
                    outcome = known_outcomes[key] = new(Outcome, (key, "applied", detail))
                    applied[key] = command
                append_log(outcome)
            append_outcome(outcome)
        return outcomes

    def rollback(self, key: str) -> Outcome:
        """Apply the inverse of the command applied under ``key`` (once)."""
        rollback_key = key + ROLLBACK_SUFFIX
        known = self._outcomes.get(rollback_key)
        if known is not None:
            return known
        command = self._applied.get(key)
        if command is None:
            return self._done(Outcome(rollback_key, "skipped", "nothing was applied"))
        try:
            detail = self.revert(command)
        except ActuatorError as exc:
            outcome = Outcome(rollback_key, "error", str(exc))
        else:  # made in C, as in act_many (a storm rolls back ~8 a minute)
            outcome = tuple.__new__(Outcome, (rollback_key, "applied", detail))
        self._outcomes[rollback_key] = outcome
        return self._done(outcome)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop what this actuator keeps for ``keys``: their outcomes, rollbacks and commands.

        A plane calls it for keys whose verification closed longer ago than its
        ``idempotency_horizon_ticks``: from then on the same key would act again.
        """
        outcomes, applied = self._outcomes, self._applied
        for key in keys:
            applied.pop(key, None)
            outcomes.pop(key, None)
            outcomes.pop(key + ROLLBACK_SUFFIX, None)

    def _done(self, outcome: Outcome) -> Outcome:
        self.log.append(outcome)
        return outcome

    @abstractmethod
    def apply(self, command: Command) -> str:
        """Change the world; return what was done.

        Raises:
            ActuatorError: It could not be done.
        """

    @abstractmethod
    def revert(self, command: Command) -> str:
        """Undo ``command`` (called only for an applied one); return what was done.

        Raises:
            ActuatorError: It could not be undone.
        """
