"""``sentinel-run run`` and ``sentinel-run replay``: the main job and its proof."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.markup import escape
from rich.table import Table

from sentinel.agents import RunOptions, RunSummary, replay, run
from sentinel.agents.sandbox_pool import DEFAULT_CAPACITY
from sentinel.audit.location import STORE_ENV, default_store, remove_store
from sentinel.cli.output import (
    INTERRUPTED_EXIT,
    JsonOption,
    console,
    error_console,
    print_json,
    reports_errors,
    tick_progress,
)
from sentinel.config import DEFAULT_COMPANY
from sentinel.errors import InvalidInputError

if TYPE_CHECKING:
    from sentinel.agents.replay import ReplayReport
    from sentinel.dashboard.bus_feed import BusFeed
    from sentinel.dashboard.live import LiveDashboard

FAILED_EXIT: Final = 1
"""An attack was not blocked, the chain did not verify, or a replay differed."""


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
    if summary.sandboxes:
        pool = summary.sandboxes
        table.add_row(
            "sandboxes",
            f"{pool['agents']} agents held one, {pool['built']} built, {pool['evicted']} "
            f"recycled, peak {pool['peak']} of {pool['capacity']}",
        )
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
    for plane, counts in summary.control.get("planes", {}).items():
        table.add_row(
            f"control: {plane}",
            f"{counts['decisions']:,} decisions, {counts['actions']} actions"
            f" ({counts['would_act']} monitored), verdicts {counts['successful']} ok /"
            f" {counts['failed']} failed / {counts['inconclusive']} inconclusive,"
            f" {counts['rollbacks']} rolled back",
        )
    fed = summary.control.get("bus")
    if fed:
        table.add_row(
            "control input",
            f"from the bus: {fed['received']:,} event samples, {fed['waited_s']:.3f} s in barriers",
        )
    judge = summary.control.get("judge")
    if judge:
        table.add_row(
            "judge",
            f"{judge['judgings']} judgings, {judge['verdicts']:,} verdicts ({judge['failed']}"
            f" failed, {judge['alerts']} alerts), {judge['wall_s']:.2f} s",
        )
    for entry in summary.control.get("quarantine", []):
        table.add_row(
            f"  {entry['change']}",
            f"{entry['agent_id']} at {entry['clock']} (tick {entry['tick']}): {entry['reason']}",
        )
    table.add_row("kernel probes", probe_line(summary.probes))
    table.add_row("workspaces", workspace_line(summary.workspaces))
    table.add_row("cost", f"${summary.cost_usd:.4f}")
    verified = {True: "yes", False: "[bold red]NO", None: "not checked"}[summary.chain_verified]
    table.add_row("chain verified", verified)
    table.add_row("state hash", summary.state_hash[:16])
    table.add_row("store", summary.store)
    for host in summary.hosts:
        state = f"[bold yellow]lost: {host['lost']}" if host["lost"] else "finished"
        table.add_row(
            f"  host {host['host']}",
            f"{host['store']} ({host['acknowledged']:,} events acknowledged), {state}",
        )
    table.add_row("wall time", f"{summary.wall_s:.1f} s")
    return table


@reports_errors
def run_command(
    agents: Annotated[
        int | None,
        typer.Option(
            "--agents",
            min=1,
            help="The first N personas; beyond the roster, new ones drawn from the seed.",
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
    sandboxes: Annotated[
        int,
        typer.Option("--sandboxes", min=1, help="The most warm sandboxes alive at once."),
    ] = DEFAULT_CAPACITY,
    control: Annotated[
        bool,
        typer.Option(
            "--control/--no-control",
            help="Run the control planes (the company's control.toml, else the default).",
        ),
    ] = True,
    days: Annotated[
        int,
        typer.Option(
            "--days", min=1, help="Days in a row, each followed by its nightrun (stores: .dayN)."
        ),
    ] = 1,
    bus: Annotated[
        str | None,
        typer.Option(
            "--bus", envvar="SENTINEL_BUS", help="Publish live on this Zenoh endpoint (tcp/...)."
        ),
    ] = None,
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard",
            help="Serve the live dashboard on loopback while the run runs (prints its URL and"
            " operator token; port $SENTINEL_DASHBOARD_PORT, default 8765; token"
            " $SENTINEL_DASHBOARD_TOKEN, default random).",
        ),
    ] = False,
    dashboard_from_bus: Annotated[
        bool,
        typer.Option(
            "--dashboard-from-bus",
            help="The dashboard reads the run's events from the bus (a Zenoh subscriber on"
            " sentinel/<run>/**) instead of the store file; needs --bus and --dashboard, and"
            " a bus that cannot open is then an error.",
        ),
    ] = False,
    control_feed: Annotated[
        str,
        typer.Option(
            "--control-feed",
            help="What the control planes observe: tick (the tick's own events, default),"
            " committed (the previous tick's committed batch: its events, and the people's"
            " state for the agent plane) or bus (that batch as received"
            " on the bus, behind a barrier; needs --bus; a batch that does not arrive whole"
            " stops the planes and the run). committed and bus decide alike.",
        ),
    ] = "tick",
    probes: Annotated[
        str,
        typer.Option("--probes", help="Kernel probes on the sandboxes: auto, on or off."),
    ] = "auto",
    hosts: Annotated[
        int,
        typer.Option(
            "--hosts",
            min=0,
            help="Worker hosts, each its own process in its own network namespace with its own"
            " sandboxes and audit chain (run.hostN.db); 0: this process alone. Needs root."
            " Control planes, probes, bus and dashboard run only without it.",
        ),
    ] = 0,
    workspace_fs: Annotated[
        str,
        typer.Option(
            "--workspace-fs",
            help="The agents' workspaces: ext4 (quota file systems) or cas (content-addressed"
            " mounts on one object store, <store>.cas, snapshotted every tick).",
        ),
    ] = "ext4",
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
        sandboxes=sandboxes,
        control=control,
        control_feed=control_feed,
        probes=probes,
        workspace_fs=workspace_fs,
    )
    _refuse_combinations(
        options, days=days, hosts=hosts, bus=bus, dashboard=dashboard,
        dashboard_from_bus=dashboard_from_bus,
    )  # fmt: skip
    if hosts:
        _run_hosts(options, hosts, overwrite=overwrite, as_json=as_json)
        return
    if days > 1:
        _run_days(options, days, overwrite=overwrite, as_json=as_json, bus=bus)
        return
    if overwrite:
        remove_store(options.store)
    feed = _bus_feed() if dashboard_from_bus else None
    live = _start_dashboard(options.store, config, feed) if dashboard else None
    with tick_progress(disable=as_json) as progress:
        task = progress.add_task(f"{shift} shift", total=0)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        # Only named when given: callers (and tests) that replace run() keep their signature.
        hooks: dict[str, Any] = {}
        if bus:
            hooks["bus"] = bus
        if live is not None:
            hooks["on_tick"] = live.operator.on_tick
        if feed is not None:
            hooks["on_bus"] = feed.attach
        try:
            summary = run(options, progress=advance, **hooks)
        finally:
            if live is not None:
                live.stop()
    _report(summary, as_json=as_json)


def _refuse_combinations(
    options: RunOptions,
    *,
    days: int,
    hosts: int,
    bus: str | None,
    dashboard: bool,
    dashboard_from_bus: bool,
) -> None:
    """Refuse options that do not go together, before anything runs.

    Raises:
        InvalidInputError: Which options, and what to do instead.
    """
    if days > 1 and dashboard:
        raise InvalidInputError(
            "--dashboard follows one store; run --days without it (or one day with it)"
        )
    if dashboard_from_bus and not (dashboard and bus):
        raise InvalidInputError("--dashboard-from-bus needs --dashboard and --bus ENDPOINT")
    if options.control_feed == "bus" and not bus:
        raise InvalidInputError("--control-feed bus needs --bus ENDPOINT")
    if hosts:
        if options.control_feed != "tick":
            raise InvalidInputError("--hosts runs no control planes: drop --control-feed")
        if days > 1 or dashboard or bus:
            raise InvalidInputError("--hosts runs one day, without --dashboard and --bus")
        if options.workspace_fs != "ext4":
            raise InvalidInputError(
                "--hosts runs on ext4 workspaces: the CAS object store is one host's"
                " (--workspace-fs cas works without --hosts)"
            )


def _run_hosts(options: RunOptions, hosts: int, *, overwrite: bool, as_json: bool) -> None:
    """``--hosts N``: the coordinator here, N worker hosts in their own namespaces."""
    from sentinel.hosts.run import run_hosts, run_stores  # noqa: PLC0415 - only for --hosts

    if overwrite:
        for path in run_stores(options.store, hosts):
            remove_store(path)
    with console.status(f"running on {hosts} hosts", spinner="dots") if not as_json else _nothing():
        summary = run_hosts(options, hosts)
    _report(summary, as_json=as_json)


def _report(summary: RunSummary, *, as_json: bool) -> None:
    """Print the run's summary and its misses; exit 1 when not ok, 130 when interrupted."""
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


