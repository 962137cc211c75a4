"""The Wasmtime layer: fuel, memory, and only the workspace; each with its control."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import SandboxError
from sentinel.sandbox.wasm import WasmTool
from tests.sandbox.wasm.modules import GROW, HELLO, SPIN, open_and_print

WASI_EPERM = 63
"""WASI errno Wasmtime returns for a path that leaves every pre-opened directory."""


def test_a_module_runs_and_writes_stdout(tmp_path: Path) -> None:
    result = WasmTool(HELLO, workspace=tmp_path).run()
    assert (result.exit_code, result.stdout, result.violations) == (0, b"hello\n", ())


def test_fuel_stops_an_infinite_loop(tmp_path: Path) -> None:
    tool = WasmTool(SPIN, workspace=tmp_path, fuel=5_000_000)
    result = tool.run()
    assert result.exit_code is None
    assert [v.kind for v in result.violations] == ["fuel_exhausted"]
    assert tool.last_fuel_used == 5_000_000


def test_memory_limit_refuses_growth(tmp_path: Path) -> None:
    assert WasmTool(GROW, workspace=tmp_path, memory_bytes=16 << 20).run().exit_code == 3
    assert (
        WasmTool(GROW, workspace=tmp_path, memory_bytes=256 << 20).run().exit_code == 0
    )  # control


def test_only_the_workspace_is_visible(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("in the workspace\n")
    inside = WasmTool(open_and_print("notes.txt"), workspace=workspace).run()
    assert inside.stdout == b"in the workspace\n"
    escape = WasmTool(open_and_print("../outside.txt"), workspace=workspace)
    (tmp_path / "outside.txt").write_text("host file\n")
    assert escape.run().exit_code == WASI_EPERM
    # Control: with the parent pre-opened instead, the very file is readable.
    assert (
        WasmTool(open_and_print("outside.txt"), workspace=tmp_path).run().stdout == b"host file\n"
    )


def test_bad_modules_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="does not compile"):
        WasmTool(b"not wasm", workspace=tmp_path)
    with pytest.raises(SandboxError, match="no _start"):
        WasmTool("(module)", workspace=tmp_path).run()
