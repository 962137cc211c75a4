"""``sentinel-run sandbox ...``: run a command in a sandbox; show what the sandbox enforces."""

from __future__ import annotations

import base64
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentinel.audit import AuditStore
from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.sandbox.audit_events import record
from sentinel.sandbox.disk_quota import mounts_below
from sentinel.sandbox.disk_quota import release as release_mounts
from sentinel.sandbox.enforcer import EnforcementReport, Enforcer
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once

app = typer.Typer(
    help="Run commands in sandboxes and check what they enforce.", no_args_is_help=True
)

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="A policy TOML file (default: the built-in agent policy)."),
]
ModeOption = Annotated[
    bool, typer.Option("--degraded", help="Run with the layers this host has instead of refusing.")
]


def load_policy(path: Path | None) -> SandboxPolicy:
    """The policy in ``path``, or the built-in agent policy."""
    if path is not None:
        return SandboxPolicy.from_toml(path)
    return SandboxPolicy.from_toml(DEFAULT_POLICY) if DEFAULT_POLICY.exists() else SandboxPolicy()


def default_workspace(agent_id: str) -> Path:
    """Workspaces live where the sandbox uid can reach them: /var/lib/sentinel for root."""
    if os.geteuid() == 0:
        root = Path("/var/lib/sentinel")
        root.mkdir(mode=0o711, exist_ok=True)
        (root / "workspaces").mkdir(mode=0o711, exist_ok=True)
        return root / "workspaces" / agent_id
    return Path.home() / ".local" / "share" / "sentinel" / "workspaces" / agent_id


def _report_table(report: EnforcementReport) -> Table:
    table = Table(
        title=f"sandbox status ({report.mode}): layers {', '.join(report.active_layers)}",
        title_justify="left",
    )
    table.add_column("canary", style="bold")
    table.add_column("attempt")
    table.add_column("result")
    table.add_column("evidence", overflow="fold")
    for canary in report.canaries:
        verdict = "[bold red]ESCAPED[/bold red]" if canary.escaped else "[green]blocked[/green]"
        table.add_row(canary.name, canary.attempt, verdict, canary.evidence)
    for missing in report.missing_layers:
        table.add_row(
            missing.name,
            "layer required",
            "[bold red]missing[/bold red]",
            f"{missing.reason} (fix: {missing.fix})",
        )
    return table


@app.command()
@reports_errors
def status(
    policy: PolicyOption = None, degraded: ModeOption = False, as_json: JsonOption = False
) -> None:
    """Run canary escapes in a fresh sandbox; exit 1 if any escapes or a layer is missing."""
    report = Enforcer(load_policy(policy), mode="degraded" if degraded else "strict").check()
    if as_json:
        print_json(
            {
                **asdict(report),
                "ok": report.ok,
                "missing_layers": [m.model_dump() for m in report.missing_layers],
            }
        )
    else:
        console.print(_report_table(report))
        console.print(
            "[green]all canaries blocked[/green]"
            if report.ok
            else "[bold red]the sandbox does not hold[/bold red]"
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("exec")
@reports_errors
def exec_command(
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
    policy: PolicyOption = None,
    agent: Annotated[str, typer.Option("--agent", help="The agent the command runs for.")] = "cli",
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="The agent's workspace.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds (default: the policy's).")
    ] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Record the run in this audit store.")
    ] = None,
    degraded: ModeOption = False,
    as_json: JsonOption = False,
) -> None:
    """Run one command in a fresh sandbox; exit with its status (128+N when killed by N).

    As root the workspace is its own file system (the disk quota), mounted on first use and
    left mounted with the workspace; "sentinel-run sandbox release" unmounts it.
    """
    loaded = load_policy(policy)
    result = run_once(
        loaded, command, workspace=workspace or default_workspace(agent), agent_id=agent,
        stdin=None if sys.stdin.isatty() else sys.stdin.buffer.read(), timeout=timeout,
        degraded=degraded,
    )  # fmt: skip
    if store is not None:
        with AuditStore(store) as opened:
            record(opened, agent, command, result)
    if as_json:
        data = asdict(result)
        # The output bytes travel as base64, and the field names say so.
        data["stdout_b64"] = base64.b64encode(data.pop("stdout")).decode()
        data["stderr_b64"] = base64.b64encode(data.pop("stderr")).decode()
        print_json(data)
    else:
        sys.stdout.buffer.write(result.stdout)
        sys.stdout.flush()
        sys.stderr.buffer.write(result.stderr)
        for violation in result.violations:
            console.print(
                f"[yellow]sentinel: {violation.layer} stopped {violation.kind}: "
                f"{violation.detail}[/yellow]",
                highlight=False,
            )
    raise typer.Exit(
        result.exit_code if result.exit_code is not None else 128 + (result.signal or 0)
    )


@app.command()
@reports_errors
def release(
    agent: Annotated[str, typer.Option("--agent", help="The agent whose workspace to release.")],
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="The workspace (default: the agent's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Unmount an agent's workspace file system (its files stay in the image for next time)."""
    target = workspace or default_workspace(agent)
    mounted = [str(point) for point in mounts_below(target)]
    release_mounts(target)
    if as_json:
        print_json({"workspace": str(target), "unmounted": mounted})
    else:
        console.print(f"unmounted {len(mounted)} file system(s) under {target}")
