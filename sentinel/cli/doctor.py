"""``sentinel-run doctor``: what this host can enforce, as a table or JSON."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sentinel.cli.output import JsonOption, console, print_json
from sentinel.sandbox import HostCapabilities, Verdict
from sentinel.sandbox.agent_uid import AGENT_UID_BASE, AGENT_UID_COUNT
from sentinel.sandbox.capabilities.cache import detect_and_cache

detect = detect_and_cache
"""What ``doctor`` runs: a fresh detection that also refreshes root's per-boot cache (tests
substitute a simulated host's detection, which then never reaches the cache)."""

_VERDICT_STYLE = {
    Verdict.AVAILABLE: "green",
    Verdict.DEGRADED: "yellow",
    Verdict.UNAVAILABLE: "bold red",
}


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
    uids = (
        f"; agents run as uids {AGENT_UID_BASE}-{AGENT_UID_BASE + AGENT_UID_COUNT - 1}, "
        "one per sandbox"
        if caps.host.euid == 0
        else f"; agents run as uid {caps.host.euid} (the launcher's: per-user limits are shared)"
    )
    return (
        f"{counts[Verdict.AVAILABLE]}/{len(layers)} sandbox layers available, "
        f"{counts[Verdict.DEGRADED]} degraded, {counts[Verdict.UNAVAILABLE]} unavailable{uids}"
    )


def doctor(
    as_json: JsonOption = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit with status 1 when any sandbox layer is unavailable."),
    ] = False,
) -> None:
    """Detect what this host can enforce, layer by layer, by trying each feature for real.

    As root, the answer also refreshes the per-boot cache that sandbox launches read.
    """
    caps = detect()
    if as_json:
        print_json(caps.model_dump(mode="json"))
    else:
        console.print(_doctor_table(caps))
        console.print(_doctor_summary(caps))
    missing = caps.unavailable_layers()
    if strict and missing:
        if not as_json:
            names = ", ".join(report.name for report in missing)
            console.print(f"[bold red]--strict: unavailable sandbox layers: {names}[/bold red]")
        raise typer.Exit(code=1)
