"""An engine of the real company, world and day planner, with a backend that runs nothing.

The backend answers every request with no action and runs no command: the agent plane's
tests need the world, the people and their day, not the gateway or sandboxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentinel.agents.backends import Answer, AttackOutcome, Request, ToolOutcome
from sentinel.agents.options import RunOptions, company_for
from sentinel.agents.redteam import Attack
from sentinel.agents.runtime import Engine
from sentinel.audit import NewEvent
from sentinel.config import load_company

CONFIG = Path(__file__).resolve().parents[2] / "config"


class Idle:
    """Answers with nothing to do; never runs a tool or an attack."""

    def start(self, agent_id: str) -> None:
        """Nothing to start."""

    def stop(self, agent_id: str) -> None:
        """Nothing to stop."""

    def decide(self, tick: int, requests: Sequence[Request]) -> list[Answer]:
        """No action for anyone."""
        return [Answer("synthesized", "idle", []) for _ in requests]

    def execute(
        self, tick: int, agent_id: str, command: str, events: list[NewEvent], *, tool: str = ""
    ) -> ToolOutcome:
        """Succeeds without running."""
        return ToolOutcome(0, None, "", 0)

    def attack(
        self, tick: int, agent_id: str, attack: Attack, events: list[NewEvent]
    ) -> AttackOutcome:
        """Blocked, with a violation event as the live backend records one."""
        events.append(
            NewEvent(
                f"agent/{agent_id}", "sandbox.violation",
                {"agent_id": agent_id, "layer": "seccomp", "attempt": attack.scenario.id},
                tick=tick,
            )
        )  # fmt: skip
        return AttackOutcome("blocked", "refused")

    def close(self) -> None:
        """Nothing to close."""


def office(ticks: int = 2700, **options: object) -> Engine:
    """An engine of the default company after ``ticks`` ticks (all walked in, at their desks)."""
    run_options = RunOptions(config=CONFIG, **options)  # type: ignore[arg-type]
    company = company_for(load_company(CONFIG), run_options)
    engine = Engine(company, run_options, Idle())
    engine.run(ticks)
    return engine


def seated(engine: Engine) -> list[str]:
    """Agents on duty sitting in a room (not walking), at their desks first."""
    s = engine.world.state
    found = []
    for agent_id, plan in engine.days.plans.items():
        if s["room"][plan.index] >= 0 and s["destination"][plan.index] < 0:
            found.append(agent_id)
    return found
