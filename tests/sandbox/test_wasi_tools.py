"""The shipped WASI tools: pinned to Python references, limits as results, only the workspace.

Every limit is a result with a violation and its audit events, never an exception; every
confinement check has a control that shows the same module reads the file when its
pre-open is wider.
"""

from __future__ import annotations

import os
import threading
import zlib
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.agents.backends import LiveBackend
from sentinel.audit.events import NewEvent
from sentinel.sandbox.audit_events import events_for
from sentinel.sandbox.policy import SandboxPolicy, WasmPolicy
from sentinel.sandbox.wasi_toolbox import WasiToolbox
from sentinel.sandbox.wasi_tools import TOOLS, module_text, wasi_tool
from sentinel.sandbox.wasm import WasmTool

TOOLBOX = WasiToolbox(SandboxPolicy())
"""Compiled once for the module: hypothesis calls the tools hundreds of times."""


def _wc(data: bytes, path: str = "") -> bytes:
    """The reference: coreutils' counts (bytes.split splits on the same six bytes)."""
    lines = data.count(b"\n")
    counts = f"{lines} {len(data.split())} {len(data)}"
    return f"{counts} {path}\n".encode() if path else f"{counts}\n".encode()


def _crc32(data: bytes, path: str) -> bytes:
    return f"{zlib.crc32(data):08x} {len(data)} {path}\n".encode()


def _grep(data: bytes, pattern: bytes, path: str) -> bytes:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(
        path.encode() + b":" + str(number).encode() + b":" + line + b"\n"
        for number, line in enumerate(lines, 1)
        if pattern in line
    )


def test_every_tool_compiles_from_its_shipped_text() -> None:
    for name in TOOLS:
        assert module_text(name).startswith("(module")
        assert TOOLBOX.module(name) is TOOLBOX.module(name)  # compiled once
    assert wasi_tool("wasm:wc") == "wc" and wasi_tool("git") is None and wasi_tool(None) is None
    with pytest.raises(KeyError):
        TOOLBOX.module("sh")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=70_000)
    | st.text(alphabet=" \t\n\r\x0b\x0cab", max_size=300).map(str.encode)
)
def test_wc_and_crc32_match_their_references(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "f.txt").write_bytes(data)
    wc = TOOLBOX.run("wc", ["f.txt"], workspace=tmp_path)
    assert (wc.exit_code, wc.stdout, wc.stderr) == (0, _wc(data, "f.txt"), b"")
    crc = TOOLBOX.run("crc32", ["/f.txt"], workspace=tmp_path)
    assert (crc.exit_code, crc.stdout) == (0, _crc32(data, "/f.txt"))
    assert TOOLBOX.run("wc", [], workspace=tmp_path, stdin=data).stdout == _wc(data)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.text(alphabet="abc ", max_size=20), max_size=12),
    pattern=st.text(alphabet="abc", min_size=1, max_size=3),
    final_newline=st.booleans(),
)
def test_grep_matches_its_reference(
    tmp_path: Path, lines: list[str], pattern: str, final_newline: bool
) -> None:
    data = "\n".join(lines).encode() + (b"\n" if final_newline and lines else b"")
    (tmp_path / "g.txt").write_bytes(data)
    result = TOOLBOX.run("grep", [pattern, "g.txt"], workspace=tmp_path)
    expected = _grep(data, pattern.encode(), "g.txt")
    assert result.stdout == expected
    assert result.exit_code == (0 if expected else 1)


def test_several_files_a_total_and_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"one two\n")
    (tmp_path / "b").write_bytes(b"three\n")
    result = TOOLBOX.run("wc", ["a", "nope", "b"], workspace=tmp_path)
    assert result.exit_code == 2  # the missing file, the others still counted
    assert result.stdout == b"1 2 8 a\n1 1 6 b\n2 3 14 total\n"
    assert result.stderr == b"wc: nope: no such file or directory\n"
    usage = TOOLBOX.run("grep", [], workspace=tmp_path)
    assert usage.exit_code == 2 and b"usage" in usage.stderr


def test_fuel_exhaustion_is_a_result_and_audit_events(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(os.urandom(200_000))
    starved = WasiToolbox(SandboxPolicy(wasm=WasmPolicy(fuel=1_000_000)))
    result = starved.run("crc32", ["big"], workspace=tmp_path)
    assert result.exit_code is None and result.stdout == b""
    assert [(v.layer, v.kind) for v in result.violations] == [("wasmtime", "fuel_exhausted")]
    events = events_for("AGENT-07", ["wasm:crc32", "big"], result)
    assert [e.type for e in events] == ["sandbox.executed", "sandbox.violation"]
    assert events[1].payload["layer"] == "wasmtime"
    assert events[1].payload["detail"].startswith("fuel_exhausted")
    # Control: the policy's default fuel is enough for the same file.
    assert TOOLBOX.run("crc32", ["big"], workspace=tmp_path).exit_code == 0


def test_memory_limit_is_a_result_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "long").write_bytes(b"a" * 3_000_000 + b"needle\n")
    small = WasiToolbox(SandboxPolicy(wasm=WasmPolicy(memory_mb=1)))
    result = small.run("grep", ["needle", "long"], workspace=tmp_path)
    assert result.exit_code is None
    assert [(v.layer, v.kind) for v in result.violations] == [("wasmtime", "memory_limit")]
    # Control: with the default 64 MiB the line fits and matches (its output is cut).
    found = TOOLBOX.run("grep", ["needle", "long"], workspace=tmp_path)
    assert found.exit_code == 0 and found.stdout.startswith(b"long:1:aaa")
    assert [v.kind for v in found.violations] == ["output_limit"]


