"""The whole suite: arena, audit store, egress check, every scenario, the report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sentinel.audit import AuditStore
from sentinel.breakout.arena import Arena
from sentinel.breakout.report import SuiteReport, host_facts
from sentinel.breakout.runner import ScenarioReport, SuiteRunner, WorkspaceFs
from sentinel.breakout.scenario import Family, Scenario
from sentinel.errors import SandboxError
from sentinel.sandbox.launch import host_capabilities
from sentinel.sandbox.policy import SandboxPolicy

EGRESS_CHECK = Scenario(
    "egress-allowed", Family.NETWORK, "reach the allow-listed gateway", ("netns",), """
def attack(A):
    gateway = A["gateway"]
    with socket.create_connection((gateway["address"], gateway["allowed"]), timeout=3) as conn:
        data = conn.recv(256)
    if A["token"].encode() in data:
        escaped(f"the gateway answered: {data.decode().strip()[:40]}")
    blocked(f"unexpected answer {data[:40]!r}")
""")  # fmt: skip
"""Not an attack: proves the sandbox's one allowed path works, so network blocks mean something."""


def run_suite(
    policy: SandboxPolicy,
    scenarios: list[Scenario],
    *,
    store_path: Path,
    matrix: bool = False,
    progress: Callable[[Scenario, ScenarioReport], None] | None = None,
    workspace_fs: WorkspaceFs = "ext4",
) -> SuiteReport:
    """Run ``scenarios`` against ``policy`` on this host and report.

    Blocked attempts are recorded in the audit store at ``store_path`` as violations of the
    scenario's agent (``breakout-<id>``). With ``workspace_fs="cas"`` each full-policy run's
    workspace is a content-addressed mount (:class:`SuiteRunner`).

    Raises:
        SandboxError: Not root (the arena needs decoys owned by other users and namespaces),
            or the arena could not be built.
        SandboxUnavailable: A layer of the policy is unavailable on this host.
    """
    if os.geteuid() != 0:
        raise SandboxError("the breakout suite needs root: run it with sudo")
    caps = host_capabilities()
    started = time.monotonic()
    store_path = store_path.resolve()  # attackers (and their controls) run elsewhere
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with AuditStore(store_path) as store, Arena(policy, store_path) as arena:
        runner = SuiteRunner(arena, store, workspace_fs=workspace_fs)
        egress = runner.sandboxed(EGRESS_CHECK)
        if egress.result != "escaped":
            raise SandboxError(
                f"the allow-listed gateway is unreachable from a sandbox: {egress.evidence}"
            )
        reports = []
        for scenario in scenarios:
            report = runner.run(scenario, matrix=matrix)
            reports.append(report)
            if progress is not None:
                progress(scenario, report)
    layers = [layer.value for layer in policy.required_layers]
    return SuiteReport(
        host=host_facts(caps, layers),
        scenarios=reports,
        duration_s=time.monotonic() - started,
        matrix=matrix,
        egress_check=f"reachable ({egress.evidence})",
        marker=arena.token,
        arena=str(arena.root),
    )
