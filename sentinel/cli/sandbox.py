"""``sentinel-run sandbox ...``: run a command in a sandbox; show what the sandbox enforces."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sentinel.cli import sandbox_gc
from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.cli.sandbox_exec import (
    ExecRequest,
    default_workspace,
    execute,
    load_policy,
)
from sentinel.sandbox.disk_quota import mounts_below
from sentinel.sandbox.disk_quota import release as release_mounts

if TYPE_CHECKING:
    from rich.table import Table

    from sentinel.sandbox.enforcer import EnforcementReport

# The audit store (and its analytics: duckdb, pyarrow), the enforcer and Rich tables are
# imported by the commands that use them: ``sandbox exec`` starts in tens of milliseconds.

app = typer.Typer(
    help="Run commands in sandboxes and check what they enforce.", no_args_is_help=True
)

PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="A policy TOML file (default: the built-in agent policy)."),
]
ModeOption = Annotated[
    bool, typer.Option("--degraded", help="Run with the layers this host has instead of refusing.")
]


def _report_table(report: EnforcementReport) -> Table:
    from rich.table import Table  # noqa: PLC0415 - see the imports

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
    from sentinel.sandbox.enforcer import Enforcer  # noqa: PLC0415 - see the imports

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

    As root the workspace is its own file system (the disk quota), mounted for the command
    and unmounted when it ends, SIGTERM included (its files stay in the image next to the
    workspace); after a SIGKILL, "sentinel-run sandbox gc" removes what is left.
    """
    request = ExecRequest(
        command=command, policy=policy, agent=agent, workspace=workspace, timeout=timeout,
        store=store, degraded=degraded, as_json=as_json,
    )  # fmt: skip
    raise typer.Exit(execute(request))


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


app.command("gc")(sandbox_gc.gc)