def test_a_module_larger_than_the_limit_is_refused_as_a_result(tmp_path: Path) -> None:
    module = '(module (memory (export "memory") 32) (func (export "_start")))'  # 2 MiB
    refused = WasmTool(module, workspace=tmp_path, memory_bytes=1 << 20).run()
    assert refused.exit_code is None
    assert [v.kind for v in refused.violations] == ["memory_limit"]
    assert WasmTool(module, workspace=tmp_path, memory_bytes=4 << 20).run().exit_code == 0


def test_a_tool_cannot_read_outside_its_preopen(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "secret").write_bytes(b"host secret\n")
    (workspace / "link").symlink_to(tmp_path / "secret")
    (workspace / "dirlink").symlink_to(tmp_path)
    for path in ("../secret", "/../secret", "link", "dirlink/secret", str(tmp_path / "secret")):
        result = TOOLBOX.run("grep", ["secret", path], workspace=workspace)
        assert result.exit_code == 2, path
        assert b"host secret" not in result.stdout, path
    # Control: the same module with the parent pre-opened reads the very file.
    wider = TOOLBOX.run("grep", ["secret", "ws/../secret"], workspace=tmp_path)
    assert (wider.exit_code, wider.stdout) == (0, b"ws/../secret:1:host secret\n")


def test_a_planted_fifo_or_directory_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    (tmp_path / "plain").write_bytes(b"x y\n")
    result = TOOLBOX.run("wc", ["pipe", "dir", "plain"], workspace=tmp_path)
    assert result.exit_code == 2  # refused at once: opening the FIFO would wait for a writer
    assert result.stderr == b"wc: pipe: not a regular file\nwc: dir: not a regular file\n"
    assert result.stdout == b"1 2 4 plain\n1 2 4 total\n"  # control: the regular file


def test_a_call_that_blocks_in_the_host_times_out_and_the_caller_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()

    def blocked(self: WasmTool, args: list[str] | None = None, *, stdin: bytes = b"") -> None:
        released.wait(10)  # what an open(2) of a FIFO without a writer does

    policy = SandboxPolicy.model_validate({"resources": {"wall_timeout_s": 0.2}})
    monkeypatch.setattr(WasmTool, "run", blocked)
    result = WasiToolbox(policy).run("wc", ["x"], workspace=tmp_path)
    released.set()
    assert result.timed_out and result.exit_code is None
    assert [(v.layer, v.kind) for v in result.violations] == [("wasmtime", "timeout")]


def test_tools_cannot_write_the_workspace(tmp_path: Path) -> None:
    writer = (
        '(module (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 '
        "i32 i32 i64 i64 i32 i32) (result i32)))\n"
        '(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))\n'
        '(memory (export "memory") 1) (data (i32.const 100) "new")\n'
        '(func (export "_start") (call $exit (call $open (i32.const 3) (i32.const 0) '
        "(i32.const 100) (i32.const 3) (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) "
        "(i32.const 16)))))"
    )  # path_open("new", O_CREAT, fd_write): exits with the WASI errno
    assert WasmTool(writer, workspace=tmp_path, writable=False).run().exit_code != 0
    assert not (tmp_path / "new").exists()
    assert WasmTool(writer, workspace=tmp_path, writable=True).run().exit_code == 0  # control
    assert (tmp_path / "new").exists()


def test_the_backend_runs_a_wasi_tool_use_with_its_events(tmp_path: Path) -> None:
    workspace = tmp_path / "ws" / "AGENT-07"
    workspace.mkdir(parents=True)
    (workspace / "notes.txt").write_bytes(b"alpha beta\n")
    policy = SandboxPolicy(wasm=WasmPolicy(fuel=500))
    backend = LiveBackend(cast(Any, None), policy, tmp_path, "offline")
    events: list[NewEvent] = []
    starved = backend.execute(3, "AGENT-07", "notes.txt", events, tool="wasm:wc")
    assert (starved.exit_code, starved.violations) == (None, 1)
    assert [e.type for e in events] == ["sandbox.executed", "sandbox.violation"]
    assert events[0].payload["argv"] == ["wasm:wc", "notes.txt"]
    assert events[0].payload["layers"] == ["wasmtime"]
    backend.toolbox = None
    backend.policy = SandboxPolicy()
    done = backend.execute(3, "AGENT-07", "notes.txt", events, tool="wasm:wc")
    assert (done.exit_code, done.output, done.violations) == (0, "1 2 11 notes.txt\n", 0)
    unsplittable = backend.execute(3, "AGENT-07", "'open", events, tool="wasm:wc")
    assert unsplittable.exit_code == 2 and "cannot split" in unsplittable.output
