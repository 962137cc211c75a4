"""Running the suite: each scenario in a real sandbox, its negative control, the layer matrix.

Scenarios run one after another (the CPU scenario needs idle cores). Each sandboxed run gets
a fresh workspace prepared exactly as an agent's, under the production policy with the
gateway allow-list; the negative control runs the same attacker program without the
sandbox, inside a private mount namespace so a mount that succeeds never reaches the host.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from sentinel.audit import AuditStore
from sentinel.breakout.arena import Arena
from sentinel.breakout.audit_trail import record_run
from sentinel.breakout.prelude import program
from sentinel.breakout.scenario import Outcome, Run, Scenario, decide
from sentinel.cas import CasStore, CasWorkspace
from sentinel.sandbox.disk_quota import discard
from sentinel.sandbox.launch import NOBODY_UID, SHIM_PYTHON
from sentinel.sandbox.policy import Layer, SandboxPolicy, resolve
from sentinel.sandbox.result import ExecResult
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import prepare_workspace

SCENARIO_TIMEOUT_S: Final = 15.0
"""Wall-clock limit of a sandboxed scenario run (unless the scenario sets its own)."""
CONTROL_TIMEOUT_S: Final = 30.0
CONTROL_OUTPUT_LIMIT: Final = 64 << 20
CONTROL_ATTEMPTS: Final = 3
"""A control that did not escape is retried (a busy host can starve the CPU control)."""
CANARY_VARIABLE: Final = "SENTINEL_BREAKOUT_CANARY"
"""Set in the supervisor's environment while the suite runs: no sandbox may see it."""


Verdict = Literal["blocked", "inconclusive", "escaped", "error"]
"""A scenario's verdict. ``blocked`` is earned: the sandboxed attempt failed *and* its
negative control escaped without the sandbox on this host. A refused attempt whose control
could not run here, or ran and did not escape, proves nothing: ``inconclusive``."""


@dataclass(frozen=True)
class ControlOutcome:
    """The negative control: an outcome, or why it was not run."""

    outcome: Outcome | None = None
    skipped_because: str | None = None
    uid: int | None = None
    """The uid the control's attacker ran as (0: root)."""

    def runs_as(self, control: str) -> str:
        """Who ran the control, as the report says it: the kind and the uid measured."""
        if control == "root":
            return f"root (uid {self.uid}), no sandbox" if self.uid is not None else "root"
        uid = f" {self.uid}" if self.uid is not None else ""
        return f"agent uid{uid} (unprivileged), every layer off"


@dataclass
class ScenarioReport:
    """Everything the suite learned about one scenario."""

    scenario: Scenario
    outcome: Outcome
    control: ControlOutcome
    matrix: dict[str, Outcome] = field(default_factory=dict)
    """The attempt with each layer switched off in turn (the others on)."""
    alone: dict[str, Outcome] = field(default_factory=dict)
    """The attempt with only that layer on (``none``: no layer; the uid drop always holds)."""
    duration_s: float = 0.0

    @property
    def load_bearing(self) -> list[str]:
        """Layers whose removal alone lets the attempt escape (empty without a matrix)."""
        return [layer for layer, outcome in self.matrix.items() if outcome.result == "escaped"]

    @property
    def sufficient(self) -> list[str]:
        """Layers that stop the attempt on their own (``none``: the uid drop alone does)."""
        return [layer for layer, outcome in self.alone.items() if outcome.result == "blocked"]

    @property
    def unexpected_layers(self) -> list[str]:
        """Load-bearing layers the scenario does not list as expected (a wrong claim)."""
        return [layer for layer in self.load_bearing if layer not in self.scenario.expected_layers]

    @property
    def control_failed(self) -> bool:
        """The control ran and did not escape: the scenario proves nothing on this host."""
        outcome = self.control.outcome
        return outcome is not None and outcome.result != "escaped"

    @property
    def control_escaped(self) -> bool:
        """The control ran and escaped: the attempt is possible on this host."""
        outcome = self.control.outcome
        return outcome is not None and outcome.result == "escaped"

    @property
    def verdict(self) -> Verdict:
        """Blocked only when earned (see :data:`Verdict`).

        An attempt whose target was absent in the sandbox counts as blocked when the control
        reached that target outside it (the sandbox hid it), never on its own.
        """
        result = self.outcome.result
        if result in ("escaped", "error"):
            return result
        if not self.control_escaped:
            return "inconclusive"
        if result == "blocked" or self.outcome.target_absent:
            return "blocked"
        return "inconclusive"

    @property
    def verdict_reason(self) -> str:
        """Why the verdict is what it is, beyond the attempt's own evidence."""
        control = self.control
        if self.verdict in ("escaped", "error"):
            return ""
        if control.skipped_because:
            return f"the negative control cannot run here: {control.skipped_because}"
        if control.outcome is not None and control.outcome.result != "escaped":
            return f"the negative control did not escape: {control.outcome.evidence}"
        if self.verdict == "inconclusive":
            return "the attempt itself proved nothing"
        if self.outcome.result != "blocked":
            return "absent inside the sandbox; the negative control reached it outside"
        return "the negative control escaped without the sandbox"

    @property
    def evidence_source(self) -> str:
        """``host`` or ``self-reported``: who decided the sandboxed attempt's result."""
        return self.outcome.source


