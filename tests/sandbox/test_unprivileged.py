"""Sentinel started by a normal user: layers that need root are reported unavailable, the
rest enforced. The test forks, drops to ``nobody`` in the child (the modules are already
loaded), detects and runs a sandbox there, and reports back through a pipe."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import traceback
import uuid
import warnings
from pathlib import Path

import pytest

from sentinel.errors import SandboxDegradedWarning
from sentinel.sandbox import Verdict, detect
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once

pytestmark = pytest.mark.host

NOBODY = 65534


def _as_nobody(base: Path) -> dict[str, object]:
    # Load lazily imported modules now: as nobody, the child cannot read this interpreter's
    # library directory (it lives under /root on the CI machine).
    importlib.import_module("resource")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            os.environ["XDG_CACHE_HOME"] = str(base / "cache")
            caps = detect()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = run_once(
                    SandboxPolicy(), ["sh", "-c", "id -u; cat /etc/shadow; echo ok > f; cat f"],
                    workspace=base / "ws", capabilities=caps, degraded=True,
                )  # fmt: skip
            found: dict[str, object] = {
                "verdicts": {r.name: r.verdict.value for r in caps.layers},
                "layers": list(result.layers),
                "stdout": result.stdout.decode(),
                "warned": [
                    str(w.message) for w in caught if issubclass(w.category, SandboxDegradedWarning)
                ],
            }
            os.write(write, json.dumps(found).encode())
            code = 0
        except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
            os.write(write, json.dumps({"error": traceback.format_exc()}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the unprivileged child failed"
    report: dict[str, object] = json.loads(b"".join(chunks))
    assert "error" not in report, report.get("error")
    return report


def test_a_normal_user_gets_the_layers_that_need_no_root() -> None:
    base = Path(f"/var/tmp/sentinel-user-{uuid.uuid4().hex[:8]}")
    base.mkdir(mode=0o711)
    os.chown(base, NOBODY, NOBODY)
    try:
        report = _as_nobody(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    verdicts = report["verdicts"]
    assert isinstance(verdicts, dict)
    assert verdicts["cgroups"] == Verdict.UNAVAILABLE.value  # no delegated cgroup for nobody here
    assert verdicts["netns"] == Verdict.DEGRADED.value  # loopback-only works, allow-lists need root
    for layer in ("bwrap", "landlock", "seccomp"):
        assert verdicts[layer] == Verdict.AVAILABLE.value
    assert report["layers"] == ["bwrap", "landlock", "seccomp", "netns"]
    assert report["stdout"] == "65534\nok\n"  # /etc/shadow unreadable, the workspace writable
    assert report["warned"] and "cgroups" in str(report["warned"])
