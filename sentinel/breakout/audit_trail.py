"""Blocked attempts as audit evidence, attributed to the scenario's agent."""

from __future__ import annotations

from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import SandboxViolation
from sentinel.breakout.scenario import Scenario
from sentinel.sandbox.audit_events import record
from sentinel.sandbox.result import ExecResult


def agent_id(scenario: Scenario) -> str:
    """The agent a scenario's sandbox runs as."""
    return f"breakout-{scenario.id}"


def blocked_violation(
    scenario: Scenario, agent: str, detail: str, *, tick: int | None = None
) -> NewEvent:
    """A blocked attempt as a ``sandbox.violation`` of ``agent``.

    It names the scenario, the layers expected to stop it (the layer matrix says which were
    load-bearing) and ``detail``.
    """
    violation = SandboxViolation(
        agent_id=agent,
        layer="+".join(scenario.expected_layers),
        attempt=f"{scenario.id}: {scenario.attempt}",
        detail=detail,
    )
    return NewEvent.of(violation, stream=f"agent/{agent}", tick=tick)


def record_run(
    store: AuditStore, scenario: Scenario, result: ExecResult, verdict: str, evidence: str
) -> None:
    """Record the command and what the layers reported; a stopped attempt adds a violation.

    The violation's detail starts with the scenario's verdict: ``blocked:`` when earned (its
    negative control escaped), ``inconclusive:`` when the attempt failed in the sandbox but
    this host cannot show it would have succeeded outside.
    """
    agent = agent_id(scenario)
    record(store, agent, ["python3", "-c", f"<breakout scenario {scenario.id}>"], result)
    if verdict in ("blocked", "inconclusive"):
        store.append_batch([blocked_violation(scenario, agent, f"{verdict}: {evidence}")])
