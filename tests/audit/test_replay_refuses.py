"""Replay verifies the store (chain, rules, signatures, witness) before it trusts a record."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.agents.replay import replay
from sentinel.audit import AuditStore
from sentinel.errors import ChainBrokenError, InvalidInputError
from tests.audit.conftest import Attacker, fill


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "run.db"
    with AuditStore(path) as store:
        fill(store, 6)
    return path


def test_replay_refuses_a_tampered_store(recorded: Path) -> None:
    attacker = Attacker(recorded)
    attacker.sql("UPDATE events SET canonical = replace(canonical, 'step 3', 'step 9')")
    attacker.close()
    with pytest.raises(ChainBrokenError, match="does not verify"):
        replay(recorded)


def test_replay_reads_an_intact_store(recorded: Path) -> None:
    # The negative control: the same store untouched passes verification; replay then
    # stops only because this store holds no run.
    with pytest.raises(InvalidInputError, match="holds no finished run"):
        replay(recorded)
