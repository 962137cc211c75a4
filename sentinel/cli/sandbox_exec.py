"""``sentinel-run sandbox exec``: the command itself, and a parser that skips Typer.

A one-shot sandboxed command should cost little more than bubblewrap alone, so the CLI's
entry point hands ``sandbox exec`` to :func:`fast_main` before Typer (and the pydantic
adapters it builds for every parameter) is imported. :func:`parse` accepts exactly the
forms it is sure of, and answers None for anything else (``--help``, ``--opt=value``, a
repeated or unknown option, a missing command), which then goes through Typer as before:
both paths run :func:`execute`, and a test pins them to the same parse.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sentinel.errors import SentinelError
from sentinel.frozen_record import FrozenRecord, record_dict
from sentinel.sandbox.launch_cache import compiled_launch
from sentinel.sandbox.runner import run_once

if TYPE_CHECKING:
    from sentinel.sandbox.launch_facts import LaunchFacts
    from sentinel.sandbox.policy import SandboxPolicy
    from sentinel.sandbox.policy_terms import PolicyView

DEFAULT_POLICY: Final = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
USER_ERROR_EXIT: Final = 2
"""Exit status when Sentinel refuses the input (as :mod:`sentinel.cli.output` says)."""
_VALUE_OPTIONS: Final = ("--policy", "--agent", "--workspace", "--timeout", "--store")
_FLAG_OPTIONS: Final = ("--degraded", "--json")


class ExecRequest(FrozenRecord):
    """The options of ``sandbox exec``, as Typer would pass them."""

    command: list[str]
    policy: Path | None = None
    agent: str = "cli"
    workspace: Path | None = None
    timeout: float | None = None
    store: Path | None = None
    degraded: bool = False
    as_json: bool = False


def load_policy(path: Path | None) -> SandboxPolicy:
    """The policy in ``path``, or the built-in agent policy."""
    from sentinel.sandbox.policy import SandboxPolicy  # noqa: PLC0415 - pydantic: not on exec

    if path is not None:
        return SandboxPolicy.from_toml(path)
    return SandboxPolicy.from_toml(DEFAULT_POLICY) if DEFAULT_POLICY.exists() else SandboxPolicy()


def launch_inputs(path: Path | None) -> tuple[PolicyView, LaunchFacts | None]:
    """:func:`load_policy`'s policy, compiled, with the host facts: from root's launch cache.

    See :mod:`sentinel.sandbox.launch_cache`: a fresh entry spares pydantic's import and the
    policy's validation; a stale or missing one is validated and written.
    """
    if path is None and not DEFAULT_POLICY.exists():
        return load_policy(None), None
    launch = compiled_launch(path if path is not None else DEFAULT_POLICY)
    return launch.policy, launch.facts


def default_workspace(agent_id: str) -> Path:
    """Workspaces live where the sandbox uid can reach them: /var/lib/sentinel for root."""
    if os.geteuid() == 0:
        root = Path("/var/lib/sentinel")
        root.mkdir(mode=0o711, exist_ok=True)
        (root / "workspaces").mkdir(mode=0o711, exist_ok=True)
        return root / "workspaces" / agent_id
    return Path.home() / ".local" / "share" / "sentinel" / "workspaces" / agent_id


def parse(argv: list[str]) -> ExecRequest | None:
    """The request in ``argv`` (the words after ``sandbox exec``), or None to let Typer parse."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    command: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            command += argv[index + 1 :]
            break
        if word in _VALUE_OPTIONS:
            if word in values or index + 1 >= len(argv):
                return None
            values[word] = argv[index + 1]
            index += 2
            continue
        if word in _FLAG_OPTIONS:
            flags.add(word)
        elif word.startswith("-"):
            return None
        else:
            command.append(word)
        index += 1
    if not command:
        return None
    timeout = None
    if "--timeout" in values:
        try:
            timeout = float(values["--timeout"])
        except ValueError:
            return None
    return ExecRequest(
        command=command,
        policy=Path(values["--policy"]) if "--policy" in values else None,
        agent=values.get("--agent", "cli"),
        workspace=Path(values["--workspace"]) if "--workspace" in values else None,
        timeout=timeout,
        store=Path(values["--store"]) if "--store" in values else None,
        degraded="--degraded" in flags,
        as_json="--json" in flags,
    )


def execute(request: ExecRequest) -> int:
    """Run the command in a fresh sandbox, print its output, return the exit status to use.

    Raises:
        SentinelError: The policy, the workspace or the sandbox failed (callers print it).
    """
    policy, facts = launch_inputs(request.policy)
    result = run_once(
        policy, request.command, capabilities=facts,
        workspace=request.workspace or default_workspace(request.agent), agent_id=request.agent,
        stdin=None if sys.stdin.isatty() else sys.stdin.buffer.read(), timeout=request.timeout,
        degraded=request.degraded,
    )  # fmt: skip
    if request.store is not None:
        from sentinel.audit import AuditStore  # noqa: PLC0415 - duckdb and pyarrow: only with --store
        from sentinel.sandbox.audit_events import record  # noqa: PLC0415

        with AuditStore(request.store) as opened:
            record(opened, request.agent, request.command, result)
    if request.as_json:
        import base64  # noqa: PLC0415 - only --json prints base64

        data = record_dict(result)
        # The output bytes travel as base64, and the field names say so.
        data["stdout_b64"] = base64.b64encode(data.pop("stdout")).decode()
        data["stderr_b64"] = base64.b64encode(data.pop("stderr")).decode()
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        sys.stdout.buffer.write(result.stdout)
        sys.stdout.flush()
        sys.stderr.buffer.write(result.stderr)
        if result.violations:
            from sentinel.cli.output import console  # noqa: PLC0415 - Rich only when needed

            for violation in result.violations:
                console.print(
                    f"[yellow]sentinel: {violation.layer} stopped {violation.kind}: "
                    f"{violation.detail}[/yellow]",
                    highlight=False,
                )
    return result.exit_code if result.exit_code is not None else 128 + (result.signal or 0)


def fast_main(argv: list[str]) -> int | None:
    """Run ``sandbox exec`` without Typer; None when ``argv`` is not a form :func:`parse` takes."""
    request = parse(argv)
    if request is None:
        return None
    try:
        return execute(request)
    except SentinelError as exc:
        from sentinel.cli.output import error_console  # noqa: PLC0415 - Rich only when needed

        error_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        return USER_ERROR_EXIT
