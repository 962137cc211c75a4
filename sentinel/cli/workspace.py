"""``sentinel-run workspace snapshots | restore | verify | stats``: CAS workspaces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cas.checkout import checkout, store_size
from sentinel.cas.history import list_snapshots
from sentinel.cas.restorable import check_restorable
from sentinel.cas.run_workspaces import objects_beside
from sentinel.cli.output import JsonOption, console, print_json, reports_errors

app = typer.Typer(help="Content-addressed workspaces: recorded snapshots, restores, the store.")

RunStoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        dir_okay=False,
        help="The run's audit store (default: $SENTINEL_STORE, else the data directory's).",
    ),
]
ObjectsOption = Annotated[
    Path,
    typer.Option("--objects", help="The run's CAS object store directory.", file_okay=False),
]


@app.command()
@reports_errors
def snapshots(
    store: RunStoreOption = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the workspace snapshots recorded in a run's audit store (read-only)."""
    found = list_snapshots(store or default_store(), agent_id=agent)
    if as_json:
        print_json([record.to_dict() for record in found])
        return
    if not found:
        console.print("no workspace snapshots: the run's workspaces were not on CAS")
        return
    table = Table(title="workspace snapshots", title_justify="left")
    for column in ("position", "agent", "reason", "tick", "root", "inodes", "dedup"):
        table.add_column(column)
    for record in found:
        ratio = record.logical_bytes / record.stored_bytes if record.stored_bytes else 1.0
        table.add_row(
            str(record.position),
            Text(record.agent_id),
            record.reason,
            "-" if record.tick is None else str(record.tick),
            record.root[:16],
            str(record.inodes),
            f"{ratio:.2f}x",
        )
    console.print(table)


@app.command()
@reports_errors
def restore(
    root: Annotated[str, typer.Argument(help="The snapshot's Merkle root (64 hex digits).")],
    destination: Annotated[Path, typer.Argument(help="A new directory to write it into.")],
    objects: ObjectsOption,
    as_json: JsonOption = False,
) -> None:
    """Write a recorded snapshot into a new directory (every object checked by its hash)."""
    written = checkout(objects, root, destination)
    if as_json:
        print_json({"root": root, "destination": str(destination), "entries": written})
        return
    console.print(Text(f"restored {root[:16]} into {destination}: {written} entries"))


@app.command()
@reports_errors
def verify(
    store: RunStoreOption = None,
    objects: Annotated[
        Path | None,
        typer.Option("--objects", file_okay=False, help="The object store (default: <store>.cas)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild every recorded snapshot from the object store; exit 1 if one cannot be.

    A replay of the run (sentinel-run replay) runs the same check.
    """
    path = store or default_store()
    report = check_restorable(path, objects or objects_beside(path))
    if as_json:
        print_json(report.to_dict())
    else:
        outcome = "every root rebuilt" if report.ok else f"{len(report.differences)} not"
        console.print(
            f"{report.snapshots:,} snapshots ({report.roots:,} roots, {report.objects:,} "
            f"objects read): {outcome}"
        )
        console.print(Text(f"object store: {report.objects_dir}"))
        for line in report.differences:
            console.print(f"[bold red]not restorable:[/] {escape(line)}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@reports_errors
def stats(objects: ObjectsOption, as_json: JsonOption = False) -> None:
    """How many objects a run's CAS store holds, and their bytes on disk."""
    size = store_size(objects)
    if as_json:
        print_json({"objects": size.objects, "bytes": size.bytes})
        return
    console.print(f"{size.objects:,} objects, {size.bytes:,} bytes")
