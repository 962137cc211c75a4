"""``sentinel-run probe status | tail``: can the kernel probes load here; what they recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.probes.status import ProbeStatus, probe_status
from sentinel.probes.tail import DEFAULT_TAIL, ProbeTail, tail_probe_events

app = typer.Typer(help="Kernel probes: whether they load here, what they recorded.")

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
