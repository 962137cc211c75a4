"""Serving the dashboard with uvicorn: in the foreground, or beside a run in a thread."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from typing import Final

import uvicorn
from starlette.applications import Starlette

from sentinel.errors import InvalidInputError

DEFAULT_HOST: Final = "127.0.0.1"
"""Loopback by default: the dashboard shows the whole trail and takes operator actions."""
DEFAULT_PORT: Final = 8765
"""Ours: an unassigned port near other local dashboards' 8000-8888 range."""
MAX_PORT: Final = 65535
GRACEFUL_S: Final = 1
"""Open event streams never end by themselves: shutdown cuts them after a second."""
START_TIMEOUT_S: Final = 10.0


def new_token() -> str:
    """A fresh operator token: 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_S,
    )


def serve(app: Starlette, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve ``app`` until Ctrl-C."""
    uvicorn.Server(_config(app, host, port)).run()


class BackgroundServer:
    """The dashboard served from a daemon thread while the caller runs (``run --dashboard``).

    Args:
        app: The application.
        host: Address to bind.
        port: Port to bind (0: any free port; see :attr:`port` after :meth:`start`).
    """

    def __init__(self, app: Starlette, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.host = host
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
        )
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise InvalidInputError(f"cannot bind the dashboard to {host}:{port}: {exc}") from None
        self.port = int(self._socket.getsockname()[1])
        self._server = uvicorn.Server(_config(app, host, self.port))
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=[self._socket]), daemon=True
        )

    @property
    def url(self) -> str:
        """Where the dashboard is."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Start serving; return when the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise InvalidInputError(f"the dashboard did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving (open streams are cut)."""
        self._server.should_exit = True
        self._thread.join(timeout=GRACEFUL_S + 5)
        self._socket.close()
