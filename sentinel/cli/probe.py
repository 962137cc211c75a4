"""``sentinel-run probe status | tail | overhead``: can the probes load, what did they see, cost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cli.output import JsonOption, console, print_json, reports_errors, tick_progress
from sentinel.config import DEFAULT_COMPANY
from sentinel.probes.status import ProbeStatus, probe_status
from sentinel.probes.tail import DEFAULT_TAIL, ProbeTail, tail_probe_events

if TYPE_CHECKING:
    from sentinel.agents.probe_overhead import ProbeOverhead

app = typer.Typer(help="Kernel probes: whether they load here, what they recorded, their cost.")

UNAVAILABLE_EXIT: Final = 1
"""``probe status``: the probes cannot load on this host."""


def _yes_no(value: bool) -> str:
    return "[green]yes[/green]" if value else "[bold red]no[/bold red]"


def _status_table(status: ProbeStatus) -> Table:
    table = Table(title="sentinel-run probe status", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("kernel", status.kernel)
    table.add_row("BTF (/sys/kernel/btf/vmlinux)", _yes_no(status.btf))
    table.add_row("root (CAP_BPF, CAP_PERFMON)", _yes_no(status.root))
    table.add_row("native module with the probe", _yes_no(status.native))
    if status.available:
        table.add_row("load and attach", f"[green]ok[/green]: {', '.join(status.programs)}")
    else:
        table.add_row("load and attach", Text(status.reason, style="bold red"))
        if status.fix:
            table.add_row("fix", Text(status.fix))
    return table


@app.command()
@reports_errors
def status(as_json: JsonOption = False) -> None:
    """Load and attach the kernel probes once, detach them, and say whether it worked and why not.

    Exit status 1 when the probes cannot load on this host.
    """
    found = probe_status()
    if as_json:
        print_json(found.to_dict())
    else:
        console.print(_status_table(found))
        verdict = "available" if found.available else "[bold red]unavailable[/bold red]"
        console.print(f"kernel probes: {verdict}")
    if not found.available:
        raise typer.Exit(UNAVAILABLE_EXIT)


def printable(text: object) -> str:
    """``text`` with every unprintable character escaped (records hold agent-chosen bytes)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )


def _exit(detail: dict[str, Any]) -> str:
    comm = printable(detail.get("comm"))
    if "signal" in detail:
        core = " (core dumped)" if detail.get("core_dumped") else ""
        return f"{comm}: {printable(detail['signal'])}{core}"
    return f"{comm}: exit {detail.get('exit_code')}"


def _open_write(detail: dict[str, Any]) -> str:
    path = "(path not readable)" if detail.get("path") is None else detail["path"]
    return f"{printable(path)} [{','.join(map(printable, detail.get('flags', [])))}]"


def _connect(detail: dict[str, Any]) -> str:
    if "port" in detail:
        return f"{printable(detail.get('address'))} port {detail['port']}"
    if "path" in detail:
        return f"unix {printable(detail['path'])}"
    return f"family {printable(detail.get('family'))}"


DESCRIBERS: Final[dict[str, Callable[[dict[str, Any]], str]]] = {
    "exec": lambda detail: printable(detail.get("path")),
    "exit": _exit,
    "open_write": _open_write,
    "connect": _connect,
    "refused": lambda detail: (
        f"{printable(detail.get('syscall'))}: {printable(detail.get('errno'))}"
    ),
}
"""One line per kind of detail (``ProbeRecord.detail`` in :mod:`sentinel.probes.records`)."""


def describe(detail: dict[str, Any]) -> str:
    """One detail in a few words: the path, the exit, the address or the refused call."""
    describer = DESCRIBERS.get(str(detail.get("kind")))
    if describer is not None:
        return describer(detail)
    return printable({k: v for k, v in detail.items() if k not in ("position", "wall_ns")})


NUMBERS: Final = ("position", "tick", "pid")
"""The tail's columns that hold numbers (right-aligned)."""


def _tail_table(tail: ProbeTail) -> Table:
    table = Table(title=f"probe tail: {tail.store}", title_justify="left")
    for name in ("position", "time (UTC)", "tick", "agent", "pid", "kind"):
        table.add_column(name, no_wrap=True, justify="right" if name in NUMBERS else "left")
    table.add_column("what", overflow="fold")
    for detail in tail.details:
        when = dt.datetime.fromtimestamp(detail["wall_ns"] / 1e9, tz=dt.UTC)
        tick = detail.get("tick")
        table.add_row(
            str(detail["position"]),
            when.strftime("%H:%M:%S.%f")[:-3],
            "-" if tick is None else str(tick),
            Text(printable(detail["agent_id"])),
            str(detail.get("pid", "")),
            Text(printable(detail.get("kind"))),
            Text(describe(detail)),  # Text: agent-chosen strings are never read as markup
        )
    return table


