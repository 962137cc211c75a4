"""Sentinel started by a normal user: layers that need root are reported unavailable, the
rest enforced. A freshly spawned interpreter (single-threaded, unlike the test process,
whose threads could hold locks across a fork) drops to ``nobody``, detects, runs a
sandbox, and returns its findings."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import warnings
from pathlib import Path

import pytest

from sentinel.errors import SandboxDegradedWarning
from sentinel.sandbox import Verdict, detect
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once

pytestmark = pytest.mark.host

NOBODY = 65534


def unprivileged_report(base: str) -> dict[str, object]:
    """Runs in the spawned worker: become nobody, then detect and run one sandbox."""
    # Load lazily imported modules first: as nobody, the interpreter may not be able to
    # read its own library directory (it lives under /root on the CI machine).
    importlib.import_module("resource")
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    os.environ["XDG_CACHE_HOME"] = f"{base}/cache"
    caps = detect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_once(
            SandboxPolicy(), ["sh", "-c", "id -u; cat /etc/shadow; echo ok > f; cat f"],
            workspace=Path(base) / "ws", capabilities=caps, degraded=True,
        )  # fmt: skip
    return {
        "verdicts": {r.name: r.verdict.value for r in caps.layers},
        "layers": list(result.layers),
        "stdout": result.stdout.decode(),
        "warned": [
            str(w.message) for w in caught if issubclass(w.category, SandboxDegradedWarning)
        ],
    }


def test_a_normal_user_gets_the_layers_that_need_no_root(sandbox_base: Path) -> None:
    os.chown(sandbox_base, NOBODY, NOBODY)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        report = pool.apply(unprivileged_report, (str(sandbox_base),))
        pool.close()  # the worker exits through its exit handlers (terminate would kill it)
        pool.join()
    verdicts = report["verdicts"]
    assert isinstance(verdicts, dict)
    assert verdicts["cgroups"] == Verdict.UNAVAILABLE.value  # no delegated cgroup for nobody here
    assert verdicts["netns"] == Verdict.DEGRADED.value  # loopback-only works, allow-lists need root
    for layer in ("bwrap", "landlock", "seccomp"):
        assert verdicts[layer] == Verdict.AVAILABLE.value
    assert report["layers"] == ["bwrap", "landlock", "seccomp", "netns"]
    assert report["stdout"] == "65534\nok\n"  # /etc/shadow unreadable, the workspace writable
    assert report["warned"] and "cgroups" in str(report["warned"])
