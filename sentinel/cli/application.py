"""The ``sentinel-run`` Typer application (see :mod:`sentinel.cli` for the entry point).

Every command calls public functions (which a notebook can call too), prints Rich tables
for people, and prints the same result as JSON with ``--json`` for machines. Errors from
:mod:`sentinel.errors` end a command with their message and exit status 2. A command's
module is imported only when it runs (see :mod:`sentinel.cli.lazy_group`).
"""

from __future__ import annotations

from typing import Annotated

import typer

import sentinel
from sentinel import _native
from sentinel.cli.lazy_group import LazyGroup
from sentinel.cli.output import JsonOption, console, print_json

app = typer.Typer(
    name="sentinel-run",
    help="Runtime governance for LLM agents: sandboxes, audit trail, gateway, office world.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    cls=LazyGroup,
)


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
    from rich.table import Table  # noqa: PLC0415 - only this command draws a table

    native = _native.build_info()
    if as_json:
        print_json({"sentinel": sentinel.__version__, "native": native})
        return
    table = Table(title="sentinel", show_header=False)
    table.add_row("version", sentinel.__version__)
    for key, value in native.items():
        table.add_row(f"native {key}", ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)