@app.command()
@reports_errors
def tail(
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar=STORE_ENV,
            help="The run's audit store (default: $SENTINEL_STORE, else the data directory's).",
            dir_okay=False,
        ),
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Only this agent's processes.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="How many details, the newest.")
    ] = DEFAULT_TAIL,
    as_json: JsonOption = False,
) -> None:
    """List what the kernel probes recorded in a run's store, newest last (read-only).

    Programs run, files opened for writing, connections tried, refused system calls, exits.
    """
    found = tail_probe_events(store or default_store(), agent_id=agent, limit=limit)
    if as_json:
        print_json(found.to_dict())
        return
    if not found.details:
        if found.agents and agent is not None:
            known = ", ".join(printable(name) for name in found.agents)
            console.print(
                Text(f"no probe events of agent {printable(agent)}; agents with some: {known}")
            )
        elif found.summaries:
            console.print("the kernel probes ran but saw no activity in the agents' sandboxes")
        else:
            console.print(
                "no probe events in this store: the run had no kernel probes "
                "(see `sentinel-run probe status`; run with --probes on)"
            )
        return
    console.print(_tail_table(found))
    shown = len(found.details)
    note = f"{shown} of {found.matched} recorded details"
    if found.omitted:
        note += f"; {found.omitted:,} more were counted but not recorded (per-event cap)"
    console.print(note)


CPU_LABELS: Final = {
    "main_cpu_s": "CPU of the loop's thread",
    "process_cpu_s": "CPU of the process",
    "children_cpu_s": "CPU of reaped children",
}
"""``probe overhead``'s rows of where the CPU went (:data:`sentinel.probes.overhead.CPU_FIELDS`)."""


def _overhead_table(measured: ProbeOverhead) -> Table:
    """The crossover's runs, the blocks compared and the estimate."""
    from sentinel.probes.overhead import GOAL  # noqa: PLC0415 - numpy only for this command

    found = measured.estimate
    table = Table(title="sentinel-run probe overhead", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    job = f"{measured.hours:g} simulated hours, blocks of {measured.block_ticks} ticks"
    table.add_row("job", job)
    for timed in measured.runs:
        table.add_row(f"  run starting probes {timed.first}", f"{timed.wall_s:.1f} s")
    table.add_row("blocks compared", f"{len(found.pairs)} (each once attached, once detached)")
    table.add_row(
        "time attached / detached", f"{found.on_seconds:.2f} s / {found.off_seconds:.2f} s"
    )
    table.add_row("wall time ratio", f"{found.ratio:.3f}")
    table.add_row("95 % interval", f"{found.low:.3f} - {found.high:.3f}")
    table.add_row("median of block ratios", f"{found.median_paired:.3f}")
    cpu = measured.cpu
    for name, label in CPU_LABELS.items():
        on, off = cpu[name]["on"], cpu[name]["off"]
        table.add_row(f"{label}, attached / detached", f"{on:.2f} s / {off:.2f} s")
    colour = {"met": "green", "missed": "bold red", "undecided": "yellow"}[found.verdict]
    table.add_row(f"goal (at most {GOAL:.2f})", f"[{colour}]{found.verdict}[/{colour}]")
    return table


@app.command()
@reports_errors
def overhead(
    hours: Annotated[
        float, typer.Option("--hours", help="Simulated hours of each run (the main job: 8).")
    ] = 8.0,
    block_minutes: Annotated[
        float,
        typer.Option("--block-minutes", min=0.1, help="Simulated minutes per block."),
    ] = 5.0,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, help="Pairs of runs (each pair: both orders).")
    ] = 1,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the seed.")] = None,
    compromised: Annotated[
        float, typer.Option("--compromised", help="Share of red-team agents, 0-1.")
    ] = 0.0,
    config: Annotated[
        Path, typer.Option("--config", help="The company directory.", file_okay=False)
    ] = DEFAULT_COMPANY,
    as_json: JsonOption = False,
) -> None:
    """What the kernel probes cost the main job here: its wall time with them over without.

    Runs the job (after an untimed warm-up) twice per round with the same seed, the probes'
    programs switched on and off every block, one run starting with them off, the other on:
    every block is timed once with them and once without, on the same work. Prints the ratio
    of the attached time over the detached, with a bootstrap 95 % interval. Needs root and a
    kernel that can load the probes (see `probe status`); each run takes what `run` takes.
    """
    from sentinel.agents.options import RunOptions  # noqa: PLC0415 - the main job is heavy
    from sentinel.agents.probe_overhead import measure_probe_overhead  # noqa: PLC0415
    from sentinel.config import load_company  # noqa: PLC0415

    options = RunOptions(config=config, hours=hours, seed=seed, compromised=compromised)
    company = load_company(config)
    block_ticks = max(1, round(block_minutes * 60 / company.simulation.time_scale))
    with tick_progress(disable=as_json) as progress:
        task = progress.add_task("starting", total=0)
        measured = measure_probe_overhead(
            options,
            block_ticks=block_ticks,
            rounds=rounds,
            on_run=lambda what: progress.update(task, description=what, completed=0),
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if as_json:
        print_json(measured.to_dict())
    else:
        console.print(_overhead_table(measured))
