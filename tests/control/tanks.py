"""A tiny plane for the loop's tests: tanks with a level, drained by an actuator.

Not a mock of anything Sentinel talks to: a second, minimal instance of the loop's own
abstraction (an observer and an actuator), so the loop's rules are tested apart from the
office world, the sandboxes and the gateway.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sentinel.control import (
    Actuator,
    ActuatorError,
    Command,
    ControlPlane,
    DecisionRecord,
    Observation,
    Policy,
)
from sentinel.control.clock import VirtualClock

TANK_POLICY = b"""
revision = "tanks-1"
[planes.agent]
interval_ticks = 10
backoff_base_ticks = 10
backoff_max_ticks = 80

[[rule]]
id = "tank.high"
plane = "agent"
when = ["level >= 90"]
action = "drain"
params = { amount = 50 }
cooldown_ticks = 30
ttl_ticks = 40
verify = { condition = "level < 50" }
"""


def tank_policy(mode: str = "enforce", extra: bytes = b"") -> Policy:
    """The tank rules with the rule's mode replaced."""
    text = TANK_POLICY.replace(b'id = "tank.high"', f'id = "tank.high"\nmode = "{mode}"'.encode())
    return Policy.from_text(text + extra, "tanks.toml")


class Tanks:
    """Levels per tank; each tick every tank rises by ``rise``."""

    def __init__(self, levels: dict[str, float], rise: float = 0.0) -> None:
        self.levels = dict(levels)
        self.rise = rise

    def step(self) -> None:
        for name in self.levels:
            self.levels[name] += self.rise

    def observe(self, tick: int) -> Observation:
        names = tuple(sorted(self.levels))
        return Observation(
            "agent", tick, names, {"level": np.array([self.levels[n] for n in names])}
        )


class Drain(Actuator):
    """Drains a tank (its inverse fills it back); ``fail`` makes it raise, ``backwards`` fill."""

    plane: ClassVar[str] = "agent"
    actions: ClassVar[frozenset[str]] = frozenset({"drain"})

    def __init__(
        self, tanks: Tanks, *, fail: int = 0, backwards: bool = False, scale: float = 1.0
    ) -> None:
        super().__init__()
        self.scale = scale
        self.tanks = tanks
        self.fail = fail
        self.backwards = backwards
        self.applied = 0
        self.reverted = 0

    def apply(self, command: Command) -> str:
        if self.fail:
            self.fail -= 1
            raise ActuatorError("the valve is stuck")
        amount = float(command.params["amount"]) * self.scale
        self.tanks.levels[command.target] += amount if self.backwards else -amount
        self.applied += 1
        return f"drained {command.target}"

    def revert(self, command: Command) -> str:
        if command.target not in self.tanks.levels:
            return f"{command.target} is gone"
        amount = float(command.params["amount"]) * self.scale
        self.tanks.levels[command.target] -= amount if self.backwards else -amount
        self.reverted += 1
        return f"refilled {command.target}"


def tank_plane(
    tanks: Tanks, actuator: Actuator, policy: Policy | None = None
) -> tuple[ControlPlane, VirtualClock]:
    """A plane over ``tanks`` at tick 0."""
    clock = VirtualClock()
    plane = ControlPlane(
        "agent", policy or tank_policy(), tanks.observe, actuator, frozenset({"level"}), clock
    )
    return plane, clock


def drive(
    plane: ControlPlane, clock: VirtualClock, tanks: Tanks, ticks: int
) -> list[DecisionRecord]:
    """Run ``ticks`` ticks: the tanks rise, the plane iterates when due."""
    records: list[DecisionRecord] = []
    for _ in range(ticks):
        tanks.step()
        record = plane.tick()
        if record is not None:
            records.append(record)
        clock.advance()
    return records