Progress = Callable[[Scenario, ScenarioReport], None]

WorkspaceFs = Literal["ext4", "cas"]
"""What an agent's workspace is: the ext4 quota file system (the policy's ``disk_mb``) or a
content-addressed FUSE mount (:mod:`sentinel.cas`)."""


@contextmanager
def _canary(token: str) -> Iterator[None]:
    previous = os.environ.get(CANARY_VARIABLE)
    os.environ[CANARY_VARIABLE] = token
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CANARY_VARIABLE, None)
        else:
            os.environ[CANARY_VARIABLE] = previous


class SuiteRunner:
    """Runs scenarios against one arena.

    Args:
        arena: The decoys and listeners (entered).
        store: Where blocked attempts are recorded as violations (None: not recorded).
        workspace_fs: ``cas`` puts the workspace of each full-policy sandboxed run on a
            content-addressed mount (one object store for the arena); the controls and the
            layer matrix keep theirs as they are.
    """

    def __init__(
        self, arena: Arena, store: AuditStore | None = None, *, workspace_fs: WorkspaceFs = "ext4"
    ) -> None:
        self.arena = arena
        self.store = store
        self.workspace_fs = workspace_fs
        self._cas_store = CasStore(arena.path("cas-store")) if workspace_fs == "cas" else None
        self._count = 0

    @property
    def policy(self) -> SandboxPolicy:
        """The production policy with the arena's gateway allow-list."""
        return self.arena.policy

    @property
    def _without_workspace_fs(self) -> SandboxPolicy:
        """The policy without the disk quota: the agent-uid control has no layer at all."""
        resources = self.policy.resources.model_copy(update={"disk_mb": 0})
        return self.policy.model_copy(update={"resources": resources})

    def _workspace(
        self, scenario: Scenario, kind: str, cas: CasStore | None = None
    ) -> tuple[Path, CasWorkspace | None]:
        self._count += 1
        workspace = self.arena.path(f"{kind}-{self._count:04d}-{scenario.id}")
        workspace.mkdir(mode=0o755)
        mounted = CasWorkspace(cas, workspace) if cas is not None else None
        try:
            if scenario.setup is not None:
                scenario.setup(workspace)
        except BaseException:
            if mounted is not None:
                mounted.close()
            raise
        return workspace, mounted

    def _argv(self, scenario: Scenario, nonce: str) -> list[str]:
        return [SHIM_PYTHON, "-I", "-S", "-c", program(scenario.body), self.arena.json(nonce)]

    def sandboxed(
        self,
        scenario: Scenario,
        layers: Collection[Layer] | None = None,
        *,
        policy: SandboxPolicy | None = None,
    ) -> Outcome:
        """Run the attacker in a sandbox (all the policy's layers, or ``layers``)."""
        return self._sandboxed(scenario, layers, policy=policy)[0]

    def _sandboxed(
        self,
        scenario: Scenario,
        layers: Collection[Layer] | None = None,
        *,
        policy: SandboxPolicy | None = None,
    ) -> tuple[Outcome, ExecResult]:
        full_policy = policy is None and layers is None
        workspace, mounted = self._workspace(
            scenario, "ws", self._cas_store if full_policy else None
        )
        try:
            nonce = uuid.uuid4().hex
            with _canary(self.arena.token):
                result = run_once(
                    policy or self.policy, self._argv(scenario, nonce), workspace=workspace,
                    agent_id=f"breakout-{scenario.id}", layers=layers,
                    timeout=scenario.timeout or SCENARIO_TIMEOUT_S,
                )  # fmt: skip
            run = Run(result, workspace, self.arena, nonce)
            if scenario.host_step is not None:
                scenario.host_step.protected(run)
            outcome = decide(run, scenario.judge)
        finally:
            if mounted is not None:
                mounted.close()
        # its quota file system and image: a matrix makes ~2,000 workspaces, whose loops and
        # images would otherwise stay until the arena closes
        discard(workspace)
        return outcome, result

    def control(self, scenario: Scenario) -> ControlOutcome:
        """The negative control: the same attacker without the sandbox."""
        reason = scenario.control_skip or (
            scenario.precondition(self.arena) if scenario.precondition else None
        )
        if reason:
            return ControlOutcome(skipped_because=reason)
        for _ in range(CONTROL_ATTEMPTS):
            outcome, uid = self._control_once(scenario)
            if outcome.result == "escaped":
                break
        return ControlOutcome(outcome=outcome, uid=uid)

    def _control_once(self, scenario: Scenario) -> tuple[Outcome, int | None]:
        workspace, _ = self._workspace(scenario, "control")
        nonce = uuid.uuid4().hex
        argv = self._argv(scenario, nonce)
        with _canary(self.arena.token):
            if scenario.control == "agent-uid":
                result = run_once(
                    self._without_workspace_fs, argv, workspace=workspace,
                    agent_id=f"control-{scenario.id}", layers=(), timeout=CONTROL_TIMEOUT_S,
                )  # fmt: skip
            else:
                result = self._as_root(workspace, argv)
        run = Run(result, workspace, self.arena, nonce)
        if scenario.host_step is not None:
            scenario.host_step.unprotected(run)
        outcome = decide(run, scenario.judge)
        discard(workspace)
        return outcome, result.uid

    def _as_root(self, workspace: Path, argv: list[str]) -> ExecResult:
        """Run ``argv`` as a plain child of the supervisor, as a naive launcher would."""
        prepare_workspace(workspace, self.policy, NOBODY_UID, NOBODY_UID)  # same layout
        env = dict(os.environ)
        env.update({k: resolve(v, workspace) for k, v in self.policy.environment.set.items()})
        started = time.monotonic()
        argv = ["unshare", "--mount", "--propagation", "private", "--", *argv]
        try:
            done = subprocess.run(
                argv, cwd=workspace, env=env, capture_output=True, timeout=CONTROL_TIMEOUT_S,
                check=False,
            )  # fmt: skip
            stdout, stderr, code, timed_out = done.stdout, done.stderr, done.returncode, False
        except subprocess.TimeoutExpired as exc:
            stdout, stderr, code, timed_out = exc.stdout or b"", exc.stderr or b"", None, True
        exit_code = code if code is not None and code >= 0 else None
        return ExecResult(
            exit_code=exit_code, signal=-code if code is not None and code < 0 else None,
            stdout=stdout[:CONTROL_OUTPUT_LIMIT], stderr=stderr[:CONTROL_OUTPUT_LIMIT],
            truncated=False, timed_out=timed_out, oom_killed=False, pids_limited=False,
            cpu_s=0.0, max_rss_bytes=0, duration_s=time.monotonic() - started,
            violations=(), layers=(), uid=os.getuid(),
        )  # fmt: skip

    def matrix(self, scenario: Scenario) -> dict[str, Outcome]:
        """The attempt with each of the policy's layers switched off in turn."""
        required = list(self.policy.required_layers)
        return {
            layer.value: self.sandboxed(scenario, [other for other in required if other != layer])
            for layer in required
        }

    def alone(self, scenario: Scenario) -> dict[str, Outcome]:
        """The attempt with no layer, then with each of the policy's layers alone.

        These runs also go without the workspace file system, so a layer is not credited
        with what the noexec, nosuid quota mount stopped; the uid drop stays (it always does).
        """
        bare = self._without_workspace_fs
        rows = {"none": self.sandboxed(scenario, [], policy=bare)}
        for layer in self.policy.required_layers:
            rows[layer.value] = self.sandboxed(scenario, [layer], policy=bare)
        return rows

    def run(self, scenario: Scenario, *, matrix: bool = False) -> ScenarioReport:
        """Sandboxed run (recorded), negative control and, if asked, the layer matrix."""
        started = time.monotonic()
        outcome, result = self._sandboxed(scenario)
        control = self.control(scenario)
        off = self.matrix(scenario) if matrix else {}
        alone = self.alone(scenario) if matrix else {}
        report = ScenarioReport(
            scenario, outcome, control, off, alone, duration_s=time.monotonic() - started
        )
        if self.store is not None:
            record_run(self.store, scenario, result, report.verdict, outcome.evidence)
        return report
