"""Where answers and tool results come from: the live gateway and sandboxes, or a record.

:class:`LiveBackend` asks the gateway (one ``complete_many`` per tick) and runs commands in
a warm sandbox of the agent's own, from a bounded pool (and WASI tools in Wasmtime, over
the same workspace).
:class:`~sentinel.agents.replay.RecordedBackend` returns
what a run recorded, so a replay never calls a model or a sandbox.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from sentinel.agents.redteam import Attack
from sentinel.agents.sandbox_pool import DEFAULT_CAPACITY, KeptUids, SandboxPool
from sentinel.audit import AuditStore, NewEvent
from sentinel.breakout.audit_trail import blocked_violation
from sentinel.breakout.scenario import Run, decide
from sentinel.config.company import Company
from sentinel.config.persona import Persona as CompanyPersona
from sentinel.errors import GatewayError, SandboxError, SandboxUnavailable
from sentinel.gateway import Gateway
from sentinel.gateway.persona import Persona, Personality
from sentinel.gateway.settings import GatewaySettings, ProviderSettings, load_settings
from sentinel.sandbox import leftovers
from sentinel.sandbox.audit_events import events_for
from sentinel.sandbox.disk_quota import release
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult, sandbox_failure
from sentinel.sandbox.warm import Sandbox
from sentinel.sandbox.wasi_tools import WASI_PREFIX, wasi_tool
from sentinel.sandbox.workspace_copy import copy_owner, copy_workspace

if TYPE_CHECKING:
    from sentinel.cas.run_workspaces import RunWorkspaces
    from sentinel.sandbox.wasi_toolbox import WasiToolbox

RUNS_ROOT: Final = Path("/var/lib/sentinel/runs")
"""Run directories of root: every parent mode 0711, so the sandbox uid can traverse them."""
SCRATCH_PARENT: Final = Path("/var/tmp")  # noqa: S108 - every uid may traverse it
"""Run directories of other users (no quota file systems without root)."""
TOOL_OUTPUT_CHARS: Final = 400
"""Output kept per tool result (in the record and the next perception)."""
SANDBOX_TOOLS: Final = ("shell", "python", "pytest", "git")
"""Persona tools that the sandbox runs; an ``editor`` or a ``shell`` also writes files (fs)."""
FILE_WRITING_TOOLS: Final = ("editor", "shell", "notes")
"""``notes`` too: every desk writes its documents, reports and scripts (sentinel.agents.work)."""


@dataclass(frozen=True)
class Request:
    """One agent's request of this tick."""

    agent_id: str
    kind: str
    """``need`` (the world's decision queue) or ``task`` (a coding task)."""
    text: str
    fingerprint: str | None
    addressed: bool = False
    """Another persona spoke to this one (urgent: the gateway never synthesizes it)."""
    max_tokens: int | None = None
    """The answer's token limit (None: the gateway's default)."""


@dataclass(frozen=True)
class Answer:
    """The gateway's answer as the runtime uses it (and records it)."""

    decision: str
    """``synthesized``, ``learned``, ``forwarded`` or ``refused``."""
    rule: str
    """The synthesis rule, the provider, or the refusal's error code."""
    actions: list[dict[str, Any]]
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ToolOutcome:
    """What a command in the sandbox came back with."""

    exit_code: int | None
    signal: int | None
    output: str
    violations: int = 0


@dataclass(frozen=True)
class AttackOutcome:
    """The verdict on one red-team attack."""

    result: str
    evidence: str


class Backend(Protocol):
    """The source of answers and tool results (live or recorded)."""

    def start(self, agent_id: str) -> None:
        """The agent came on duty."""

    def stop(self, agent_id: str) -> None:
        """The agent went off duty."""

    def decide(self, tick: int, requests: Sequence[Request]) -> list[Answer]:
        """One answer per request, in order."""
        ...

    def execute(
        self, tick: int, agent_id: str, command: str, events: list[NewEvent], *, tool: str = ""
    ) -> ToolOutcome:
        """Run ``command`` for the agent with ``tool`` (a ``wasm:<name>`` tool: its arguments)."""
        ...

    def attack(
        self, tick: int, agent_id: str, attack: Attack, events: list[NewEvent]
    ) -> AttackOutcome:
        """Run a red-team attack for the agent."""
        ...

    def close(self) -> None:
        """Stop everything still running."""


