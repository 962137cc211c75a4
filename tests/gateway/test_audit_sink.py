"""Audited by default: the queued group commit loses nothing on a clean close, and a
request's events are committed together with other requests' in one transaction."""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore, NewEvent, verify_store
from sentinel.audit.event_types import GatewayDecision, ModelCall
from sentinel.audit.location import default_store
from sentinel.audit.native_writer import records_for
from sentinel.cli import app
from sentinel.errors import GatewayError, StoreClosedError
from sentinel.gateway import Gateway, audit_sink
from sentinel.gateway.audit_sink import AuditSink, default_store_path
from sentinel.gateway.pipeline import _Call, _Trail
from sentinel.gateway.spend import spend_report
from tests.gateway.conftest import chat, fingerprint, settings_with


def test_default_store_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The gateway records to the audit trail's shared default store (one for every command)."""
    monkeypatch.delenv("SENTINEL_STORE", raising=False)
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path / "data"))
    assert default_store_path() == default_store() == tmp_path / "data" / "audit.db"
    monkeypatch.setenv("SENTINEL_STORE", str(tmp_path / "x.db"))
    assert default_store_path() == default_store() == tmp_path / "x.db"


@pytest.mark.parametrize("ack", ["queued", "durable"])
def test_every_request_is_recorded(tmp_path: Path, ack: str) -> None:
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(settings_with(), audit=store, audit_ack=ack,  # type: ignore[arg-type]
                 ledger_path=tmp_path / "l.db")  # fmt: skip
    bodies = [chat(f"q{i}", fingerprint=fingerprint()) if i % 2 else chat(f"q{i}")
              for i in range(300)]  # fmt: skip
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda b: gw.complete(b, agent_id="DEMO-01"), bodies))
    if ack == "durable":  # acknowledged means committed
        assert len({e.correlation_id for e in store.read(type="gateway.model_call")}) == 300
    gw.flush_audit()
    calls = {e.correlation_id for e in store.read(type="gateway.model_call")}
    assert calls == {a.request_id for a in answers}
    decisions = list(store.read(type="gateway.decision"))
    assert {d.payload["decision"] for d in decisions} >= {"synthesized", "forward", "settled"}
    gw.close()
    store.close()
    assert verify_store(tmp_path / "audit.db").ok


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(settings_with(), audit=store, audit_ack="queued", ledger_path=":memory:")
    ids = [gw.complete(chat(f"q{i}"), agent_id="DEMO-01").request_id for i in range(50)]
    gw.close()  # no flush: close commits the queue
    assert {e.correlation_id for e in store.read(type="gateway.model_call")} == set(ids)
    store.close()


