"""``sentinel-run sandbox exec -- /bin/true`` against what it cannot avoid, in the same run.

What the CLI adds to bwrap: Python's start, the imports of the fast path (no Typer: see
``sentinel.cli.sandbox_exec``), the policy, the cached host detection (root's per-boot cache,
so no probe runs), the workspace's mount, and the full layer stack of a cold sandbox. The
issue's goal is 60 ms on an idle machine (reported in docs/architecture.md, not asserted as a
time). The package's bytecode is compiled first, as a wheel install has it. Every variant is
timed call by call, interleaved (:func:`benches.conftest.interleaved_samples`), so the load
shifts every side of a ratio alike. The gates: the CLI against its floor (``python -c pass``
plus the same launch in a warm process: what a CLI with free imports would cost), against
the same command through Typer (forced by the ``--timeout=N`` form, which the fast parser
leaves to Typer), and against bwrap alone.
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import sentinel
from benches.conftest import interleaved_samples
from sentinel.cli.sandbox_exec import launch_inputs
from sentinel.sandbox.capabilities.cache import detect_and_cache
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import scratch_dir

SENTINEL_RUN = Path(sys.executable).parent / "sentinel-run"
BWRAP_ALONE = [
    "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true",
]  # fmt: skip
MAX_OVER_FLOOR = 4.0
"""CLI median over its floor's (``python -c pass`` + the launch in a warm process): what the
CLI's own start (imports, the workspace's mount, the exit) may add. Measured 2.6 at load
6.5 in round 8 (see docs/architecture.md, "Speed, round 8")."""
MAX_SHARE_OF_BWRAP = 60.0
"""CLI median over bwrap alone's. bwrap takes 4-50 ms depending on load, so the ratio
swings: 39 on an idle machine in round 3 (140.6 ms against 3.6 ms), 17.8-50 in round 4
with the 2 cores shared by 7 sessions (load average 11-16). The goal (60 ms, ~15x bwrap
alone at idle) is not met; docs/architecture.md ("Speed, round 8") says where the time goes."""
MAX_SHARE_OF_TYPER = 0.8
"""Fast path over the Typer path: 0.49 idle (round 3), 0.32-0.59 under load after round 4
(Typer builds a pydantic adapter per option and imports Rich)."""
ROUNDS = 20
"""Calls of each variant, interleaved (each CLI call is a new process: 0.1-0.5 s)."""

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    detect_and_cache()  # as doctor does: the CLI below reads the per-boot cache
    # The package's bytecode, as pip writes it when it installs a wheel. Without it (an
    # editable install run with PYTHONDONTWRITEBYTECODE=1, as on the CI machine) every
    # start compiles ~30 modules from source again: 35-45 ms of CPU, which no user pays.
    compileall.compile_dir(Path(sentinel.__file__).parent, quiet=1)
    with scratch_dir("sentinel-cli-bench") as path:
        yield path


def _run(argv: list[str]) -> Callable[[], None]:
    def call() -> None:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)

    return call


def test_gate(workspace: Path) -> None:
    cli = [str(SENTINEL_RUN), "sandbox", "exec", "--workspace", str(workspace / "ws")]
    typer = [*cli[:3], "--timeout=30", *cli[3:]]
    policy, facts = launch_inputs(None)  # what the CLI reads, from the same caches

    def in_process() -> None:
        # The CLI's launch in a process that has imported everything already (its
        # workspace stays mounted between calls, as a long-lived caller's does).
        result = run_once(
            policy, ["/bin/true"], capabilities=facts, workspace=workspace / "warm",
            agent_id="cli", stdin=b"",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr

    variants: dict[str, Callable[[], None]] = {
        "cli": _run([*cli, "--", "/bin/true"]),
        "typer": _run([*typer, "--", "/bin/true"]),
        "python": _run([sys.executable, "-c", "pass"]),
        "in-process": in_process,
        "bwrap": _run(BWRAP_ALONE),
    }
    samples = interleaved_samples(variants, rounds=ROUNDS, warmup=1)
    median = {name: statistics.median(times) for name, times in samples.items()}
    floor = median["python"] + median["in-process"]
    print(
        f"\nsandbox exec, interleaved medians: CLI {median['cli'] * 1e3:.1f} ms, "
        f"through Typer {median['typer'] * 1e3:.1f} ms, python -c pass "
        f"{median['python'] * 1e3:.1f} ms, in-process launch {median['in-process'] * 1e3:.1f} "
        f"ms (floor {floor * 1e3:.1f} ms: CLI {median['cli'] / floor:.2f}x), bwrap alone "
        f"{median['bwrap'] * 1e3:.1f} ms ({median['cli'] / median['bwrap']:.1f}x); "
        f"Typer share {median['cli'] / median['typer']:.2f}"
    )
    assert median["cli"] <= floor * MAX_OVER_FLOOR
    assert median["cli"] <= median["typer"] * MAX_SHARE_OF_TYPER
    assert median["cli"] <= median["bwrap"] * MAX_SHARE_OF_BWRAP
