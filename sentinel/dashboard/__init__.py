"""A live dashboard of a run: the office, the agents and the evidence, in a browser.

``sentinel-run dashboard --store RUN`` serves a finished or running run;
``sentinel-run run --dashboard`` serves the run it starts and takes operator actions.
The page is static HTML, CSS and JavaScript shipped in this package (no build step, nothing
loaded from another host); events reach it as server-sent events, and the browser
recomputes every event's chain link with WebCrypto SHA-256.
"""

from sentinel.dashboard.app import create_app
from sentinel.dashboard.feed import EventFeed
from sentinel.dashboard.operator import Operator
from sentinel.dashboard.server import BackgroundServer, new_token, serve

__all__ = ["BackgroundServer", "EventFeed", "Operator", "create_app", "new_token", "serve"]
