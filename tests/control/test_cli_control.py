"""``sentinel-run control``: status, decisions, explain and replay over a run's store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sentinel.audit import AuditStore, NewEvent
from sentinel.cli.application import app
from sentinel.control import Policy
from sentinel.control.office import OfficeControl
from tests.control.office import office

runner = CliRunner()


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "run.db"
    engine = office(ticks=0, hours=2.0, compromised=0.2)
    engine.control = OfficeControl.for_run(engine, Policy.default())
    with AuditStore(path) as store:
        engine.record = store.append_batch
        engine.run(7200)
        events: list[NewEvent] = []
        engine.control.finish(engine.world.tick, events)
        store.append_batch(events)
    return path


def test_status_decisions_explain_and_replay(tmp_path: Path) -> None:
    store = _store(tmp_path)
    status = runner.invoke(app, ["control", "status", "--store", str(store), "--json"])
    assert status.exit_code == 0, status.output
    planes = json.loads(status.output)["planes"]
    assert planes["platform"]["actions"] >= 1 and planes["platform"]["successful"] >= 1
    listed = runner.invoke(
        app, ["control", "decisions", "--store", str(store), "--plane", "platform", "--json"]
    )
    rows = json.loads(listed.output)
    acting = next(r for r in rows if r["actions"])
    assert {r["plane"] for r in rows} == {"platform"}
    explained = runner.invoke(
        app, ["control", "explain", acting["decision_id"], "--store", str(store), "--json"]
    )
    found = json.loads(explained.output)
    assert found["fired"][0]["inputs"][0]["holds"] is True
    assert found["verified"] and found["verified"][0]["verdict"] == "Successful"
    text = runner.invoke(app, ["control", "explain", acting["decision_id"], "--store", str(store)])
    assert "quarantine" in text.output and "Successful" in text.output
    replayed = runner.invoke(app, ["control", "replay", "--store", str(store), "--json"])
    assert replayed.exit_code == 0 and json.loads(replayed.output)["equal"] is True
    missing = runner.invoke(app, ["control", "explain", "agent-999999", "--store", str(store)])
    assert missing.exit_code == 2 and "no decision" in missing.output
    bad = runner.invoke(app, ["control", "decisions", "--store", str(store), "--plane", "moon"])
    assert bad.exit_code != 0 and "unknown plane" in bad.output
