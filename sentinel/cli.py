"""``sentinel-run``: the command line, a thin layer over the public library.

Every command calls one public function (which a notebook can call too), prints a Rich
table for people, and prints the same result as JSON with ``--json`` for machines.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import sentinel
from sentinel import _native
from sentinel.sandbox import HostCapabilities, Verdict, detect

app = typer.Typer(
    name="sentinel-run",
    help="Runtime governance for LLM agents: sandboxes, audit trail, gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

_VERDICT_STYLE = {
    Verdict.AVAILABLE: "green",
    Verdict.DEGRADED: "yellow",
    Verdict.UNAVAILABLE: "bold red",
}


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sentinel-run {sentinel.__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Runtime governance for LLM agents: sandboxes, audit trail, gateway."""


@app.command()
def version(as_json: JsonOption = False) -> None:
    """Show the package version and how the native core was built."""
    native = _native.build_info()
    if as_json:
        _print_json({"sentinel": sentinel.__version__, "native": native})
        return
    table = Table(title="sentinel", show_header=False)
    table.add_row("version", sentinel.__version__)
    for key, value in native.items():
        table.add_row(f"native {key}", ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)


def _doctor_table(caps: HostCapabilities) -> Table:
    host = caps.host
    table = Table(
        title=f"sentinel doctor: {host.os or 'Linux'}, kernel {host.kernel} {host.machine}, "
        f"euid {host.euid}",
        title_justify="left",
    )
    table.add_column("layer", style="bold", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("found")
    with_reasons = any(report.reason or report.fix for report in caps.layers)
    if with_reasons:
        table.add_column("reason / fix", overflow="fold")
    previous_kind = None
    for report in caps.layers:
        if previous_kind is not None and report.kind != previous_kind:
            table.add_section()
        previous_kind = report.kind
        style = _VERDICT_STYLE[report.verdict]
        name = (
            report.name if report.kind == "layer" else f"{report.name} [dim]({report.kind})[/dim]"
        )
        cells = [name, f"[{style}]{report.verdict.value}[/{style}]", report.summary]
        if with_reasons:
            cells.append(
                report.reason + (f"\n[cyan]fix:[/cyan] {report.fix}" if report.fix else "")
            )
        table.add_row(*cells)
    return table


def _doctor_summary(caps: HostCapabilities) -> str:
    layers = [report for report in caps.layers if report.kind == "layer"]
    counts = {verdict: sum(r.verdict is verdict for r in layers) for verdict in Verdict}
    return (
        f"{counts[Verdict.AVAILABLE]}/{len(layers)} sandbox layers available, "
        f"{counts[Verdict.DEGRADED]} degraded, {counts[Verdict.UNAVAILABLE]} unavailable"
    )


@app.command()
def doctor(
    as_json: JsonOption = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit with status 1 when any sandbox layer is unavailable."),
    ] = False,
) -> None:
    """Detect what this host can enforce, layer by layer, by trying each feature for real."""
    caps = detect()
    if as_json:
        _print_json(caps.model_dump(mode="json"))
    else:
        console.print(_doctor_table(caps))
        console.print(_doctor_summary(caps))
    missing = caps.unavailable_layers()
    if strict and missing:
        if not as_json:
            names = ", ".join(report.name for report in missing)
            console.print(f"[bold red]--strict: unavailable sandbox layers: {names}[/bold red]")
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the ``sentinel-run`` script."""
    app()
