"""``sandbox exec`` without Typer: the fast parser takes only what Typer takes the same way,
and the entry point starts without Typer, Rich, pydantic adapters or the heavy libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.cli import sandbox as sandbox_cli
from sentinel.cli.sandbox_exec import ExecRequest, parse

TOKENS = [
    "--policy", "p.toml", "--agent", "a-1", "--workspace", "/w", "--timeout", "1.5", "oops",
    "--store", "s.db", "--degraded", "--json", "--", "sh", "-c", "true", "--help",
    "--timeout=3", "-x", "",
]  # fmt: skip


def _typer_parse(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> ExecRequest | None:
    seen: list[ExecRequest] = []

    def capture(request: ExecRequest) -> int:
        seen.append(request)
        return 0

    monkeypatch.setattr(sandbox_cli, "execute", capture)
    result = CliRunner().invoke(app, ["sandbox", "exec", *argv])
    return seen[0] if seen and result.exit_code == 0 else None


@pytest.mark.parametrize(
    "argv",
    [
        ["--", "/bin/true"],
        ["/bin/true"],
        ["--json", "--agent", "x", "--", "sh", "-c", "exit 3"],
        ["--timeout", "2", "--degraded", "--workspace", "/tmp/w", "--", "ls", "--json"],
        ["--store", "a.db", "echo", "--", "--agent"],
    ],
)
def test_the_forms_it_takes_parse_as_typer_parses_them(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = parse(argv)
    assert fast is not None
    assert fast == _typer_parse(argv, monkeypatch)


@pytest.mark.parametrize(
    "argv",
    [[], ["--help"], ["--timeout=3", "--", "true"], ["--agent", "a", "--agent", "b", "true"],
     ["--timeout", "soon", "true"], ["--agent"], ["ls", "-l"], ["--", ]],
)  # fmt: skip
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9))
def test_fast_and_typer_agree(argv: list[str]) -> None:
    fast = parse(argv)
    if fast is None:
        return  # Typer parses it (or refuses it) as before
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert fast == _typer_parse(argv, monkeypatch)


def test_the_fast_path_imports_no_heavy_library() -> None:
    probe = (
        "import sys; from sentinel.cli import sandbox_exec; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'typer', 'rich', 'litellm', 'duckdb', 'pyarrow', 'pandas', 'numpy', 'starlette', "
        "'wasmtime', 'openai', 'httpx'})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
    detectors = "import sys; import sentinel.cli.sandbox_exec; print('sentinel.sandbox.capabilities.detection' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", detectors], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )


def test_the_fast_path_loads_no_module_that_forks_or_that_it_does_not_use() -> None:
    # ctypes.util.find_library runs `ldconfig -p` (a fork and exec per CLI start); platform,
    # uuid and the allow-list's network module (nftables, veths) are not needed here.
    probe = "import sys; import sentinel.cli.sandbox_exec; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "sentinel.sandbox.launch" in loaded  # control: the launch path is loaded
    unused = {"ctypes.util", "platform", "uuid", "sentinel.sandbox.network"}
    assert loaded & unused == set()


def test_the_fast_path_creates_no_dataclass() -> None:
    # @dataclass compiles generated methods per class and imports inspect (ast, dis,
    # tokenize): 30-38 ms of a one-shot start; the path's records are FrozenRecords.
    probe = (
        "import sys; import sentinel.cli.sandbox_exec; "
        "print(' '.join(sorted({'dataclasses', 'inspect', 'base64'} & set(sys.modules))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
    control = "import sys; import sentinel.sandbox.policy; print('dataclasses' in sys.modules)"
    assert (  # control: the probe sees dataclasses when something on a path does import it
        subprocess.run(
            [sys.executable, "-c", control], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "True"
    )


@pytest.mark.parametrize("ending", ["exit_now(3)", "os._exit(3)"])
def test_exit_now_runs_the_exit_handlers_flushes_and_keeps_the_status(
    ending: str, tmp_path: Path
) -> None:
    marker = tmp_path / "handler-ran"
    program = (
        "import atexit, os, pathlib, sys; from sentinel.cli import exit_now; "
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes'); "
        f"sys.stdout.write('buffered out'); sys.stderr.write('buffered err'); {ending}"
    )
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-c", program], check=False, capture_output=True, text=True, env=env
    )
    assert done.returncode == 3
    if ending == "os._exit(3)":  # control: a bare os._exit loses both
        assert (done.stdout, marker.exists()) == ("", False)
        return
    assert done.stdout == "buffered out"
    assert done.stderr == "buffered err"
    assert marker.read_text() == "yes"


@pytest.mark.parametrize("command", ["sandbox", "doctor", "gaia"])
def test_the_typer_app_imports_only_what_its_command_needs(command: str) -> None:
    probe = (
        "import sys; from sentinel.cli.application import app; "
        "from sentinel.cli.lazy_group import load_command; "
        f"load_command({command!r}); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'litellm', 'duckdb', "
        "'pyarrow', 'pandas', 'numpy', 'starlette', 'wasmtime', 'openai'})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
