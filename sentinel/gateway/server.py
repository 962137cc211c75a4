"""Serving the HTTP API with uvicorn.

In the foreground (the CLI) or in a thread (tests, notebooks).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from sentinel.gateway.api import create_app
from sentinel.gateway.pipeline import Gateway

STARTUP_TIMEOUT_S = 10.0
GRACEFUL_SHUTDOWN_S = 5
"""Requests still running this long after stop() are cancelled."""


def serve(gateway: Gateway, *, host: str = "127.0.0.1", port: int = 8740) -> None:
    """Serve ``gateway`` until interrupted."""
    uvicorn.run(create_app(gateway), host=host, port=port, log_level="warning")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """Uvicorn serving a gateway from a thread; a context manager that stops it cleanly.

    Args:
        gateway: The gateway to serve.
        host: Address to bind (loopback by default).
        port: Port to bind (0: a free one).
    """

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            create_app(gateway),
            host=host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="gateway-http", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``, what an OpenAI client takes as ``base_url``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> BackgroundServer:
        """Start serving; returns once the socket accepts connections.

        Raises:
            RuntimeError: The server did not start within 10 s.
        """
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the gateway did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
