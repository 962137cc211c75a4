"""``sentinel-run``: the command line, a thin layer over the public library.

Every command calls public functions (which a notebook can call too), prints Rich tables
for people, and prints the same result as JSON with ``--json`` for machines. Errors from
:mod:`sentinel.errors` end a command with their message and exit status 2.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

import sentinel
from sentinel import _native
from sentinel.cli import audit, breakout, doctor, gaia, gateway, run, sandbox, world
from sentinel.cli.output import JsonOption, console, print_json
from sentinel.sandbox.leftovers import exit_on_signals

app = typer.Typer(
    name="sentinel-run",
    help="Runtime governance for LLM agents: sandboxes, audit trail, gateway, office world.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command()(doctor.doctor)
app.add_typer(audit.app, name="audit")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(gateway.app, name="gateway")
app.add_typer(gaia.app, name="gaia")
app.add_typer(world.app, name="world")
app.command("breakout")(breakout.breakout_command)
app.command("run")(run.run_command)
app.command("replay")(run.replay_command)


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
        print_json({"sentinel": sentinel.__version__, "native": native})
        return
    table = Table(title="sentinel", show_header=False)
    table.add_row("version", sentinel.__version__)
    for key, value in native.items():
        table.add_row(f"native {key}", ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)


def main() -> None:
    """Entry point of the ``sentinel-run`` script (SIGTERM and SIGHUP end it through cleanup)."""
    with exit_on_signals():
        app()
