"""Blocked attempts as audit evidence, attributed to the scenario's agent."""

from __future__ import annotations

from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import SandboxViolation
from sentinel.breakout.scenario import Outcome, Scenario
from sentinel.sandbox.audit_events import record
from sentinel.sandbox.result import ExecResult


def agent_id(scenario: Scenario) -> str:
    """The agent a scenario's sandbox runs as."""
    return f"breakout-{scenario.id}"


def record_run(store: AuditStore, scenario: Scenario, result: ExecResult, outcome: Outcome) -> None:
    """Record the command and what the layers reported; a blocked attempt adds a violation.

    The violation names the layers expected to stop the attempt (the layer matrix says
    which of them were load-bearing) and the evidence.
    """
    agent = agent_id(scenario)
    record(store, agent, ["python3", "-c", f"<breakout scenario {scenario.id}>"], result)
    if outcome.result == "blocked":
        violation = SandboxViolation(
            agent_id=agent,
            layer="+".join(scenario.expected_layers),
            attempt=f"{scenario.id}: {scenario.attempt}",
            detail=f"blocked: {outcome.evidence}",
        )
        store.append_batch([NewEvent.of(violation, stream=f"agent/{agent}")])
