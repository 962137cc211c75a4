"""Shared output helpers of the CLI: one console, JSON printing, the --json option."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Final, ParamSpec, TypeVar

import typer
from rich.console import Console

from sentinel.errors import SentinelError

if TYPE_CHECKING:
    from rich.progress import Progress

INTERRUPTED_EXIT: Final = 130
"""Stopped by Ctrl-C (128 + SIGINT, the shell's convention) after a clean shutdown."""

console = Console()
"""Where tables and messages go (stdout)."""
error_console = Console(stderr=True)
"""Where errors go."""

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def tick_progress(*, disable: bool = False) -> Progress:
    """A transient progress bar of a run's ticks (description, bar, ticks done, time)."""
    from rich.progress import (  # noqa: PLC0415 - only commands that run ticks pay for it
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} ticks"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=disable,
    )


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


USER_ERROR_EXIT = 2
"""Exit status when Sentinel refuses the input (bad store, key, proof, query)."""

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`SentinelError` into a one-line message (JSON under ``--json``), exit 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SentinelError as exc:
            if kwargs.get("as_json"):
                # --json promises JSON on stdout, errors included.
                print_json({"ok": False, "error": str(exc), "kind": type(exc).__name__})
            else:
                error_console.print(
                    f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True
                )
            raise typer.Exit(USER_ERROR_EXIT) from None

    return wrapper
