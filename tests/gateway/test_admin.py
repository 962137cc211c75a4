"""The admin API: virtual keys and spend reports.

Admin calls go through httpx, the data plane through the real ``openai`` client. Keys are
stored hashed, revocation holds at once across two gateway processes on one ledger, a
key's own budget is enforced by the ledger, every admin call (refused ones too) is a
``gateway.admin`` event, and bad admin input is a clean 4xx in OpenAI's error shape.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore
from sentinel.cli import app
from sentinel.errors import ConfigError
from sentinel.gateway import BackgroundServer, Gateway
from sentinel.gateway.admin import AdminAuth
from sentinel.gateway.server import free_port
from sentinel.gateway.settings import AdminSettings, GatewaySettings
from sentinel.gateway.spend import SpendFilter, SpendIndex, spend_report
from tests.gateway.conftest import GENEROUS_LIMITS

ADMIN_KEY = "admin-key-for-tests-0123456789"


def admin_settings(**changes: Any) -> GatewaySettings:
    base: dict[str, Any] = {"rate_limits": GENEROUS_LIMITS, "admin": AdminSettings(key=ADMIN_KEY)}
    base.update(changes)
    return GatewaySettings(**base)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Gateway, BackgroundServer, AuditStore]]:
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(admin_settings(), audit=store, ledger_path=tmp_path / "ledger.db")
    with BackgroundServer(gw) as server:
        yield gw, server, store
    gw.close()
    store.close()


def admin(server: BackgroundServer, method: str, path: str, key: str | None = ADMIN_KEY,
          **kwargs: Any) -> httpx.Response:  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.request(method, f"http://{server.host}:{server.port}{path}", headers=headers,
                         timeout=10, **kwargs)  # fmt: skip


def client(server: BackgroundServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def ask(server: BackgroundServer, key: str, text: str = "Hello") -> Any:
    with client(server, key) as openai_client:
        return openai_client.chat.completions.create(
            model="offline", messages=[{"role": "user", "content": text}], max_tokens=16
        )


def admin_events(store: AuditStore) -> list[dict[str, Any]]:
    return [e.payload for e in store.read(type="gateway.admin")]


def test_key_lifecycle_through_the_openai_client(
    served: tuple[Gateway, BackgroundServer, AuditStore], tmp_path: Path
) -> None:
    gw, server, store = served
    made = admin(server, "POST", "/key/generate", json={"client_id": "ci-bot", "key_alias": "ci"})
    assert made.status_code == 200, made.text
    key, key_id = made.json()["key"], made.json()["key_id"]
    assert key.startswith("sk-sentinel-") and made.json()["owner"] == "ci-bot"

    answer = ask(server, key)
    assert answer.choices[0].message.content
    assert answer.model_extra is not None and answer.model_extra["sentinel"]["agent_id"] == "ci-bot"

    listed = admin(server, "GET", "/key/list").json()["data"]
    assert [k["key_id"] for k in listed] == [key_id] and listed[0]["revoked"] is None
    assert key not in admin(server, "GET", "/key/list").text  # the key is shown only once

    revoked = admin(server, "POST", "/key/delete", json={"key_ids": [key_id]})
    assert revoked.status_code == 200 and revoked.json()["data"][0]["revoked"] is not None
    with pytest.raises(openai.AuthenticationError) as refused:
        ask(server, key)
    assert refused.value.code == "key_revoked"
    models = httpx.get(server.base_url + "/models", headers={"Authorization": f"Bearer {key}"})
    assert models.status_code == 401

    gw.flush_audit()
    actions = [(e["action"], e["decision"]) for e in admin_events(store)]
    assert actions == [("key.create", "accepted"), ("key.list", "accepted"),
                       ("key.list", "accepted"), ("key.revoke", "accepted")]  # fmt: skip
    calls = [e.payload for e in store.read(type="gateway.model_call")]
    assert [c.get("key_id") for c in calls] == [key_id]
    refusals = [e.payload for e in store.read(type="gateway.decision")
                if e.payload["step"] == "authenticate" and e.payload["decision"] == "refused"]  # fmt: skip
    assert refusals and "key_revoked" in refusals[-1]["reason"]


def test_keys_are_stored_hashed_and_admin_key_never_recorded(
    served: tuple[Gateway, BackgroundServer, AuditStore], tmp_path: Path
) -> None:
    gw, server, _ = served
    keys = [admin(server, "POST", "/key/generate", json={"client_id": f"c{i}"}).json()["key"]
            for i in range(3)]  # fmt: skip
    ask(server, keys[0])
    gw.flush_audit()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for key in keys:
        assert key.encode() not in on_disk
    assert ADMIN_KEY.encode() not in on_disk


def test_admin_authentication(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(admin_settings(), audit=store, ledger_path=tmp_path / "l.db")
    with BackgroundServer(gw) as server:
        for key in (None, "-", "sentinel-dev", ADMIN_KEY[:-1], ADMIN_KEY + "x"):
            reply = admin(server, "GET", "/key/list", key=key)
            assert reply.status_code == 401
            assert reply.json()["error"]["code"] == "admin_unauthorized"
            assert reply.json()["error"]["type"] == "authentication_error"
        as_header = httpx.get(f"http://{server.host}:{server.port}/key/list",
                              headers={"x-api-key": ADMIN_KEY})  # fmt: skip
        assert as_header.status_code == 200
        # A data-plane key is no admin key, and the admin key is no data-plane key.
        with pytest.raises(openai.AuthenticationError):
            ask(server, ADMIN_KEY)
    gw.close()
    refused = [e for e in admin_events(store) if e["decision"] == "refused"]
    assert len(refused) == 5 and all(e["admin"] == "unknown" for e in refused)
    store.close()

    # No admin key configured: the admin API refuses everyone.
    gw = Gateway(GatewaySettings(admin=AdminSettings(key_env="SENTINEL_TEST_NO_SUCH_VAR")),
                 ledger_path=":memory:")  # fmt: skip
    with BackgroundServer(gw) as server:
        reply = admin(server, "GET", "/key/list", key="anything-at-all-here")
        assert reply.status_code == 401 and "no admin key" in reply.json()["error"]["message"]
    gw.close()


def test_admin_key_from_environment_and_length() -> None:
    settings = AdminSettings(key_env="MY_ADMIN")
    assert AdminAuth(settings, {"MY_ADMIN": ADMIN_KEY}).check(ADMIN_KEY)
    assert not AdminAuth(settings, {}).enabled
    with pytest.raises(ConfigError, match="at least 16"):
        AdminAuth(settings, {"MY_ADMIN": "short"})
    hashed = "sha256:" + hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    assert AdminAuth(AdminSettings(key=hashed)).check(ADMIN_KEY)


def test_bad_admin_input_is_a_clean_4xx(
    served: tuple[Gateway, BackgroundServer, AuditStore],
) -> None:
    _, server, _ = served
    cases: list[tuple[str, str, dict[str, Any], int, str | None]] = [
        ("POST", "/key/generate", {"content": b"{not json"}, 400, None),
        ("POST", "/key/generate", {"content": b"[" * 5000}, 400, None),
        ("POST", "/key/generate", {"json": {}}, 400, None),
        ("POST", "/key/generate", {"json": {"client_id": "a", "agent_id": "DEMO-01"}}, 400, None),
        ("POST", "/key/generate", {"json": {"client_id": "bad id!"}}, 400, "client_id"),
        ("POST", "/key/generate", {"json": {"agent_id": "NOBODY-99"}}, 400, "agent_id"),
        ("POST", "/key/generate", {"json": {"client_id": "a", "budget": {"tokens": -1}}}, 400,
         "budget.tokens"),
        ("POST", "/key/generate", {"json": {"client_id": "a", "extra": 1}}, 400, "extra"),
        ("POST", "/key/generate", {"content": b"x" * 20_000}, 413, None),  # as the data plane
        ("POST", "/key/generate", {"content": b'{"client_id": "\\ud800"}'}, 400, "client_id"),
        ("POST", "/key/delete", {"json": {"key_ids": ["vk-nope"]}}, 404, None),
        ("POST", "/key/delete", {"json": {"key_ids": []}}, 400, "key_ids"),
        ("GET", "/spend", {"params": {"since": "yesterday"}}, 400, "since"),
        ("GET", "/spend", {"params": {"colour": "red"}}, 400, "colour"),
        ("GET", "/key/generate", {}, 405, None),
    ]  # fmt: skip
    for method, path, kwargs, status, param in cases:
        reply = admin(server, method, path, **kwargs)
        assert reply.status_code == status, (path, kwargs, reply.text)
        error = reply.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
        if param is not None:
            assert error["param"] == param, error


def test_key_budget_is_enforced_by_the_ledger(
    served: tuple[Gateway, BackgroundServer, AuditStore],
) -> None:
    gw, server, _ = served
    body = {"client_id": "metered", "budget": {"period": "day", "requests": 3}}
    key = admin(server, "POST", "/key/generate", json=body).json()["key"]
    other = admin(server, "POST", "/key/generate", json={"client_id": "metered"}).json()["key"]
    for _ in range(3):
        ask(server, key)
    with pytest.raises(openai.APIStatusError) as refused:
        ask(server, key)
    assert refused.value.status_code == 402 and refused.value.code == "budget_exhausted"
    ask(server, other)  # the same client with another key still has its own budget
    assert gw.ledger.open_reservations() == 0

    tokens = {"client_id": "metered-t", "budget": {"period": "hour", "tokens": 200}}
    made = admin(server, "POST", "/key/generate", json=tokens).json()
    answered = 0
    for _ in range(20):
        try:
            ask(server, made["key"])
            answered += 1
        except openai.APIStatusError as exc:
            assert exc.status_code == 402
    assert 0 < answered < 20
    rows = admin(server, "GET", "/spend", params={"key_id": made["key_id"]}).json()["data"]
    spent = sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows)
    assert sum(r["requests"] for r in rows) == answered and 0 < spent <= 200


def test_spend_per_key_agent_model_and_day(
    served: tuple[Gateway, BackgroundServer, AuditStore],
) -> None:
    _, server, store = served
    first = admin(server, "POST", "/key/generate", json={"client_id": "team-a"}).json()
    second = admin(server, "POST", "/key/generate", json={"agent_id": "DEMO-02"}).json()
    for _ in range(2):
        ask(server, first["key"])
    ask(server, second["key"])
    ask(server, "sentinel-dev")
    reply = admin(server, "GET", "/spend")
    assert reply.status_code == 200
    rows = reply.json()["data"]
    today = datetime.now(tz=UTC).date().isoformat()
    by = {(r["key_id"], r["agent_id"], r["model"]): r for r in rows}
    assert by[(first["key_id"], "team-a", "offline")]["requests"] == 2
    assert by[(second["key_id"], "DEMO-02", "offline")]["requests"] == 1
    assert by[("", "DEMO-01", "offline")]["requests"] == 1
    assert {r["day"] for r in rows} == {today}
    assert all(r["prompt_tokens"] > 0 for r in rows)
    only = admin(server, "GET", "/spend", params={"agent_id": "team-a", "since": today}).json()
    assert [r["agent_id"] for r in only["data"]] == ["team-a"]
    assert admin(server, "GET", "/spend", params={"until": "2000-01-01"}).json()["data"] == []
    assert admin(server, "GET", "/spend", key=None).status_code == 401
    assert any(e["action"] == "spend.read" for e in admin_events(store))


def test_cli_key_create_list_revoke(
    served: tuple[Gateway, BackgroundServer, AuditStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server, _ = served
    url = f"http://{server.host}:{server.port}"
    monkeypatch.setenv("SENTINEL_GATEWAY_ADMIN_KEY", ADMIN_KEY)
    runner = CliRunner()
    made = runner.invoke(app, ["gateway", "key", "create", "--client", "cli-bot", "--requests",
                               "5", "--url", url, "--json"])  # fmt: skip
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert ask(server, created["key"]).choices
    table = runner.invoke(app, ["gateway", "key", "list", "--url", url])
    assert table.exit_code == 0 and "5 requests per day" in table.output
    listed = runner.invoke(app, ["gateway", "key", "list", "--url", url, "--json"])
    assert listed.exit_code == 0 and created["key_id"] in listed.output
    assert created["key"] not in listed.output
    revoked = runner.invoke(app, ["gateway", "key", "revoke", created["key_id"], "--url", url])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with pytest.raises(openai.AuthenticationError):
        ask(server, created["key"])
    wrong = runner.invoke(app, ["gateway", "key", "list", "--url", url, "--admin-key", "nope"])
    assert wrong.exit_code == 2 and "admin_unauthorized" in wrong.output
    gone = runner.invoke(
        app, ["gateway", "key", "list", "--url", f"http://127.0.0.1:{free_port()}"]
    )
    assert gone.exit_code == 2 and "cannot reach" in gone.output


def test_revocation_holds_across_two_gateway_processes(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    config = tmp_path / "gateway.toml"
    config.write_text('[admin]\nkey_env = "SENTINEL_TEST_ADMIN"\n')
    port = free_port()
    env = {**os.environ, "SENTINEL_TEST_ADMIN": ADMIN_KEY, "SENTINEL_DATA_DIR": str(tmp_path / "d")}
    env.pop("SENTINEL_STORE", None)
    exe = [sys.executable, "-c", "from sentinel.cli import main; main()"]
    other = subprocess.Popen([*exe, "gateway", "serve", "--port", str(port), "--ledger", str(ledger),
                              "--config", str(config), "--store", str(tmp_path / "other.db")],
                             cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)  # fmt: skip
    gw = Gateway(admin_settings(), ledger_path=ledger)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and other.poll() is None
                time.sleep(0.1)
        with BackgroundServer(gw) as server:
            made = admin(server, "POST", "/key/generate", json={"client_id": "shared"}).json()
            remote = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=made["key"],
                                   max_retries=0)  # fmt: skip
            assert remote.chat.completions.create(
                model="offline", messages=[{"role": "user", "content": "hi"}]).choices  # fmt: skip
            assert admin(
                server, "POST", "/key/delete", json={"key_ids": [made["key_id"]]}
            ).is_success
            with pytest.raises(openai.AuthenticationError) as refused:
                remote.chat.completions.create(
                    model="offline", messages=[{"role": "user", "content": "hi"}])  # fmt: skip
            assert refused.value.code == "key_revoked"
            remote.close()
            # The other process's admin API sees the same store.
            listed = httpx.get(f"http://127.0.0.1:{port}/key/list", timeout=10,
                               headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()  # fmt: skip
            assert listed["data"][0]["revoked"] is not None
    finally:
        gw.close()
        other.send_signal(signal.SIGINT)
        other.wait(timeout=15)
        assert other.stderr is not None
        other.stderr.close()


def test_the_spend_index_equals_a_full_scan_as_the_trail_grows(
    served: tuple[Gateway, BackgroundServer, AuditStore],
) -> None:
    gw, server, store = served
    index = SpendIndex(store)
    key = admin(server, "POST", "/key/generate", json={"client_id": "spender"}).json()["key"]
    filters = [SpendFilter(), SpendFilter(agent_id="DEMO-01"), SpendFilter(model="nobody"),
               SpendFilter(since=datetime.now(UTC).date())]  # fmt: skip
    for round_ in range(3):
        for n in range(round_ + 1):
            ask(server, key, f"Hello {round_} {n}")
        gw.flush_audit()
        for where in filters:
            full = spend_report(store.read(type="gateway.model_call"), where)
            assert index.report(where) == full
    assert sum(row.requests for row in index.report()) == 6
    served_rows = admin(server, "GET", "/spend").json()["data"]
    assert served_rows == [asdict(row) for row in index.report()]
