"""A rewritten history fails by default: witnesses, consistency proofs, key handovers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore, verify_store
from sentinel.audit.canonical import reference_canonical_json
from sentinel.audit.chain import link_hash
from sentinel.audit.consistency import check_witnessed_consistency
from sentinel.audit.location import witness_dir
from sentinel.audit.witness import Witness
from sentinel.cli import app
from tests.audit.conftest import Attacker, fill

runner = CliRunner()


@pytest.fixture
def witnessed_store(tmp_path: Path) -> tuple[Path, str]:
    """30 events, checkpoints at 10, 20, 30, each also witnessed; returns (path, key)."""
    path = tmp_path / "witnessed.db"
    with AuditStore(path, checkpoint_every=10_000, checkpoint_interval_ms=3_600_000) as store:
        for _ in range(3):
            fill(store, 10)
            store.checkpoint()
        key = str(store.verifier_key)
    return path, key


def _rewrite_from(path: Path, position: int) -> None:
    """Edit one event, re-hash the chain from it, delete the checkpoints above it."""
    attacker = Attacker(path)
    rows = attacker.conn.execute(
        "SELECT position, canonical FROM events WHERE position >= ? ORDER BY position",
        (position,),
    ).fetchall()
    prev = attacker.conn.execute(
        "SELECT hash FROM events WHERE position = ?", (position - 1,)
    ).fetchone()[0]
    for at, canonical in rows:
        doc = json.loads(canonical)
        if at == position:
            doc["payload"] = {"note": "nothing happened"}
        doc["prev_hash"] = prev.hex()
        forged = reference_canonical_json(doc)
        digest = link_hash(prev, forged)
        attacker.sql(
            "UPDATE events SET canonical = ?, prev_hash = ?, hash = ? WHERE position = ?",
            forged, prev, digest, at,
        )  # fmt: skip
        prev = digest
    attacker.sql("DELETE FROM checkpoints WHERE size > ?", position)
    attacker.close()


def test_every_checkpoint_is_witnessed_outside_the_store(
    witnessed_store: tuple[Path, str],
) -> None:
    path, _ = witnessed_store
    with AuditStore(path) as store:
        stored = [c.to_note() for c in store.checkpoints()]
        origin = store.origin
    witness = Witness(witness_dir(), origin)  # type: ignore[arg-type]
    assert [c.to_note() for c in witness.checkpoints()] == stored
    assert witness.path.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in witness.path.iterdir())
    assert not witness.path.is_relative_to(path.parent)


def test_rewritten_history_fails_by_default(witnessed_store: tuple[Path, str]) -> None:
    path, key = witnessed_store
    _rewrite_from(path, 15)
    # Negative control: without the witness the rewrite is invisible, even with the key.
    assert verify_store(path, witness=False).ok
    report = verify_store(path)
    kinds = {(p.kind, p.checkpoint) for p in report.problems}
    assert ("checkpoints_missing", 30) in kinds
    assert ("rewritten", 30) in kinds
    cli = runner.invoke(app, ["audit", "verify", "--store", str(path), "--key", key])
    assert cli.exit_code == 1
    skipped = runner.invoke(app, ["audit", "verify", "--store", str(path), "--no-witness"])
    assert skipped.exit_code == 0, skipped.output


def test_consistency_between_witnessed_checkpoints(witnessed_store: tuple[Path, str]) -> None:
    path, key = witnessed_store
    with AuditStore(path) as store:  # grow the log past the last witnessed checkpoint
        fill(store, 7)
    clean = runner.invoke(app, ["audit", "consistency", "--store", str(path), "--key", key])
    assert clean.exit_code == 0, clean.output
    assert "consistent" in clean.output
    report = check_witnessed_consistency(path)
    assert report.ok and report.sizes == [10, 20, 30, 37] and report.log_size == 37
    _rewrite_from(path, 25)
    broken = check_witnessed_consistency(path)
    assert not broken.ok
    assert any(
        "from witnessed checkpoint 20 to witnessed checkpoint 30" in p for p in broken.problems
    )
    cli = runner.invoke(app, ["audit", "consistency", "--store", str(path)])
    assert cli.exit_code == 1


def test_consistency_without_witnesses_fails(tmp_path: Path) -> None:
    path = tmp_path / "unwitnessed.db"
    with AuditStore(path, witness=False) as store:
        fill(store, 3)
    result = runner.invoke(app, ["audit", "consistency", "--store", str(path)])
    assert result.exit_code == 1
    assert "was witnessed" in " ".join(result.output.split())


def test_key_rotation_old_key_follows_the_handover(tmp_path: Path) -> None:
    path = tmp_path / "rotated.db"
    with AuditStore(path, checkpoint_every=10_000, checkpoint_interval_ms=3_600_000) as store:
        fill(store, 5)
        store.checkpoint()
        old = str(store.verifier_key)
        store.rotate_key()
        fill(store, 5)
        store.checkpoint()
        fill(store, 5)
        store.checkpoint()
        late = store.at(13).event_id  # type: ignore[union-attr]
    verify = runner.invoke(app, ["audit", "verify", "--store", str(path), "--key", old])
    assert verify.exit_code == 0, verify.output
    proof = tmp_path / "proof.json"
    made = runner.invoke(app, ["audit", "prove", late, "--store", str(path), "--out", str(proof)])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(app, ["audit", "verify-proof", str(proof), "--key", old])
    assert checked.exit_code == 0, checked.output
    # Negative control: without the handover the old key cannot vouch for the new one.
    document = json.loads(proof.read_text())
    document["handover"] = []
    proof.write_text(json.dumps(document))
    refused = runner.invoke(app, ["audit", "verify-proof", str(proof), "--key", old])
    assert refused.exit_code == 1
    assert "not signed by a trusted key" in refused.output


def test_unwritable_witness_directory_warns_and_keeps_appending(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    with AuditStore(tmp_path / "a.db", witness=blocked) as store:
        fill(store, 2)
        store.checkpoint()
    assert "cannot witness checkpoint" in caplog.text
    assert blocked.is_file()