def gateway_persona(persona: CompanyPersona) -> Persona:
    """The gateway's view of a company persona; tools the sandbox runs become capabilities.

    So do the WASI tools it holds (``wasm:<name>``), which run in Wasmtime.
    """
    tools = set(persona.capabilities.tools)
    capabilities: list[str] = [tool for tool in SANDBOX_TOOLS if tool in tools]
    if tools & set(FILE_WRITING_TOOLS):
        capabilities.append("fs")
    capabilities += sorted(tool for tool in tools if tool.startswith(WASI_PREFIX))
    identity = persona.identity
    team = "".join(c if c.isalnum() else "-" for c in identity.department).strip("-") or "team"
    return Persona(
        id=identity.id,
        name=identity.name,
        role=identity.role,
        team=team,
        shift=identity.shift_set,  # type: ignore[arg-type]
        capabilities=tuple(capabilities),
        personality=Personality(**persona.personality.model_dump()),
        bio=persona.background.bio,
        quirks=tuple(persona.background.quirks),
    )


def gateway_settings(company: Company, provider: str) -> GatewaySettings:
    """The company's ``gateway.toml`` (or the defaults), routed to ``provider``."""
    path = company.root / "gateway.toml" if company.root is not None else None
    settings = load_settings(path if path is not None and path.is_file() else None)
    rooms = (
        *settings.rooms,
        *(r.id for r in company.floor_plan.rooms if r.id not in settings.rooms),
    )
    settings = settings.model_copy(update={"rooms": rooms})
    names = {p.name for p in settings.providers}
    if provider in names:
        routing = settings.routing.model_copy(update={"primary": provider})
        return settings.model_copy(update={"routing": routing})
    name = "".join(c if c.isalnum() or c in "_.-" else "-" for c in provider).strip("-.")
    extra = ProviderSettings(name=name or "model", kind="litellm", model=provider)
    routing = settings.routing.model_copy(update={"primary": extra.name})
    return settings.model_copy(
        update={"providers": (*settings.providers, extra), "routing": routing}
    )


class SimClock:
    """Simulated seconds, for the gateway's rate limits and breakers.

    A run is faster than real time: on a wall clock, a shift's requests would be a burst.
    """

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self.tick = 0

    def __call__(self) -> float:
        """Seconds since the start of the run."""
        return self.tick * self.time_scale


def make_run_dir() -> Path:
    """A fresh run directory every uid can traverse (see :data:`RUNS_ROOT`)."""
    if os.geteuid() == 0:
        for parent in (RUNS_ROOT.parent, RUNS_ROOT):
            parent.mkdir(mode=0o711, exist_ok=True)
            parent.chmod(0o711)
        path = RUNS_ROOT / uuid.uuid4().hex[:12]
        leftovers.take("directory", path)  # sentinel-run sandbox gc removes it after a crash
        path.mkdir(mode=0o711)
        return path
    path = Path(tempfile.mkdtemp(prefix="sentinel-run-", dir=SCRATCH_PARENT))
    path.chmod(0o711)
    return path


