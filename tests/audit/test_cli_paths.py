"""Every CLI path is safe: read-only commands stay read-only, output feeds back as input,
and one default store is used by every command."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore
from sentinel.audit.location import STORE_ENV, default_store, key_dir
from sentinel.cli import app
from tests.audit.conftest import fill

runner = CliRunner()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "sealed.db"
    with AuditStore(path) as store:
        fill(store, 9)
        event_id = store.at(4).event_id  # type: ignore[union-attr]
    return path, event_id


@pytest.mark.parametrize(
    "command", [["prove", "0190-no-such-event"], ["checkpoint"], ["key"], ["rotate-key"]]
)
def test_commands_never_turn_an_empty_file_into_a_store(tmp_path: Path, command: list[str]) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    keys_before = set(key_dir().glob("*")) if key_dir().exists() else set()
    result = runner.invoke(app, ["audit", *command, "--store", str(empty)])
    assert result.exit_code == 2, result.output
    assert "not a Sentinel audit store" in result.output
    assert empty.read_bytes() == b""
    assert (set(key_dir().glob("*")) if key_dir().exists() else set()) == keys_before


def test_prove_is_read_only_when_a_checkpoint_covers_the_event(
    sealed: tuple[Path, str], tmp_path: Path
) -> None:
    path, event_id = sealed
    with AuditStore(path) as store:
        key_path = store.signing_key_path
    hidden = key_path.rename(tmp_path / "elsewhere.key")  # the prover has no signing key
    before = _digest(path)
    result = runner.invoke(app, ["audit", "prove", event_id, "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert _digest(path) == before
    wal = Path(f"{path}-wal")  # SQLite's reader may create an empty one, never write to it
    assert not wal.exists() or wal.stat().st_size == 0
    hidden.rename(key_path)


def test_key_output_feeds_back_to_key(sealed: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = sealed
    runner.invoke(app, ["audit", "rotate-key", "--store", str(path)])
    printed = runner.invoke(app, ["audit", "key", "--store", str(path)])
    assert printed.exit_code == 0
    lines = printed.stdout.split()
    assert len(lines) == 2 and all(line.count("+") >= 2 for line in lines)
    as_argument = runner.invoke(
        app, ["audit", "verify", "--store", str(path), "--key", printed.stdout]
    )
    assert as_argument.exit_code == 0, as_argument.output
    saved = tmp_path / "keys.txt"
    saved.write_text(printed.stdout)
    as_file = runner.invoke(app, ["audit", "verify", "--store", str(path), "--key", str(saved)])
    assert as_file.exit_code == 0, as_file.output


def test_one_default_store_for_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path / "data"))
    path = default_store()
    assert path == tmp_path / "data" / "audit.db"
    missing = runner.invoke(app, ["audit", "verify"])
    assert missing.exit_code == 2 and str(path) in missing.output
    with AuditStore(path) as store:
        fill(store, 3)
    found = runner.invoke(app, ["audit", "verify"])
    assert found.exit_code == 0, found.output
    moved = tmp_path / "elsewhere.db"
    path.rename(moved)
    monkeypatch.setenv(STORE_ENV, str(moved))
    assert default_store() == moved
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


def test_signing_keys_live_apart_from_the_store(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "s.db") as store:
        key_path = store.signing_key_path
    assert key_path.parent == key_dir()
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert key_dir().stat().st_mode & 0o777 == 0o700
    assert not list(tmp_path.glob("*.signing-key"))
