"""``sentinel-run dashboard``: the live dashboard of a finished or running run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cli.output import INTERRUPTED_EXIT, console, error_console, reports_errors
from sentinel.config import DEFAULT_COMPANY
from sentinel.dashboard.server import DEFAULT_HOST, DEFAULT_PORT, MAX_PORT, is_loopback
from sentinel.errors import InvalidInputError

if TYPE_CHECKING:
    from sentinel.dashboard.bus_feed import BusFeed

TOKEN_ENV: Final = "SENTINEL_DASHBOARD_TOKEN"  # noqa: S105 - the variable's name, not a token
"""The operator token of ``run --dashboard`` (otherwise a random one is printed)."""
BUS_WAIT_S: Final = 30.0
"""How long ``dashboard --bus`` waits for a run's first sample by default."""
PORT_ENV: Final = "SENTINEL_DASHBOARD_PORT"
"""The port of ``run --dashboard`` (default :data:`DEFAULT_PORT`)."""


def port_from(value: str | None) -> int:
    """The port ``$SENTINEL_DASHBOARD_PORT`` names (the default when unset).

    Raises:
        InvalidInputError: Not a port number.
    """
    if value is None or value == "":
        return DEFAULT_PORT
    if not value.isdigit() or int(value) > MAX_PORT:
        raise InvalidInputError(f"{PORT_ENV}={value!r} is not a port number (0-{MAX_PORT})")
    return int(value)


def warn_if_exposed(host: str) -> None:
    """Say so when the dashboard is bound to more than loopback."""
    if not is_loopback(host):
        error_console.print(
            f"[bold yellow]warning:[/bold yellow] the dashboard on {host} shows the whole audit "
            "trail to anyone who reaches it, and browsers verify the chain (WebCrypto) only on "
            "loopback or HTTPS",
            highlight=False,
        )


@reports_errors
def dashboard_command(
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar=STORE_ENV,
            help="The run's audit store (finished, or still being written).",
            dir_okay=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (default loopback only).")
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", min=0, max=MAX_PORT, help="Port (0: any free one).")
    ] = DEFAULT_PORT,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            help="The company to draw when the run's recorded one is gone.",
            file_okay=False,
        ),
    ] = DEFAULT_COMPANY,
    bus: Annotated[
        str | None,
        typer.Option(
            "--bus",
            help="Read a live run from its Zenoh endpoint (`run --bus ENDPOINT`) instead of a"
            " store file; events committed before the dashboard joined are fetched from the"
            " run. --store then only serves workspaces (same host).",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="With --bus: the run's id (its store's log id); default: the first run heard.",
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0.1, help="With --bus: seconds to wait for the run's first event."
        ),
    ] = BUS_WAIT_S,
) -> None:
    """Serve the dashboard of a run: floor plan, agents, audit timeline, gateway, time travel.

    Read-only: operator actions need the run's own dashboard (`run --dashboard`). With
    --bus, the events come from a run publishing in another process; when the bus cannot
    open or nothing is published there within --wait seconds, exit status 2.
    """
    from sentinel.dashboard import create_app, serve  # noqa: PLC0415 - uvicorn only here

    if run is not None and bus is None:
        raise InvalidInputError("--run names a run on the bus: give --bus ENDPOINT too")
    warn_if_exposed(host)
    shown = f"[{host}]" if ":" in host else host
    feed: BusFeed | None = None
    try:
        if bus is None:
            path = store or default_store()
            console.print(
                f"dashboard of {path} on http://{shown}:{port}/ (Ctrl-C to stop)", highlight=False
            )
            serve(create_app(path, config=config), host, port)
            return
        from sentinel.dashboard.bus_feed import BusFeed  # noqa: PLC0415 - zenoh only here

        feed = BusFeed()
        feed.follow(bus, run, wait=wait)
        # Without --store the workspace views have no store to read: they answer empty.
        path = store if store is not None else Path(f"<no store: run {feed.run} on the bus>")
        console.print(
            f"dashboard of run {feed.run} on {bus} at http://{shown}:{port}/ (Ctrl-C to stop)",
            highlight=False,
        )
        serve(create_app(path, config=config, feed=feed), host, port)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down
        raise typer.Exit(INTERRUPTED_EXIT) from None
    finally:
        if feed is not None:
            feed.close()