def _run_days(
    options: RunOptions, days: int, *, overwrite: bool, as_json: bool, bus: str | None
) -> None:
    """``--days N``: N runs, each followed by its nightrun; the next day remembers."""
    from sentinel.nightrun.days import day_store, run_days  # noqa: PLC0415 - only for --days

    if overwrite:
        for day in range(1, days + 1):
            remove_store(day_store(options.store, day))
    with console.status("running days", spinner="dots") if not as_json else _nothing():
        results = run_days(options, days, bus=bus)
    if as_json:
        print_json([result.to_dict() for result in results])
    else:
        for result in results:
            console.print(_summary_table(result.summary))
            console.print(
                f"day {result.day}: {result.recalled} agents remembered the day before; "
                f"nightrun kept {result.nightrun.memories} memories "
                f"(digest {result.nightrun.memory_digest[:16]})",
                highlight=False,
            )
    summaries = [result.summary for result in results]
    if not all(summary.ok for summary in summaries):
        raise typer.Exit(FAILED_EXIT)
    if any(summary.interrupted for summary in summaries):
        raise typer.Exit(INTERRUPTED_EXIT)


def _bus_feed() -> BusFeed:
    """The bus-fed dashboard's event source, attached when the run's bus opens."""
    from sentinel.dashboard.bus_feed import BusFeed  # noqa: PLC0415 - zenoh only when asked

    return BusFeed()


