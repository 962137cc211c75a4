"""``sentinel-run gateway ...``: serve the OpenAI-compatible API, ask once, check settings, keys."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentinel.audit import AuditStore
from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.errors import ConfigError
from sentinel.gateway.admin_client import AdminClient
from sentinel.gateway.audit_sink import AuditAck, default_store_path, open_default_store
from sentinel.gateway.pipeline import Gateway
from sentinel.gateway.server import serve as serve_gateway
from sentinel.gateway.settings import DEFAULT_SETTINGS_PATH, GatewaySettings, load_settings
from sentinel.gateway.spend import spend_report

app = typer.Typer(
    help="The model gateway: serve it, ask it, check its settings.", no_args_is_help=True
)

SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="SENTINEL_GATEWAY_CONFIG",
        help="Gateway settings TOML (default: config/gateway.toml if present, else built-in).",
    ),
]
StoreOption = Annotated[
    Path | None,
    typer.Option("--store", envvar="SENTINEL_STORE", help="Record decisions in this audit store."),
]
ServeStoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="SENTINEL_STORE",
        help="Audit store to record every request in (default: sentinel/audit.db in the "
        "per-user data directory, $XDG_DATA_HOME or ~/.local/share).",
    ),
]
AckOption = Annotated[
    str,
    typer.Option(
        "--audit-ack",
        help="queued: answer once a request's events are queued for the next group commit "
        "(a crash may lose the last ones); durable: answer once they are committed.",
    ),
]
LedgerOption = Annotated[
    str | None, typer.Option("--ledger", help="Budget ledger file (overrides the settings).")
]


def _settings(path: Path | None) -> GatewaySettings:
    if path is None and DEFAULT_SETTINGS_PATH.exists():
        path = DEFAULT_SETTINGS_PATH
    return load_settings(path)


@app.command()
@reports_errors
def serve(
    config: SettingsOption = None,
    store: ServeStoreOption = None,
    ledger: LedgerOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8740,
    audit_ack: AckOption = "queued",
) -> None:
    """Serve /v1/chat/completions, /v1/models, /health and /metrics; audit every request."""
    if audit_ack not in ("queued", "durable"):
        raise ConfigError(f"--audit-ack must be queued or durable, not {audit_ack!r}")
    settings = _settings(config)
    audit = open_default_store(store)
    ack: AuditAck = "durable" if audit_ack == "durable" else "queued"
    try:
        gateway = Gateway(settings, audit=audit, audit_ack=ack, ledger_path=ledger)
    except BaseException:
        audit.close()
        raise
    console.print(
        f"gateway on http://{host}:{port}/v1 (models: {', '.join(gateway.models())}); "
        f"audit store {audit.path} ({audit_ack})"
    )
    try:
        serve_gateway(gateway, host=host, port=port)
    finally:
        gateway.close()  # commits the queued audit events first
        audit.close()


@app.command()
@reports_errors
def ask(
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    agent: Annotated[str, typer.Option(help="Agent id of the caller.")] = "DEMO-01",
    model: Annotated[str, typer.Option(help="Model name.")] = "offline",
    fingerprint: Annotated[str | None, typer.Option(help="The agent's state fingerprint.")] = None,
    config: SettingsOption = None,
    store: StoreOption = None,
    ledger: LedgerOption = ":memory:",
    as_json: JsonOption = False,
) -> None:
    """Send one request through the pipeline in-process and show the answer."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "sentinel": {"agent_id": agent, "fingerprint": fingerprint},
    }
    audit = AuditStore(store) if store is not None else None
    gateway = Gateway(_settings(config), audit=audit, ledger_path=ledger)
    try:
        answer = gateway.complete(body, agent_id=agent)
    finally:
        gateway.close()
        if audit is not None:
            audit.close()
    if as_json:
        print_json(answer.to_openai())
        return
    table = Table(title=f"{answer.request_id}: {answer.decision} by {answer.provider}")
    for column in ("action", "target", "content"):
        table.add_column(column, overflow="fold")
    for action in answer.actions:
        table.add_row(action.action_type, action.target or "", action.content)
    for rejection in answer.rejections:
        table.add_row("[red]rejected[/red]", rejection.reason, rejection.detail)
    console.print(table)
    console.print(
        f"tokens {answer.prompt_tokens} in / {answer.completion_tokens} out, "
        f"cost ${answer.cost_usd:.6f}" + (f", rule {answer.rule_id}" if answer.rule_id else "")
    )


