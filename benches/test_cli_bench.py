"""``sentinel-run sandbox exec -- /bin/true`` against bubblewrap alone, in the same run.

What the CLI adds to bwrap: Python's start, the imports of the fast path (no Typer: see
``sentinel.cli.sandbox_exec``), the policy, the cached host detection (root's per-boot cache,
so no probe runs), and the full layer stack of a cold sandbox. The issue's goal is 60 ms on
an idle machine (reported in the closing notes, not asserted as a time). The gates are
ratios measured here: the fast path against the same command through Typer (forced by the
``--timeout=N`` form, which the fast parser leaves to Typer), and against bwrap alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import MEDIANS
from sentinel.sandbox.capabilities.cache import detect_and_cache
from sentinel.sandbox.workspace import scratch_dir

SENTINEL_RUN = Path(sys.executable).parent / "sentinel-run"
BWRAP_ALONE = [
    "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true",
]  # fmt: skip
MAX_SHARE_OF_BWRAP = 120.0
"""CLI median over bwrap alone's. bwrap takes 4-10 ms, so the ratio swings with load: 41-70
on the 2-core CI machine while other test runs loaded it, ~58 near idle (221 ms against
3.8 ms). The goal (60 ms, ~15x) is not met: pydantic's import alone is ~90 ms here."""
MAX_SHARE_OF_TYPER = 0.9
"""Fast path over the Typer path: measured 0.72-0.8 (Typer builds a pydantic adapter per
option and imports Rich)."""

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    detect_and_cache()  # as doctor does: the CLI below reads the per-boot cache
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