def _start_dashboard(store: Path, config: Path, feed: BusFeed | None) -> LiveDashboard:
    """Serve the dashboard of the run about to start (loopback), with operator actions."""
    from sentinel.cli.dashboard import PORT_ENV, TOKEN_ENV, port_from  # noqa: PLC0415 - uvicorn only when asked
    from sentinel.dashboard.live import start_live  # noqa: PLC0415

    port = port_from(os.environ.get(PORT_ENV))
    live = start_live(store, config, port=port, token=os.environ.get(TOKEN_ENV), feed=feed)
    error_console.print(f"dashboard: {live.url}  operator token: {live.token}", highlight=False)
    return live


def workspace_line(workspaces: dict[str, Any]) -> str:
    """The summary's workspace row: the file system, and on CAS the dedup it achieved."""
    if workspaces.get("fs") != "cas":
        return str(workspaces.get("fs", "ext4"))
    return (
        f"cas: dedup ratio {workspaces['dedup_ratio']:.2f}x ({workspaces['logical_bytes']:,}"
        f" bytes written, {workspaces['stored_bytes']:,} stored), "
        f"{workspaces['snapshots']:,} snapshots of {workspaces['agents']} agents; "
        f"objects in {workspaces['objects']}"
    )


def probe_line(probes: dict[str, Any]) -> str:
    """The summary's kernel-probe row: what the kernel saw, or why the probes were off."""
    if not probes.get("enabled"):
        return f"off: {probes.get('reason', 'not started')}"
    return (
        f"{probes['execs']:,} programs run, {probes['write_opens']:,} files opened to write "
        f"({probes['write_bytes']:,} bytes written), {probes['connects']:,} connects, "
        f"{probes['refusals']:,} refused syscalls; {probes['lost']:,} records lost"
    )


def workspace_replay_line(report: ReplayReport) -> str:
    """The replay's workspace row: how many recorded snapshots rebuilt to their roots."""
    bad = len(report.workspace_differences)
    if not bad:
        return f"{report.workspace_snapshots:,} rebuilt, every root equal"
    return f"[bold red]{bad:,} of {report.workspace_snapshots:,} not restorable"


def control_replay_line(report: ReplayReport) -> str:
    """The replay's control row: how many recorded plane decisions replayed to the same."""
    bad = len(report.control_differences)
    if not bad:
        return f"{report.control_decisions:,} replayed, every decision equal"
    return f"[bold red]{bad:,} of {report.control_decisions:,} differ"


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

    Exit status 1 if the replay differs from the record: the final state hash, a control
    plane's decision or a workspace snapshot that no longer rebuilds.
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
        if report.control_decisions or report.control_differences:
            table.add_row("control decisions", control_replay_line(report))
        if report.workspace_snapshots:
            table.add_row("workspace snapshots", workspace_replay_line(report))
        table.add_row("equal", "yes" if report.equal else "[bold red]NO")
        console.print(table)
        for line in report.control_differences:
            console.print(f"[bold red]control:[/] {escape(line)}")
        for line in report.workspace_differences:
            console.print(f"[bold red]workspace:[/] {escape(line)}")
    if not report.equal:
        raise typer.Exit(FAILED_EXIT)


class _nothing:  # noqa: N801 - used like a function, as contextlib.nullcontext
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
