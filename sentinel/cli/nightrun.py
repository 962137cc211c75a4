"""``sentinel-run nightrun``: consolidate a run's day into memories; ``--replay`` proves it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer
from rich.table import Table

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cli.output import JsonOption, console, print_json, reports_errors

FAILED_EXIT: Final = 1
"""The replayed memory digest or a step hash differed from the recorded one."""


@reports_errors
def nightrun_command(
    store: Annotated[
        Path | None,
        typer.Option("--store", envvar=STORE_ENV, help="The store of a run.", dir_okay=False),
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Re-execute the last nightrun and compare.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Consolidate the day since the last nightrun into each agent's memories.

    Resumes a nightrun that crashed. With --replay, re-executes the last one and compares
    its memory digest and step chain.

    Exit status 1 if a replay differs.
    """
    from sentinel.nightrun import replay_nightrun, run_nightrun  # noqa: PLC0415

    path = store or default_store()
    if replay:
        result = replay_nightrun(path)
        data = result.to_dict()
        ok = result.equal
    else:
        report = run_nightrun(path)
        data = report.to_dict()
        ok = True
    if as_json:
        print_json(data)
    else:
        title = "sentinel-run nightrun" + (" --replay" if replay else "")
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("what")
        table.add_column("value")
        for key, value in data.items():
            shown = "[bold red]NO" if key == "equal" and not value else str(value)
            table.add_row(key.replace("_", " "), shown)
        console.print(table)
    if not ok:
        raise typer.Exit(FAILED_EXIT)