@app.command()
@reports_errors
def check(config: SettingsOption = None, as_json: JsonOption = False) -> None:
    """Validate gateway settings and print the providers and synthesis rules."""
    settings = _settings(config)
    if as_json:
        print_json(json.loads(settings.model_dump_json()))
        return
    table = Table(title="providers")
    for column in ("name", "kind", "model", "deadline s"):
        table.add_column(column)
    for provider in settings.providers:
        table.add_row(provider.name, provider.kind, provider.model, f"{provider.deadline_s:g}")
    console.print(table)
    rules = Table(title="synthesis rules (first match wins)")
    for column in ("id", "when", "action"):
        rules.add_column(column)
    for rule in settings.synthesis.rules:
        rules.add_row(rule.id, " and ".join(rule.when), f"{rule.action_type} {rule.target or ''}")
    console.print(rules)


@app.command()
@reports_errors
def spend(store: ServeStoreOption = None, as_json: JsonOption = False) -> None:
    """Tokens, money and requests per day, virtual key, agent and model, from the audit store."""
    path = store if store is not None else default_store_path()
    if not path.exists():
        raise ConfigError("no audit store here (gateway serve creates it)", path=path)
    with AuditStore(path) as audit:
        rows = spend_report(audit.read(type="gateway.model_call"))
    if as_json:
        print_json([asdict(row) for row in rows])
        return
    table = Table(title="spend (from gateway.model_call events)")
    for column in ("day", "key", "agent", "model", "requests", "synthesized", "tokens in",
                   "tokens out", "USD"):  # fmt: skip
        table.add_column(column)
    for row in rows:
        numbers = (row.requests, row.synthesized, row.prompt_tokens, row.completion_tokens)
        table.add_row(row.day, row.key_id or "-", row.agent_id, row.model, *map(str, numbers),
                      f"{row.cost_usd:.6f}")  # fmt: skip
    console.print(table)


key_app = typer.Typer(
    help="Virtual keys through a running gateway's admin API: create, list, revoke.",
    no_args_is_help=True,
)
app.add_typer(key_app, name="key")

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="SENTINEL_GATEWAY_URL", help="The running gateway's address."),
]
AdminKeyOption = Annotated[
    str,
    typer.Option(
        "--admin-key",
        envvar="SENTINEL_GATEWAY_ADMIN_KEY",
        help="The admin key (prefer the environment variable: arguments show in ps).",
        show_default=False,
    ),
]
DEFAULT_URL = "http://127.0.0.1:8740"
"""Where ``gateway serve`` listens by default."""


@key_app.command("create")
@reports_errors
def key_create(
    admin_key: AdminKeyOption,
    client: Annotated[
        str | None, typer.Option("--client", help="A plain client id (transparent proxy).")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="An agent id (a persona).")] = None,
    alias: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    tokens: Annotated[int | None, typer.Option(help="Token budget per period.")] = None,
    requests: Annotated[int | None, typer.Option(help="Request budget per period.")] = None,
    period: Annotated[str, typer.Option(help="Budget period: hour or day.")] = "day",
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Create a virtual key; it is printed this once and stored only hashed."""
    body: dict[str, object] = {"client_id": client, "agent_id": agent, "key_alias": alias}
    if tokens is not None or requests is not None:
        body["budget"] = {"period": period, "tokens": tokens, "requests": requests}
    made = AdminClient(url, admin_key).create(body)
    if as_json:
        print_json(made)
        return
    console.print(f"{made['key_id']} for {made['kind']} {made['owner']}: {made['key']}")
    console.print("The key is shown this once; the gateway keeps only its SHA-256.")


@key_app.command("list")
@reports_errors
def key_list(
    admin_key: AdminKeyOption,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List virtual keys (ids, owners, budgets, revocations; never the keys)."""
    keys = AdminClient(url, admin_key).list_keys()
    if as_json:
        print_json(keys)
        return
    table = Table(title="virtual keys")
    for column in ("key id", "kind", "owner", "alias", "budget", "revoked"):
        table.add_column(column)
    for key in keys:
        budget = key["budget"]
        limits = ", ".join(f"{budget[m]} {m}" for m in ("tokens", "requests") if budget[m])
        table.add_row(key["key_id"], key["kind"], key["owner"], key["alias"] or "",
                      f"{limits} per {budget['period']}" if limits else "-",
                      "yes" if key["revoked"] else "")  # fmt: skip
    console.print(table)


@key_app.command("revoke")
@reports_errors
def key_revoke(
    key_ids: Annotated[list[str], typer.Argument(help="Key ids (vk-...) to revoke.")],
    admin_key: AdminKeyOption,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Revoke virtual keys: every gateway on the same ledger refuses them from now on."""
    revoked = AdminClient(url, admin_key).revoke(key_ids)
    if as_json:
        print_json(revoked)
        return
    for key in revoked:
        console.print(f"revoked {key['key_id']} ({key['kind']} {key['owner']})")
