"""Typed payloads of the events Sentinel's subsystems emit.

A payload whose ``type`` is registered here is validated before it is stored, so a
malformed event from the sandbox or the gateway is refused with the field named. Types not
registered are stored and verified all the same: the log is open to new kinds.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


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


class _OmitsEmptyExtras(EventPayload):
    """Leaves ``inputs`` and ``attributes`` out of the payload when empty.

    Events written before those fields existed keep their canonical bytes (and hashes).
    """

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("inputs", "attributes", "key_id"):
            if name in data and not data[name]:
                del data[name]
        return data


class GatewayDecision(_OmitsEmptyExtras):
    """One step of the gateway pipeline decided about a request."""

    event_type: ClassVar[str] = "gateway.decision"
    agent_id: str
    request_id: str
    step: str
    decision: str
    reason: str = ""
    rule_id: str | None = None
    inputs: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """What the decision read (a rule's fingerprint fields, a screen's hits...)."""
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """OpenTelemetry GenAI attributes (``gen_ai.operation.name`` ...), one to one with a span."""


class ModelCall(_OmitsEmptyExtras):
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
    key_id: str | None = None
    """The virtual key the request came with (its id, never the key); absent if none."""
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """OpenTelemetry GenAI attributes (``gen_ai.usage.input_tokens`` ...), one to one."""


class GatewayAdmin(EventPayload):
    """A call of the gateway's admin API: a virtual key created, listed or revoked, spend read.

    ``admin`` is who called (``admin`` for the admin key, ``cli`` ...); never a key.
    """

    event_type: ClassVar[str] = "gateway.admin"
    action: Literal["key.create", "key.list", "key.revoke", "spend.read"]
    decision: Literal["accepted", "refused"]
    admin: str
    key_id: str | None = None
    owner: str | None = None
    reason: str = ""
    inputs: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


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
    """One iteration of a control plane: what it saw, decided, did, verified and rolled back.

    See docs/audit-format.md, section 13 (control payloads).
    """

    event_type: ClassVar[str] = "control.decision"
    decision_id: str
    plane: Literal["agent", "platform", "api"]
    iteration: int = Field(ge=1)
    tick: int = Field(ge=0)
    observation_digest: str
    """SHA-256 of the observation (empty for a closing record without one)."""
    policy_revision: str
    previous: str
    """Digest of the plane's previous record (64 zeros for its first)."""
    fired: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    monitored: list[dict[str, str]]
    held: list[dict[str, Any]]
    verifications: list[dict[str, Any]]
    rollbacks: list[dict[str, str]]
    observation: dict[str, Any] | None = None


class WorldSnapshot(EventPayload):
    """The office world at one simulated minute: rooms and agents on duty, as columns.

    Each table maps a column name to one value per row (rooms: every room; agents: the
    agents on duty), so a notebook turns a run into frames without replaying it.
    """

    event_type: ClassVar[str] = "world.snapshot"
    clock: str
    minute: int = Field(ge=0)
    """Simulated minutes since the run started."""
    rooms: dict[str, list[str | int | float | None]]
    agents: dict[str, list[str | int | float | bool | None]]


EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.event_type: cls
    for cls in (
        SandboxExecuted,
        SandboxViolation,
        GatewayDecision,
        ModelCall,
        GatewayAdmin,
        AgentAction,
        AgentLifecycle,
        ControlDecision,
        WorldSnapshot,
    )
}
"""Registered payload types by event type."""
