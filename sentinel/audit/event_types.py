"""Typed payloads of the events Sentinel's subsystems emit.

A payload whose ``type`` is registered here is validated before it is stored, so a
malformed event from the sandbox or the gateway is refused with the field named. Types not
registered are stored and verified all the same: the log is open to new kinds.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventPayload(BaseModel):
    """Base of typed payloads; ``event_type`` is the ``type`` the event is stored under."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event_type: ClassVar[str]


class SandboxExecuted(EventPayload):
    """A command ran in an agent's sandbox."""

    event_type: ClassVar[str] = "sandbox.executed"
    agent_id: str
    argv: list[str]
    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    oom_killed: bool = False
    cpu_s: float = Field(ge=0)
    max_rss_bytes: int = Field(ge=0)
    layers: list[str]


class SandboxViolation(EventPayload):
    """A layer blocked something an agent tried."""

    event_type: ClassVar[str] = "sandbox.violation"
    agent_id: str
    layer: str
    attempt: str
    detail: str = ""


class GatewayDecision(EventPayload):
    """One step of the gateway pipeline decided about a request."""

    event_type: ClassVar[str] = "gateway.decision"
    agent_id: str
    request_id: str
    step: str
    decision: str
    reason: str = ""
    rule_id: str | None = None


class ModelCall(EventPayload):
    """A request was answered by a model (forwarded) or by a synthesis rule."""

    event_type: ClassVar[str] = "gateway.model_call"
    agent_id: str
    request_id: str
    provider: str
    model: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0)
    synthesized: bool = False


class AgentAction(EventPayload):
    """An action an agent took in the world."""

    event_type: ClassVar[str] = "world.action"
    agent_id: str
    action_type: Literal["chat", "move", "emote", "work", "break", "think", "tool_use"]
    target: str | None = None
    content: str = ""


class AgentLifecycle(EventPayload):
    """An agent joined or left the workload (shift change, restart)."""

    event_type: ClassVar[str] = "agent.lifecycle"
    agent_id: str
    change: Literal["spawned", "retired", "restarted", "suspended", "resumed"]
    reason: str = ""


class ControlDecision(EventPayload):
    """A control plane observed, decided and acted (or verified an earlier action)."""

    event_type: ClassVar[str] = "control.decision"
    plane: Literal["agent", "platform", "api"]
    action: str
    target: str
    reason: str
    phase: Literal["decide", "act", "verify", "rollback"] = "decide"


EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.event_type: cls
    for cls in (
        SandboxExecuted,
        SandboxViolation,
        GatewayDecision,
        ModelCall,
        AgentAction,
        AgentLifecycle,
        ControlDecision,
    )
}
"""Registered payload types by event type."""
