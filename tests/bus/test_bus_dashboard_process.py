"""``sentinel-run dashboard --bus``: a dashboard in its own process follows a run in another."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sentinel.dashboard.feed import EventFeed
from tests.bus.loopback import free_endpoint, wait_until

CONFIG = Path(__file__).resolve().parents[2] / "config"
SENTINEL_RUN = str(Path(sys.executable).with_name("sentinel-run"))
EVERYTHING = 1_000_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _served(base: str) -> list[dict[str, Any]]:
    """Every event the dashboard serves, page by page."""
    rows: list[dict[str, Any]] = []
    while True:
        page = _get(f"{base}api/events?after={rows[-1]['position'] if rows else -1}")
        if not page:
            return rows
        rows.extend(page)


def _stop(process: subprocess.Popen[str]) -> str:
    """Stop a process we started (its group) and return what it wrote on stderr."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    _, err = process.communicate(timeout=30)
    return err or ""


def test_a_dashboard_process_serves_a_live_run_of_another_process(tmp_path: Path) -> None:
    endpoint, port = free_endpoint(), _free_port()
    store = tmp_path / "run.db"
    run = subprocess.Popen(
        [SENTINEL_RUN, "run", "--bus", endpoint, "--store", str(store), "--agents", "12",
         "--hours", "0.5", "--seed", "7", "--config", str(CONFIG), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    dashboard: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: EventFeed(store).head() >= 20 or run.poll() is not None, seconds=300)
        assert run.poll() is None, "the run ended before the dashboard could join"
        # The dashboard joins a run that has committed events already: it hears the run from
        # its next sample on and fetches what came before from the run's history.
        dashboard = subprocess.Popen(
            [SENTINEL_RUN, "dashboard", "--bus", endpoint, "--port", str(port), "--wait", "120",
             "--config", str(CONFIG)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert json.loads(out)["chain_verified"]
        stored = EventFeed(store).read(-1, EVERYTHING)
        base = f"http://127.0.0.1:{port}/"
        alive = dashboard

        def caught_up() -> bool:
            assert alive.poll() is None, alive.communicate()[1]
            try:
                return bool(_get(f"{base}api/info")["head"] == stored[-1]["position"])
            except urllib.error.URLError:
                return False  # not serving yet

        wait_until(caught_up, seconds=30)
        served = _served(base)
        # Every committed event, in position order, with the evidence as the store holds it,
        # including the ones committed before the dashboard started.
        assert served == stored
        assert served[0]["type"] == "runtime.started"
    finally:
        _stop(run)
        errors = _stop(dashboard) if dashboard is not None else ""
    assert "Traceback" not in errors, errors


def test_nothing_published_is_a_clear_error() -> None:
    endpoint = free_endpoint()
    started = time.monotonic()
    result = subprocess.run(
        [SENTINEL_RUN, "dashboard", "--bus", endpoint, "--port", str(_free_port()), "--wait", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"nothing was published on {endpoint} within 1 s" in result.stderr
    assert time.monotonic() - started < 30


def test_an_endpoint_that_cannot_open_is_a_clear_error() -> None:
    result = subprocess.run(
        [SENTINEL_RUN, "dashboard", "--bus", "nonsense/endpoint", "--wait", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot open a bus session" in result.stderr


AS_IN_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " os.execv(sys.argv[1], sys.argv[1:])"
)
"""Run a command with Ctrl-C at its default, as a terminal's foreground job has it: a
suite started in the background (a CI script's ``&``, ``nohup``) passes SIGINT on ignored,
and a process that inherits it ignored rightly keeps ignoring it."""


def _subscribed(pid: int) -> bool:
    names = []
    for task in Path(f"/proc/{pid}/task").glob("*/comm"):
        with contextlib.suppress(OSError):
            names.append(task.read_text().strip())
    return "net-0" in names and names.count("sentinel-run") >= 2


def test_ctrl_c_while_waiting_for_a_run_ends_the_dashboard_at_once() -> None:
    # Zenoh delivers samples on a thread the interpreter joins at exit: a subscription left
    # open by Ctrl-C kept the process alive for good, with --wait long past.
    dashboard = subprocess.Popen(
        [sys.executable, "-c", AS_IN_A_TERMINAL, SENTINEL_RUN, "dashboard", "--bus",
         free_endpoint(), "--port", str(_free_port()), "--wait", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        # Subscribed: Zenoh's runtime threads run, and the thread it delivers samples on.
        wait_until(lambda: _subscribed(dashboard.pid) or dashboard.poll() is not None, 120)
        assert dashboard.poll() is None
        time.sleep(0.5)  # from the subscription to the wait for the first sample
        dashboard.send_signal(signal.SIGINT)
        _, err = dashboard.communicate(timeout=60)
    finally:
        errors = _stop(dashboard)
    assert dashboard.returncode == 130, err + errors
    assert "Traceback" not in err + errors
