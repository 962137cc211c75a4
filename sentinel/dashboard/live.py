"""The dashboard beside a run in this process (``sentinel-run run --dashboard``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinel.dashboard.app import create_app
from sentinel.dashboard.operator import Operator
from sentinel.dashboard.server import DEFAULT_HOST, DEFAULT_PORT, BackgroundServer, new_token

if TYPE_CHECKING:
    from sentinel.dashboard.feed import EventSource


@dataclass
class LiveDashboard:
    """A served dashboard with operator control of the run that calls ``operator.on_tick``.

    Attributes:
        operator: Pass ``operator.on_tick`` to :func:`sentinel.agents.run` as ``on_tick``.
        server: The background server.
        token: The operator token (shown to the user once; never recorded).
    """

    operator: Operator
    server: BackgroundServer
    token: str

    @property
    def url(self) -> str:
        """Where the dashboard is served."""
        return self.server.url

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


def start_live(
    store: Path,
    config: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    feed: EventSource | None = None,
) -> LiveDashboard:
    """Serve the dashboard of the run that will write ``store``, with operator actions.

    ``feed`` replaces the store file as the source of events (the bus-fed dashboard passes
    a :class:`~sentinel.dashboard.bus_feed.BusFeed`, attached when the run's bus opens).

    Raises:
        InvalidInputError: The address cannot be bound or the token is too short.
    """
    token = token or new_token()
    operator = Operator(token)
    server = BackgroundServer(
        create_app(store, operator=operator, config=config, feed=feed), host, port
    )
    server.start()
    return LiveDashboard(operator, server, token)
