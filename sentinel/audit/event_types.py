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
    """A control plane observed, decided and acted (or verified an earlier action)."""

    event_type: ClassVar[str] = "control.decision"
    plane: Literal["agent", "platform", "api"]
    action: str
    target: str
    reason: str
    phase: Literal["decide", "act", "verify", "rollback"] = "decide"


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


class ProbeActivity(EventPayload):
    """What the kernel saw one agent's processes do since its previous such event."""

    event_type: ClassVar[str] = "probe.activity"
    agent_id: str
    tick: int | None = Field(default=None, ge=0)
    """The world's tick when the batch was taken (None outside a run)."""
    totals: dict[str, int]
    """Counters since the agent's previous ``probe.activity``: execs, exits, write_opens,
    writes, write_bytes, connects, refusals, dropped (exact: counted in the kernel)."""
    events: list[dict[str, Any]]
    """Details, oldest first: programs run, files opened for writing, connections tried,
    refused syscalls, exits; at most ``PROBE_DETAILS_PER_EVENT`` (the rest in ``omitted``)."""
    omitted: int = Field(default=0, ge=0)


class ProbeSummary(EventPayload):
    """A probe session ended: what it attached, what it could not watch, what it lost."""

    event_type: ClassVar[str] = "probe.summary"
    programs: list[str]
    agents: dict[str, dict[str, int]]
    """Each agent's totals over the session."""
    lost: int = Field(ge=0)
    """Records dropped in user space because the queue was full (totals still count them)."""
    unwatchable: list[str]


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
        ProbeActivity,
        ProbeSummary,
    )
}
"""Registered payload types by event type."""