def remove_run_dir(path: Path) -> None:
    """Unmount the workspaces' quota file systems below ``path`` and remove it."""
    try:
        release(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        leftovers.give_back("directory", path)


@dataclass
class LiveBackend:
    """The gateway for answers; a pooled warm sandbox per agent doing tool work.

    An agent gets its sandbox on its first command, from a pool of at most
    ``pool_capacity`` live sandboxes (:mod:`sentinel.agents.sandbox_pool`); an idle one
    is closed to make room, its workspace kept for its own agent's next command.
    """

    gateway: Gateway
    policy: SandboxPolicy
    run_dir: Path
    model: str
    keep_workspaces: Path | None = None
    pool_capacity: int = DEFAULT_CAPACITY
    pool: SandboxPool | None = None
    """The sandboxes (None: a pool of ``pool_capacity`` real ones)."""
    toolbox: WasiToolbox | None = None
    """The WASI tools, compiled when an agent first uses one."""
    on_duty: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    """Agents whose workspace holds files (they had a sandbox this run)."""
    uids: KeptUids = field(default_factory=KeptUids)
    failed_builds: dict[str, str] = field(default_factory=dict)
    """Why an agent's sandbox could not be built at its last command (cleared when it runs)."""
    cas: RunWorkspaces | None = None
    """The agents' content-addressed workspaces (None: plain directories, ext4 quota)."""

    def __post_init__(self) -> None:
        if self.pool is None:
            self.pool = SandboxPool(self._build, self.pool_capacity, self._evict)

    @property
    def sandboxes(self) -> SandboxPool:
        """The pool (never None after construction)."""
        assert self.pool is not None  # noqa: S101 - set in __post_init__
        return self.pool

    def pool_report(self) -> dict[str, int]:
        """The pool's counters: capacity, agents that held a sandbox, built, recycled, peak."""
        stats = self.sandboxes.stats
        return {
            "capacity": self.sandboxes.capacity,
            "agents": len(stats.agents),
            "built": stats.built,
            "evicted": stats.evicted,
            "peak": stats.peak,
            "uid_changed": self.uids.changed,
        }

    def _workspace(self, agent_id: str) -> Path:
        return self.run_dir / "ws" / agent_id

    def _build(self, agent_id: str) -> Sandbox:
        """The agent's sandbox over its own workspace (a git repository)."""
        self.uids.building(agent_id)
        if self.cas is not None:
            self.cas.ensure(agent_id, self._workspace(agent_id))
        sandbox = Sandbox(self.policy, agent_id, workspace=self._workspace(agent_id))
        self.uids.built(agent_id, sandbox)
        self.used.add(agent_id)
        return sandbox

    def _evict(self, agent_id: str, sandbox: Sandbox) -> None:
        self.uids.evicted(agent_id, sandbox, self._workspace(agent_id))

    def start(self, agent_id: str) -> None:
        """The agent came on duty (its sandbox comes with its first command)."""
        self.on_duty.add(agent_id)

    def _run(
        self,
        tick: int,
        agent_id: str,
        argv: list[str],
        events: list[NewEvent],
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` in the agent's sandbox; a sandbox that cannot be built is a result.

        Whatever happens in the sandbox (its supervisor killed, stopped or garbled) comes
        back as the command's result from :class:`Sandbox`; a sandbox that cannot even be
        (re)built comes back as a failed command here, so one agent never stops the run.
        A layer the policy requires and the host lacks (``SandboxUnavailable``) does stop
        it: no agent could work safely.
        """
        del events  # the caller records the result's events
        try:
            with self.sandboxes.lease(agent_id) as sandbox:
                self.failed_builds.pop(agent_id, None)
                try:
                    result = sandbox.run(argv, timeout=timeout)
                except SandboxError as exc:
                    return sandbox_failure(str(exc), sandbox.layers)
        except SandboxUnavailable:
            raise
        except SandboxError as exc:
            self.failed_builds[agent_id] = str(exc)
            return sandbox_failure(f"could not be built: {exc}", ())
        if self.cas is not None and result.exit_code == 0 and runs_git_commit(argv):
            self.cas.commit(agent_id, tick)  # the committed tree, recorded in the chain
        return result

    def rebuild(self, agent_id: str) -> bool:
        """Build the agent's sandbox now (after a failed build) and run ``true``; whether up."""
        try:
            with self.sandboxes.lease(agent_id) as sandbox:
                sandbox.run(["true"])
        except SandboxError as exc:
            self.failed_builds[agent_id] = str(exc)
            return False
        self.failed_builds.pop(agent_id, None)
        return True

    def stop(self, agent_id: str) -> None:
        """The agent went off duty: stop its sandbox (copying its workspace out, if asked)."""
        self.on_duty.discard(agent_id)
        pool = self.sandboxes
        if self.keep_workspaces is not None and agent_id in self.used and not pool.holds(agent_id):
            with pool.lease(agent_id):
                pass  # evicted earlier: mount its workspace again to copy it out
        sandbox = pool.release(agent_id)
        self.uids.forget(agent_id)
        if sandbox is None:
            if self.cas is not None:
                self.cas.stop(agent_id)
            return
        source = self._workspace(agent_id)
        sandbox.close(release_workspace=False)  # copied out of its file system, then released
        try:
            if self.keep_workspaces is not None:
                owner = copy_owner(self.keep_workspaces, (sandbox.uid, sandbox.uid))
                copy_workspace(source, self.keep_workspaces / agent_id, owner)
        finally:
            try:
                if self.cas is not None:
                    self.cas.stop(agent_id)  # recorded and unmounted before the release
            finally:
                release(source)

    def decide(self, tick: int, requests: Sequence[Request]) -> list[Answer]:
        """One ``complete_many`` call for the tick's requests; refusals become answers."""
        bodies: list[dict[str, Any]] = [
            {
                "model": self.model,
                "messages": [{"role": "user", "content": request.text}],
                "sentinel": {
                    "tick": tick,
                    **({"fingerprint": request.fingerprint} if request.fingerprint else {}),
                    **({"addressed": True} if request.addressed else {}),
                },
            }
            for request in requests
        ]
        for body, request in zip(bodies, requests, strict=True):
            if request.max_tokens is not None:
                body["max_tokens"] = request.max_tokens
        results = self.gateway.complete_many(
            bodies, agent_ids=[r.agent_id for r in requests], return_exceptions=True
        )
        answers = []
        for result in results:
            if isinstance(result, GatewayError):
                answers.append(Answer("refused", result.code, []))
                continue
            rule = result.rule_id if result.decision != "forwarded" else result.provider
            answers.append(
                Answer(
                    result.decision,
                    rule or result.provider,
                    [action.model_dump() for action in result.actions],
                    result.cost_usd,
                )
            )
        return answers

    def execute(
        self, tick: int, agent_id: str, command: str, events: list[NewEvent], *, tool: str = ""
    ) -> ToolOutcome:
        """Run ``sh -c command`` in the agent's sandbox; its events join ``events``.

        A ``wasm:<name>`` tool runs in Wasmtime instead, ``command`` being its arguments.
        """
        name = wasi_tool(tool)
        if name is not None:
            return self._wasi(tick, agent_id, name, command, events)
        argv = ["sh", "-c", command]
        result = self._run(tick, agent_id, argv, events)
        events.extend(events_for(agent_id, argv, result, tick=tick))
        output = (result.stdout + result.stderr).decode(errors="replace")[:TOOL_OUTPUT_CHARS]
        return ToolOutcome(result.exit_code, result.signal, output, len(result.violations))

    def _wasi(
        self, tick: int, agent_id: str, name: str, arguments: str, events: list[NewEvent]
    ) -> ToolOutcome:
        """Run WASI tool ``name`` over the agent's workspace (read-only) with the policy's limits.

        Arguments that do not split like a shell's come back as a failed call (exit 2).
        """
        target = f"{WASI_PREFIX}{name}"
        try:
            args = shlex.split(arguments)
        except ValueError as exc:
            return ToolOutcome(2, None, f"{target}: cannot split the arguments: {exc}")
        if self.toolbox is None:
            from sentinel.sandbox.wasi_toolbox import WasiToolbox  # noqa: PLC0415 - wasmtime on first use

            self.toolbox = WasiToolbox(self.policy)
        if agent_id in self.on_duty:  # its workspace mounted (built or rebuilt) first
            with self.sandboxes.lease(agent_id):
                result = self.toolbox.run(name, args, workspace=self._workspace(agent_id))
        else:
            result = self.toolbox.run(name, args, workspace=self._workspace(agent_id))
        events.extend(events_for(agent_id, [target, *args], result, tick=tick))
        output = (result.stdout + result.stderr).decode(errors="replace")[:TOOL_OUTPUT_CHARS]
        return ToolOutcome(result.exit_code, result.signal, output, len(result.violations))

    def attack(
        self, tick: int, agent_id: str, attack: Attack, events: list[NewEvent]
    ) -> AttackOutcome:
        """Run the attack in the agent's sandbox; a blocked one is a ``sandbox.violation``.

        Judged by the breakout suite's own decision function (host checks included), with
        no arena: an attack that proves nothing here is ``inconclusive``, never blocked.
        """
        scenario = attack.scenario
        result = self._run(tick, agent_id, attack.argv, events, timeout=scenario.timeout)
        workspace = (self.run_dir / "ws" / agent_id).resolve()
        outcome = decide(Run(result, workspace, None, attack.nonce), scenario.judge)
        digest = hashlib.sha256(attack.argv[4].encode()).hexdigest()[:16]
        argv = [*attack.argv[:4], f"<attacker program {scenario.id} sha256:{digest}>"]
        events.extend(events_for(agent_id, argv, result, tick=tick))
        if outcome.result == "blocked":
            detail = f"red-team attack blocked: {outcome.evidence}"
            events.append(blocked_violation(scenario, agent_id, detail, tick=tick))
        return AttackOutcome(outcome.result, outcome.evidence)

    def close(self) -> None:
        """Stop every sandbox still running."""
        for agent_id in sorted(self.on_duty | set(self.sandboxes.agents())):
            with contextlib.suppress(SandboxError, OSError):
                self.stop(agent_id)


def runs_git_commit(argv: Sequence[str]) -> bool:
    """Whether a command's text runs ``git commit`` (the work desk's commands are shell lines)."""
    return any("git commit" in arg for arg in argv) or list(argv[:2]) == ["git", "commit"]


def store_size(store: AuditStore) -> int:
    """Events in the store."""
    return store.head()[0]
