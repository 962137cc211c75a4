"""Typed payloads of the events Sentinel's subsystems emit.

A payload whose ``type`` is registered here is validated before it is stored, so a
malformed event from the sandbox or the gateway is refused with the field named. The one
exception is an event marked ``payload_checked`` (``NewEvent``): its payload was built in
the model's dumped form from typed fields by a function a property test pins to the model
(the gateway's own decisions, :mod:`sentinel.gateway.audit_events`). Types not registered
are stored and verified all the same: the log is open to new kinds.
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


class WorkspaceSnapshot(EventPayload):
    """A content-addressed workspace's tree at one moment, as its Merkle root.

    ``root`` names a tree object in the run's object store (:mod:`sentinel.cas`): with the
    store, the whole workspace of that moment can be restored.
    """

    event_type: ClassVar[str] = "workspace.snapshot"
    agent_id: str
    root: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The root directory's tree id (SHA-256, hex)."""
    reason: Literal["commit", "tick", "manual", "end"]
    """An agent's commit, a tick boundary, by hand, or the run's end."""
    tick: int | None = Field(default=None, ge=0)
    inodes: int = Field(ge=1)
    """Files, directories and links in the workspace, the root included."""
    logical_bytes: int = Field(ge=0)
    """File contents committed to the store so far, by every workspace on it."""
    stored_bytes: int = Field(ge=0)
    """File contents the store had to write so far (distinct contents)."""


class ControlBusGap(EventPayload):
    """Bus-fed control planes stopped: a committed batch did not arrive whole and intact.

    See docs/audit-format.md, section 13 (control payloads).
    """

    event_type: ClassVar[str] = "control.bus_gap"
    tick: int = Field(ge=0)
    first: int = Field(ge=0)
    """The first position of the batch the planes waited for (the previous tick's)."""
    last: int = Field(ge=0)
    missing: list[int]
    """Positions of the batch not received within the barrier's timeout (at most 100)."""
    corrupt: list[int]
    """Positions received whose link or hash did not match what the store committed."""
    waited_s: float = Field(ge=0)
    reason: str


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
        ControlBusGap,
        WorldSnapshot,
        ProbeActivity,
        ProbeSummary,
        WorkspaceSnapshot,
    )
}
"""Registered payload types by event type."""


class JudgeVerdict(EventPayload):
    """A verdict of the judge (:mod:`sentinel.judge`) about one agent, one evaluation.

    ``attributes`` are the OpenTelemetry ``gen_ai.evaluation.*`` attributes of the
    ``gen_ai.evaluation.result`` event, one to one.
    """

    event_type: ClassVar[str] = "judge.verdict"
    agent_id: str
    evaluation: Literal["drift", "quality", "fatigue", "llm"]
    status: Literal["passed", "failed", "insufficient_data"]
    score: float
    severity: Literal["none", "mild", "moderate", "critical"]
    alert: bool
    method: str
    threshold: float
    percentile: float | None
    messages: int = Field(ge=0)
    summary: str
    top_words: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    toward: str | None = None
    details: dict[str, float] = Field(default_factory=dict)
    input_end: int = Field(ge=0)
    """The trail judged ends before this position."""
    route: str = ""
    """The route (provider or model) the judged messages came through."""
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


EVENT_TYPES[JudgeVerdict.event_type] = JudgeVerdict


class NightrunStarted(EventPayload):
    """A nightrun's job list: one consolidation per agent over the trail ``[start, end)``."""

    event_type: ClassVar[str] = "nightrun.started"
    run_key: str
    day: int = Field(ge=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    input_head: str
    """Hash of the trail's last input event (position ``end - 1``)."""
    jobs: list[str]
    h0: str
    """The step chain's origin: SHA-256 of ``run_key ":" day``."""


class MemoryItem(BaseModel):
    """One consolidated memory: an episode and its importance factors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    text: str
    score: float
    relevance: float
    emotion: float
    repetition: float
    recency: float
    repetitions: int = Field(ge=1)
    hours_ago: float
    first_tick: int = Field(ge=0)
    last_tick: int = Field(ge=0)


class NightrunMemory(EventPayload):
    """One job done: an agent's memories of the day, and the step chain extended by it."""

    event_type: ClassVar[str] = "nightrun.memory"
    run_key: str
    day: int = Field(ge=1)
    agent_id: str
    step: int = Field(ge=0)
    episodes: int = Field(ge=0)
    memories: list[MemoryItem]
    prev_step_hash: str
    step_hash: str
    """SHA-256 of ``prev_step_hash`` and the canonical JSON of the job's result."""


class NightrunFinished(EventPayload):
    """Every job done: the digest of all memories and the step chain's head."""

    event_type: ClassVar[str] = "nightrun.finished"
    run_key: str
    day: int = Field(ge=1)
    jobs: int = Field(ge=0)
    memory_digest: str
    step_head: str


for _cls in (NightrunStarted, NightrunMemory, NightrunFinished):
    EVENT_TYPES[_cls.event_type] = _cls
