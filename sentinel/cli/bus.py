"""``sentinel-run bus tail KEYEXPR``: print a run's live samples as they arrive."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from sentinel.bus.subscriber import BusSubscriber
from sentinel.cli.output import console, reports_errors

app = typer.Typer(help="Watch a run live on the Zenoh bus.", no_args_is_help=True)


@app.command()
@reports_errors
def tail(
    key_expr: Annotated[str, typer.Argument(help="Zenoh key expression, e.g. 'sentinel/**'.")],
    connect: Annotated[
        str, typer.Option("--connect", help="The run's bus endpoint (sentinel-run run --bus).")
    ] = "tcp/127.0.0.1:7447",
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after N samples.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Print each sample under KEYEXPR as one JSON line: key, then the document."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    with BusSubscriber(key_expr, connect=[connect]) as subscriber:
        while count is None or seen < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            sample = subscriber.get(timeout=0.2 if left is None else min(0.2, left))
            if sample is None:
                continue
            seen += 1
            line = json.dumps({"key": sample.key, **sample.document}, separators=(",", ":"))
            console.print(line, highlight=False, markup=False, soft_wrap=True)
