"""``probe status``: a real load and attach decides; the facts explain a refusal.

This host can load the probes (CI runs as root on a kernel with BTF), so "available" is
asserted, never skipped; each refusal is shown by taking away one thing the probe needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel import _native, cli
from sentinel.probes import session as probe_session
from sentinel.probes.status import probe_status

pytestmark = pytest.mark.host

runner = CliRunner()
NOBODY = 65534
"""The ``nobody`` uid and gid of Debian: a user without CAP_BPF."""
AS_NOBODY = f"""
import os, sys
# Imported as root first: the interpreter may live where nobody cannot read (/root/.pyenv).
import sentinel.cli.application, sentinel.cli.probe, sentinel.sandbox.leftovers
from sentinel.cli import main
os.setgroups([])
os.setresgid({NOBODY}, {NOBODY}, {NOBODY})
os.setresuid({NOBODY}, {NOBODY}, {NOBODY})  # every uid non-zero: the kernel drops all caps
sys.argv[0] = "sentinel-run"
main()
"""


def test_the_probes_load_here_and_status_says_so() -> None:
    found = probe_status()
    assert found.available, found.reason
    assert found.btf and found.root and found.native
    assert set(found.programs) == {"on_exec", "on_exit", "on_sys_enter", "on_sys_exit"}
    assert found.reason == "" and found.fix is None


def test_the_command_prints_the_facts_and_exits_0_when_available() -> None:
    result = runner.invoke(cli.app, ["probe", "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "kernel probes: available" in result.output
    assert "on_sys_exit" in result.output
    as_json = runner.invoke(cli.app, ["probe", "status", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["available"] is True


def test_without_root_the_reason_is_privileges_and_the_exit_status_1() -> None:
    result = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, "probe", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    assert found["available"] is False and found["root"] is False
    assert found["btf"] is True and found["native"] is True
    assert "needs root" in found["reason"] and "CAP_BPF" in found["reason"]


def test_without_btf_the_reason_names_the_file_and_the_kernel_option(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "vmlinux"
    monkeypatch.setattr(probe_session, "BTF_PATH", missing)
    found = probe_status()
    assert not found.available and not found.btf
    assert str(missing) in found.reason
    assert found.fix is not None and "CONFIG_DEBUG_INFO_BTF" in found.fix
    result = runner.invoke(cli.app, ["probe", "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "unavailable" in result.output and "CONFIG_DEBUG_INFO_BTF" in result.output


def test_a_native_module_without_the_probe_is_named_as_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(_native, "AgentProbe")
    found = probe_status()
    assert not found.available and not found.native
    assert "built without the agent probe" in found.reason
