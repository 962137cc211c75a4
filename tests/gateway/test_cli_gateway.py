"""``sentinel-run gateway ...``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore, verify_store
from sentinel.cli import app
from sentinel.gateway.server import free_port
from tests.gateway.conftest import fingerprint

runner = CliRunner()


def test_ask_json() -> None:
    result = runner.invoke(app, ["gateway", "ask", "Create hello.py and run it", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["sentinel"]["decision"] == "forwarded"
    assert [a["target"] for a in body["sentinel"]["actions"]] == ["fs", "python"]


def test_ask_synthesized_table() -> None:
    result = runner.invoke(app, ["gateway", "ask", "tick", "--fingerprint", fingerprint(B=9)])
    assert result.exit_code == 0, result.output
    assert "bladder_urgent" in result.output


def test_check_and_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gateway", "check"])
    assert result.exit_code == 0 and "focused_alone" in result.output
    bad = tmp_path / "g.toml"
    bad.write_text("[breaker]\nopen_s = 0\n")
    result = runner.invoke(app, ["gateway", "check", "--config", str(bad)])
    assert result.exit_code == 2 and "breaker.open_s" in result.output
    result = runner.invoke(app, ["gateway", "ask", "x", "--agent", "NOBODY"])
    assert result.exit_code == 2 and "unknown agent" in result.output


@pytest.mark.parametrize("explicit_store", [True, False])
def test_serve_answers_until_stopped_and_audits(tmp_path: Path, explicit_store: bool) -> None:
    # This interpreter's sentinel, not whichever sentinel-run comes first on PATH.
    exe = [sys.executable, "-c", "from sentinel.cli import main; main()"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SENTINEL_STORE"}
    env["SENTINEL_DATA_DIR"] = str(tmp_path / "data")
    store = tmp_path / "audit.db" if explicit_store else tmp_path / "data/audit.db"
    args = ["--store", str(store)] if explicit_store else []
    server = subprocess.Popen([*exe, "gateway", "serve", "--port", str(port), "--ledger", str(tmp_path / "l.db"),
                               *args], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    ids = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        for _ in range(5):
            # The first answer waits for the detector's training (~4 s of CPU; far more on a
            # loaded machine): a behaviour test, so the timeout only guards against a hang.
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=60,
                               headers={"Authorization": "Bearer sentinel-dev"},
                               json={"model": "offline", "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
            assert reply.status_code == 200 and reply.json()["sentinel"]["agent_id"] == "DEMO-01"
            ids.append(reply.json()["id"])
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn drains, the queued events commit
        assert server.wait(timeout=15) == 0
        assert server.stderr is not None
        server.stderr.close()
    assert verify_store(store).ok
    with AuditStore(store) as audit:
        recorded = {e.correlation_id for e in audit.read(type="gateway.model_call")}
    assert recorded == set(ids)
