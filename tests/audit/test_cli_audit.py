from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore
from sentinel.cli import app
from tests.audit.conftest import Attacker, fill

runner = CliRunner()


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "cli.db"
    with AuditStore(path, checkpoint_every=5) as store:
        fill(store, 23)
        event_id = store.at(11).event_id  # type: ignore[union-attr]
        key = str(store.verifier_key)
    return path, event_id, key


def test_verify_ok_and_json(populated: tuple[Path, str, str]) -> None:
    path, _, key = populated
    result = runner.invoke(app, ["audit", "verify", "--store", str(path), "--key", key, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["size"] == 23 and data["key_source"] == "caller"


def test_verify_reports_tampering_with_exit_1(populated: tuple[Path, str, str]) -> None:
    path, _, key = populated
    attacker = Attacker(path)
    attacker.sql("DELETE FROM events WHERE position = 9")
    attacker.close()
    result = runner.invoke(
        app, ["audit", "verify", "--store", str(path), "--key", key], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert "first bad position: 9" in result.stdout
    assert "missing" in result.stdout


def test_prove_and_verify_proof_offline(populated: tuple[Path, str, str], tmp_path: Path) -> None:
    path, event_id, key = populated
    proof = tmp_path / "proof.json"
    assert (
        runner.invoke(
            app, ["audit", "prove", event_id, "--store", str(path), "--out", str(proof)]
        ).exit_code
        == 0
    )
    key_file = tmp_path / "auditor.keys"
    key_file.write_text(key + "\n")
    ok = runner.invoke(app, ["audit", "verify-proof", str(proof), "--key", str(key_file), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["position"] == 11
    document = json.loads(proof.read_text())
    document["canonical"] = document["canonical"].replace('"i":', '"j":')
    proof.write_text(json.dumps(document))
    bad = runner.invoke(app, ["audit", "verify-proof", str(proof), "--key", key])
    assert bad.exit_code == 1
    assert "do not hash to the event hash" in bad.stdout


def test_checkpoint_key_rotate_query_export(
    populated: tuple[Path, str, str], tmp_path: Path
) -> None:
    path, _, key = populated
    note = runner.invoke(app, ["audit", "checkpoint", "--store", str(path)])
    assert note.exit_code == 0 and note.stdout.split("\n")[1] == "23"
    keys = runner.invoke(app, ["audit", "key", "--store", str(path), "--json"])
    assert json.loads(keys.stdout)["current"] == key
    rotated = runner.invoke(app, ["audit", "rotate-key", "--store", str(path)])
    assert rotated.exit_code == 0 and rotated.stdout.strip() != key
    rows = runner.invoke(
        app, ["audit", "query", "SELECT count(*) AS n FROM events", "--store", str(path), "--json"]
    )
    assert json.loads(rows.stdout) == [{"n": 23}]
    out = tmp_path / "e.parquet"
    assert (
        runner.invoke(
            app, ["audit", "export", "--parquet", str(out), "--store", str(path)]
        ).exit_code
        == 0
    )
    assert out.stat().st_size > 0


def test_user_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["audit", "verify", "--store", str(tmp_path / "nope.db")])
    assert missing.exit_code == 2
    assert "no such audit store" in missing.output
    bad = tmp_path / "bad.db"
    sqlite3.connect(bad).execute("CREATE TABLE x (y)").connection.close()
    corrupt = runner.invoke(app, ["audit", "key", "--store", str(bad)])
    assert corrupt.exit_code == 2
    assert "not a Sentinel audit store" in corrupt.output
