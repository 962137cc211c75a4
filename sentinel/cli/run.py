"""``sentinel-run run`` and ``sentinel-run replay``: the main job and its proof."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sentinel.agents import RunOptions, RunSummary, replay, run
from sentinel.audit.location import STORE_ENV, default_store, remove_store
from sentinel.cli.output import JsonOption, console, error_console, print_json, reports_errors
from sentinel.config import DEFAULT_COMPANY

FAILED_EXIT: Final = 1
"""An attack was not blocked, the chain did not verify, or a replay differed."""
INTERRUPTED_EXIT: Final = 130
"""Stopped by Ctrl-C (128 + SIGINT, the shell's convention) after a clean shutdown."""


def _summary_table(summary: RunSummary) -> Table:
    table = Table(title="sentinel-run run", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    status = " (interrupted)" if summary.interrupted else ""
    table.add_row(
        "simulated time",
        f"{summary.start_clock}-{summary.end_clock}, {summary.simulated_hours} h{status}",
    )
    table.add_row("ticks", f"{summary.ticks:,}")
    table.add_row("agents", f"{summary.agents} (peak {summary.peak_on_duty} on duty)")
    table.add_row("events", f"{summary.events:,}")
    for key, count in summary.decisions.items():
        table.add_row(f"  {key}", f"{count:,}")
    table.add_row("tool calls", f"{summary.tool_calls:,} ({summary.tool_failures} failed)")
    table.add_row("WASI tool calls", f"{summary.wasi_tool_calls:,} (in Wasmtime)")
    if summary.work:
        work = summary.work
        table.add_row(
            "work",
            f"{work['tasks_done']} of {work['tasks']} tasks done ({work['tasks_failed']} failed),"
            f" {work['shapes_done']} kinds, {work['commits']} commits,"
            f" {work['tests_passed']} of {work['tests_run']} tests passed,"
            f" {work['files_changed']} files changed",
        )
    blocked = f"{summary.attacks_blocked} of {summary.attacks}"
    table.add_row("blocked attacks", blocked if not summary.unblocked else f"[bold red]{blocked}")
    table.add_row("violations", f"{summary.violations:,}")
    table.add_row("kernel probes", probe_line(summary.probes))
    table.add_row("cost", f"${summary.cost_usd:.4f}")
    verified = {True: "yes", False: "[bold red]NO", None: "not checked"}[summary.chain_verified]
    table.add_row("chain verified", verified)
    table.add_row("state hash", summary.state_hash[:16])
    table.add_row("store", summary.store)
    table.add_row("wall time", f"{summary.wall_s:.1f} s")
    return table


@reports_errors
def run_command(
    agents: Annotated[
        int | None,
        typer.Option(
            "--agents", min=1, help="Only the first N personas (more than the roster: refused)."
        ),
    ] = None,
    shift: Annotated[
        str, typer.Option("--shift", help="morning, evening, night or all.")
    ] = "morning",
    hours: Annotated[
        float | None, typer.Option("--hours", help="Simulated hours (default 8, all: 24).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the seed.")] = None,
    compromised: Annotated[
        float, typer.Option("--compromised", help="Share of red-team agents, 0-1.")
    ] = 0.0,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar=STORE_ENV,
            help="The audit store to create (default: $SENTINEL_STORE, else the data directory's).",
            dir_okay=False,
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the store if it exists.")
    ] = False,
    provider: Annotated[
        str, typer.Option("--provider", help="offline, or a model forwarded through litellm.")
    ] = "offline",
    config: Annotated[
        Path, typer.Option("--config", help="The company directory.", file_okay=False)
    ] = DEFAULT_COMPANY,
    probes: Annotated[
        str,
        typer.Option("--probes", help="Kernel probes on the sandboxes: auto, on or off."),
    ] = "auto",
    as_json: JsonOption = False,
) -> None:
    """Run the office: the roster's shift with gateway, sandboxes and audit trail.

    Exit status 1 if any red-team attack was not blocked, the store does not verify, or
    more than half of the decisions past synthesis were refused (provider failing); 130
    after Ctrl-C (the store is checkpointed and verified first).
    """
    options = RunOptions(
        config=config,
        agents=agents,
        shift=shift,  # type: ignore[arg-type]  # checked by RunOptions
        hours=hours,
        seed=seed,
        compromised=compromised,
        store=store or default_store(),
        provider=provider,
        probes=probes,
    )
    if overwrite:
        remove_store(options.store)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} ticks"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"{shift} shift", total=0)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = run(options, progress=advance)
    if as_json:
        print_json(summary.to_dict())
    else:
        console.print(_summary_table(summary))
    for miss in summary.unblocked:
        error_console.print(
            f"[bold red]ATTACK NOT BLOCKED:[/bold red] {miss['scenario']} by {miss['agent_id']} "
            f"at tick {miss['tick']}: {miss['result']}: {miss['evidence']}",
            highlight=False,
        )
    if not as_json:
        for problem in summary.problems:
            error_console.print(f"[bold red]not ok:[/bold red] {problem}", highlight=False)
    if not summary.ok:
        raise typer.Exit(FAILED_EXIT)
    if summary.interrupted:
        raise typer.Exit(INTERRUPTED_EXIT)


def probe_line(probes: dict[str, Any]) -> str:
    """The summary's kernel-probe row: what the kernel saw, or why the probes were off."""
    if not probes.get("enabled"):
        return f"off: {probes.get('reason', 'not started')}"
    return (
        f"{probes['execs']:,} programs run, {probes['write_opens']:,} files opened to write "
        f"({probes['write_bytes']:,} bytes written), {probes['connects']:,} connects, "
        f"{probes['refusals']:,} refused syscalls; {probes['lost']:,} records lost"
    )


@reports_errors
def replay_command(
    store: Annotated[
        Path | None,
        typer.Option(
            "--store", envvar=STORE_ENV, help="The store of a finished run.", dir_okay=False
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="The company directory (default: the recorded one).", file_okay=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-execute a run from its recorded inputs and answers; prove the state hash equal.

    Exit status 1 if the replayed final state hash differs from the recorded one.
    """
    with console.status("replaying", spinner="dots") if not as_json else _nothing():
        report = replay(store or default_store(), config=config)
    if as_json:
        print_json(report.to_dict())
    else:
        table = Table(title="sentinel-run replay", title_justify="left", show_header=False)
        table.add_column("what")
        table.add_column("value")
        table.add_row("store", report.store)
        table.add_row("ticks", f"{report.ticks:,}")
        table.add_row(
            "answers / tool results / attacks",
            f"{report.decisions:,} / {report.tool_results:,} / {report.attacks:,}",
        )
        table.add_row("recorded state hash", report.recorded_hash)
        table.add_row("replayed state hash", report.replayed_hash)
        table.add_row("equal", "yes" if report.equal else "[bold red]NO")
        console.print(table)
    if not report.equal:
        raise typer.Exit(FAILED_EXIT)


class _nothing:  # noqa: N801 - used like a function, as contextlib.nullcontext
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
