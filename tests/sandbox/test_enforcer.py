"""The enforcer's canaries: blocked by the full stack, escaping without it (the control)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import SandboxDegradedWarning, SandboxUnavailable
from sentinel.sandbox import Verdict, detect
from sentinel.sandbox.enforcer import Enforcer
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.warm import Sandbox
from sentinel.sandbox.workspace import scratch_dir
from tests.sandbox.simulated_host import Outcomes, SimulatedHost, build_healthy_tree

pytestmark = pytest.mark.host

POLICY = SandboxPolicy()
CANARIES = ["write-outside", "read-denied", "connect-host", "ptrace", "exceed-pids"]


def test_every_canary_is_blocked_by_the_full_stack() -> None:
    report = Enforcer(POLICY).require()
    assert [c.name for c in report.canaries] == CANARIES
    assert not any(c.escaped for c in report.canaries), report.canaries
    assert report.ok and report.active_layers == [
        "bwrap",
        "landlock",
        "seccomp",
        "cgroups",
        "netns",
    ]


def test_every_canary_escapes_without_layers() -> None:
    report = Enforcer(POLICY.model_copy(update={"required_layers": []}), mode="degraded").check()
    assert [c.name for c in report.canaries if c.escaped] == CANARIES
    with pytest.raises(SandboxUnavailable, match="canary escapes succeeded"):
        Enforcer(POLICY.model_copy(update={"required_layers": []}), mode="degraded").require()


def test_strict_refuses_a_host_without_a_required_layer(tmp_path: Path) -> None:
    caps = detect(SimulatedHost(build_healthy_tree(tmp_path), Outcomes(landlock=(0, 95))))
    with pytest.raises(
        SandboxUnavailable, match="'landlock' is unavailable: the kernel has Landlock but"
    ):
        Enforcer(POLICY, capabilities=caps).require()
    active, missing = Enforcer(POLICY, mode="degraded", capabilities=caps).layers()
    assert "landlock" not in [layer.value for layer in active]
    assert [report.name for report in missing] == ["landlock"]


def test_degraded_mode_runs_without_the_missing_layer_and_warns_every_call(tmp_path: Path) -> None:
    real = detect()
    caps = real.model_copy(
        update={"layers": [r.model_copy(update={"verdict": r.verdict}) if r.name != "landlock"
                           else r.model_copy(update={"verdict": Verdict.UNAVAILABLE, "reason": "simulated"}) for r in real.layers]}
    )  # fmt: skip
    with scratch_dir("sentinel-degraded") as base:
        with pytest.raises(SandboxUnavailable, match="landlock"):
            run_once(POLICY, ["true"], workspace=base / "ws", capabilities=caps)
        with pytest.warns(SandboxDegradedWarning, match="without: landlock"):
            result = run_once(
                POLICY, ["true"], workspace=base / "ws", capabilities=caps, degraded=True
            )
        assert "landlock" not in result.layers and result.exit_code == 0
        with Sandbox(
            POLICY, "deg", workspace=base / "w2", capabilities=caps, degraded=True
        ) as sandbox:
            for _ in range(2):
                with pytest.warns(SandboxDegradedWarning):
                    assert sandbox.run(["true"]).exit_code == 0
