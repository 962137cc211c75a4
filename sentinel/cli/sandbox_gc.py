"""``sentinel-run sandbox gc``: remove what crashed Sentinel processes left on the host."""

from __future__ import annotations

import typer

from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.sandbox.leftovers import collect


@reports_errors
def gc(as_json: JsonOption = False) -> None:
    """Remove leftover mounts, loop devices, cgroups, namespaces and run directories.

    Only what no live process holds: leases of dead processes, empty sentinel-*
    cgroups, unused sentinel-* network namespaces, unmounted loop devices of workspace
    images. Exits 1 if something could not be removed.
    """
    report = collect()
    if as_json:
        print_json(report.as_dict())
    else:
        for line in report.removed:
            console.print(f"removed {line}", highlight=False)
        for line in report.kept:
            console.print(f"[dim]kept {line}[/dim]", highlight=False)
        for line in report.errors:
            console.print(f"[bold red]failed[/bold red] {line}", highlight=False)
        console.print(f"{len(report.removed)} removed, {len(report.kept)} in use")
    if report.errors:
        raise typer.Exit(1)