def test_spend_report_per_day_agent_and_model(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(settings_with(), audit=store, ledger_path=":memory:")
    for i in range(3):
        gw.complete(chat(f"q{i}"), agent_id="DEMO-01")
    gw.complete(chat("tick", fingerprint=fingerprint()), agent_id="DEMO-02")
    gw.close()
    rows = spend_report(store.read(type="gateway.model_call"))
    store.close()
    by_agent = {(r.agent_id, r.model): r for r in rows}
    assert by_agent[("DEMO-01", "offline")].requests == 3
    assert by_agent[("DEMO-01", "offline")].prompt_tokens > 0
    assert by_agent[("DEMO-02", "synthesis")].synthesized == 1
    result = CliRunner().invoke(app, ["gateway", "spend", "--store", str(tmp_path / "audit.db"),
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    reported = json.loads(result.output)
    assert sum(r["requests"] for r in reported) == 4
    missing = CliRunner().invoke(app, ["gateway", "spend", "--store", str(tmp_path / "no.db")])
    assert missing.exit_code == 2 and "no audit store" in missing.output


class _CountingStore:
    """Stands in for the store: records the size of each committed group."""

    def __init__(self) -> None:
        self.groups: list[int] = []

    def append_batch(self, events: list[object]) -> None:
        self.groups.append(len(events))


def _events_of(index: int) -> list[NewEvent]:
    return [f"event-{index}"]  # type: ignore[list-item]  # the counting store takes anything


@pytest.mark.parametrize("wait_s", [0.3, 0.0])
def test_queued_requests_gather_into_one_commit(wait_s: float) -> None:
    """The writer lets a group gather before committing: 20 requests queued at once are one
    transaction, not 20 (the request path then competes with one commit per interval);
    without the wait nothing is lost either."""
    store = _CountingStore()
    sink = AuditSink(store, ack="queued", group_wait_s=wait_s)  # type: ignore[arg-type]
    for index in range(20):
        sink.submit(functools.partial(_events_of, index))
    sink.flush()
    assert sum(store.groups) == 20
    if wait_s:
        assert store.groups == [20]
    sink.close()


def test_a_full_queue_makes_the_request_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-pressure, not loss: past ``MAX_QUEUED`` waiting requests, a submit waits for
    the queue's commit. The control: below the bound, 20 requests gather into one group."""
    monkeypatch.setattr(audit_sink, "MAX_QUEUED", 5)
    store = _CountingStore()
    sink = AuditSink(store, ack="queued", group_wait_s=0.3)  # type: ignore[arg-type]
    for index in range(20):
        sink.submit(functools.partial(_events_of, index))
    sink.flush()
    assert sum(store.groups) == 20
    assert len(store.groups) > 1 and max(store.groups) <= 5
    sink.close()


def _typed_events(trail: _Trail) -> list[NewEvent]:
    """The events as built before the store alone validated them: each payload made into
    its typed model on the request's side first (the reference of ``_Trail.build``)."""
    events = []
    for index, record in enumerate(trail.records):
        if isinstance(record, tuple):
            agent_id, step, decision, reason, rule_id, inputs, attributes = record
            payload: GatewayDecision | ModelCall = GatewayDecision(
                agent_id=agent_id, request_id=trail.request.request_id, step=step,
                decision=decision, reason=reason, rule_id=rule_id, inputs=dict(inputs or {}),
                attributes=dict(attributes or {}),
            )  # fmt: skip
            suffix = step
        else:
            assert isinstance(record, _Call)
            payload, suffix = ModelCall(**record.fields), "model_call"
        events.append(
            NewEvent.of(payload, stream="gateway", tick=trail.request.meta.tick,
                        correlation_id=trail.request.request_id,
                        idempotency_key=f"{trail.request.request_id}/{index}/{suffix}")
        )  # fmt: skip
    return events


def test_events_as_noted_store_the_typed_payloads_bytes(tmp_path: Path) -> None:
    """The request path notes plain records and the store validates them once: the stored
    events (fields and canonical payload bytes) are those the typed payloads give."""
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(settings_with(), audit=store, ledger_path=":memory:")
    trails: list[_Trail] = []
    assert gw.sink is not None
    gw.sink.submit = lambda build: trails.append(build.__self__)  # type: ignore[attr-defined,method-assign]
    gw.complete(chat("tick", fingerprint=fingerprint()), agent_id="DEMO-01")  # synthesized
    gw.complete(chat("What are you working on?"), agent_id="DEMO-02")  # forwarded (offline)
    with pytest.raises(GatewayError):
        gw.complete(chat("hello", model="no-such-model"), agent_id="DEMO-01")  # refused
    with pytest.raises(GatewayError):
        gw.complete(b"{not json", agent_id="DEMO-01")  # unparsed, recorded as refused
    assert len(trails) == 4
    for trail in trails:
        noted = [event.validated(index) for index, event in enumerate(trail.build())]
        typed = [event.validated(index) for index, event in enumerate(_typed_events(trail))]
        assert noted == typed
        assert records_for(noted) == records_for(typed)  # the canonical bytes
    gw.close()
    store.close()


def test_durable_fails_closed_when_the_store_refuses(tmp_path: Path) -> None:
    """``durable``: no answer leaves without its record; a store that refuses the events
    fails the request. ``queued`` (the control) still answers and counts the loss."""
    for ack in ("durable", "queued"):
        store = AuditStore(tmp_path / f"{ack}.db")
        gw = Gateway(settings_with(), audit=store, audit_ack=ack, ledger_path=":memory:")
        gw.complete(chat("tick", fingerprint=fingerprint()), agent_id="DEMO-01")
        gw.flush_audit()
        store.close()  # from now on every append is refused
        if ack == "durable":
            with pytest.raises(StoreClosedError):
                gw.complete(chat("tick", fingerprint=fingerprint()), agent_id="DEMO-01")
        else:
            answer = gw.complete(chat("tick", fingerprint=fingerprint()), agent_id="DEMO-01")
            assert answer.decision == "synthesized"
            gw.flush_audit()
            failures = gw.metrics.registry.get_sample_value("sentinel_gateway_audit_failures_total")
            assert failures is not None and failures > 0
        gw.close()
