"""``sentinel-run sandbox exec -- /bin/true`` against bubblewrap alone, in the same run.

What the CLI adds to bwrap: Python's start, the imports of the fast path (no Typer: see
``sentinel.cli.sandbox_exec``), the policy, the cached host detection (root's per-boot cache,
so no probe runs), and the full layer stack of a cold sandbox. The issue's goal is 60 ms on
an idle machine (reported in docs/architecture.md, not asserted as a time). The package's
bytecode is compiled first, as a wheel install has it. The gates are
ratios measured here: the fast path against the same command through Typer (forced by the
``--timeout=N`` form, which the fast parser leaves to Typer), and against bwrap alone.
"""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sentinel
from benches.conftest import MEDIANS
from sentinel.sandbox.capabilities.cache import detect_and_cache
from sentinel.sandbox.workspace import scratch_dir

SENTINEL_RUN = Path(sys.executable).parent / "sentinel-run"
BWRAP_ALONE = [
    "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true",
]  # fmt: skip
MAX_SHARE_OF_BWRAP = 60.0
"""CLI median over bwrap alone's. bwrap takes 4-50 ms depending on load, so the ratio
swings: 39 on an idle machine in round 3 (140.6 ms against 3.6 ms), 33-50 before round 4
and 17.8-21.1 after it with the 2 cores shared by 7 sessions (load average 11-16). The
goal (60 ms, ~15x bwrap alone at idle) is not met; docs/architecture.md ("Speed, round
4") says where the time goes."""
MAX_SHARE_OF_TYPER = 0.8
"""Fast path over the Typer path: 0.49 idle (round 3), 0.32-0.59 under load after round 4
(Typer builds a pydantic adapter per option and imports Rich)."""

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    detect_and_cache()  # as doctor does: the CLI below reads the per-boot cache
    # The package's bytecode, as pip writes it when it installs a wheel. Without it (an
    # editable install run with PYTHONDONTWRITEBYTECODE=1, as on the CI machine) every
    # start compiles ~30 modules from source again: 35-45 ms of CPU, which no user pays.
    compileall.compile_dir(Path(sentinel.__file__).parent, quiet=1)
    with scratch_dir("sentinel-cli-bench") as path:
        yield path / "ws"


def _record(benchmark: Any, variant: str) -> None:
    MEDIANS[("cli-exec", variant)] = benchmark.stats.stats.median


def test_bwrap_alone(benchmark: Any) -> None:
    benchmark.group = "cli-exec"
    benchmark.pedantic(subprocess.run, args=(BWRAP_ALONE,), kwargs={"check": True}, rounds=20)
    _record(benchmark, "bwrap")


def test_python_start(benchmark: Any) -> None:
    benchmark.group = "cli-exec"
    argv = [sys.executable, "-c", "pass"]
    benchmark.pedantic(subprocess.run, args=(argv,), kwargs={"check": True}, rounds=20)
    _record(benchmark, "python")


def test_sentinel_run_exec(benchmark: Any, workspace: Path) -> None:
    benchmark.group = "cli-exec"
    argv = [str(SENTINEL_RUN), "sandbox", "exec", "--workspace", str(workspace), "--", "/bin/true"]
    done = benchmark.pedantic(
        subprocess.run,
        args=(argv,),
        kwargs={"check": True, "stdin": subprocess.DEVNULL},
        rounds=20,
        warmup_rounds=1,
    )
    assert done.returncode == 0
    _record(benchmark, "cli")


def test_sentinel_run_exec_through_typer(benchmark: Any, workspace: Path) -> None:
    benchmark.group = "cli-exec"
    argv = [str(SENTINEL_RUN), "sandbox", "exec", "--timeout=30", "--workspace", str(workspace)]
    done = benchmark.pedantic(
        subprocess.run,
        args=([*argv, "--", "/bin/true"],),
        kwargs={"check": True, "stdin": subprocess.DEVNULL},
        rounds=20,
        warmup_rounds=1,
    )
    assert done.returncode == 0
    _record(benchmark, "typer")


def test_gate() -> None:
    bwrap, python, cli, typer = (
        MEDIANS[("cli-exec", v)] for v in ("bwrap", "python", "cli", "typer")
    )
    print(
        f"\nsandbox exec: CLI {cli * 1e3:.1f} ms, through Typer {typer * 1e3:.1f} ms, "
        f"bwrap alone {bwrap * 1e3:.1f} ms ({cli / bwrap:.1f}x), "
        f"python -c pass {python * 1e3:.1f} ms"
    )
    assert cli <= typer * MAX_SHARE_OF_TYPER
    assert cli <= bwrap * MAX_SHARE_OF_BWRAP
