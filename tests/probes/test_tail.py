"""``probe tail``: the details a run's probes recorded, read from the store, read-only."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel import cli
from sentinel.audit import AuditStore
from sentinel.errors import InvalidInputError, StoreCorruptError
from sentinel.probes import PROBE_STREAM, ProbeRecorder, ProbeSession
from sentinel.probes.tail import tail_probe_events
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once

runner = CliRunner()
POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
TOTALS = dict.fromkeys(
    ("execs", "exits", "write_opens", "writes", "write_bytes", "connects", "refusals", "dropped"),
    0,
)


def activity(agent: str, details: list[dict[str, object]], omitted: int = 0) -> dict[str, object]:
    return {"agent_id": agent, "tick": 7, "totals": TOTALS, "events": details, "omitted": omitted}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.host
def test_a_recorded_sandboxed_command_is_listed(workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    agent = f"tail-{uuid.uuid4().hex[:8]}"
    with AuditStore(path) as store:
        recorder = ProbeRecorder(ProbeSession(), store, lambda: 3)
        try:
            argv = ["sh", "-c", "echo tailed > tail-note.txt; exit 4"]
            result = run_once(POLICY, argv, workspace=workspace, agent_id=agent)
            assert result.exit_code == 4, result.stderr
        finally:
            recorder.close()
    before = digest(path)

    found = tail_probe_events(path, agent_id=agent, limit=1000)
    kinds = {d["kind"] for d in found.details}
    assert {"exec", "open_write", "exit"} <= kinds, found.details
    assert all(d["agent_id"] == agent and d["tick"] == 3 for d in found.details)
    # The command's exit is recorded; not necessarily last: the sandbox's own processes (its
    # init, the supervisor) exit around it, in an order the scheduler picks under load.
    exits = [d for d in found.details if d["kind"] == "exit"]
    assert any(d.get("exit_code") == 4 for d in exits), exits
    assert found.summaries == 1 and agent in found.agents
    assert found.matched == len(found.details)

    shown = runner.invoke(
        cli.app, ["probe", "tail", "--store", str(path), "--agent", agent], env={"COLUMNS": "250"}
    )
    assert shown.exit_code == 0, shown.output
    assert "tail-note.txt" in shown.output and "exit 4" in shown.output
    last_two = runner.invoke(
        cli.app, ["probe", "tail", "--store", str(path), "--limit", "2", "--json"]
    )
    assert last_two.exit_code == 0, last_two.output
    data = json.loads(last_two.output)
    assert len(data["details"]) == 2 and data["matched"] >= len(found.details)
    assert digest(path) == before, "tail must not change the store"


def test_the_newest_details_are_kept_and_agents_filtered(tmp_path: Path) -> None:
    path = tmp_path / "written.db"
    with AuditStore(path) as store:
        for n in range(3):
            details = [{"kind": "exec", "pid": 100 + n * 10 + i, "path": f"/bin/p{n}{i}"}
                       for i in range(4)]  # fmt: skip
            store.append(PROBE_STREAM, "probe.activity", activity("alice", details, omitted=2))
        refused = {"kind": "refused", "pid": 9, "syscall": "unshare", "errno": "EPERM"}
        store.append(PROBE_STREAM, "probe.activity", activity("bob", [refused]))
    alice = tail_probe_events(path, agent_id="alice", limit=5)
    assert [d["pid"] for d in alice.details] == [113, 120, 121, 122, 123]
    assert alice.matched == 12 and alice.omitted == 6 and alice.agents == ["alice", "bob"]
    everyone = tail_probe_events(path, limit=1)
    assert everyone.details == [{**refused, "position": everyone.details[0]["position"],
                                 "wall_ns": everyone.details[0]["wall_ns"], "tick": 7,
                                 "agent_id": "bob"}]  # fmt: skip
    shown = runner.invoke(cli.app, ["probe", "tail", "--store", str(path), "--agent", "bob"])
    assert shown.exit_code == 0 and "unshare: EPERM" in shown.output
    nobody = runner.invoke(cli.app, ["probe", "tail", "--store", str(path), "--agent", "carol"])
    assert nobody.exit_code == 0 and "no probe events of agent carol" in nobody.output
    assert "alice, bob" in nobody.output


def test_agent_chosen_strings_print_escaped_never_as_markup_or_terminal_codes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hostile.db"
    hostile = "[bold red]FAKE[/bold red]\x1b[2J\x07.txt"
    with AuditStore(path) as store:
        detail = {"kind": "open_write", "pid": 5, "path": hostile, "flags": ["wronly"]}
        store.append(PROBE_STREAM, "probe.activity", activity("mallory", [detail]))
    shown = runner.invoke(cli.app, ["probe", "tail", "--store", str(path)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "[bold red]FAKE[/bold red]" in shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert "\\x1b[2J\\x07.txt" in shown.output


def test_a_store_without_probe_events_says_so(tmp_path: Path) -> None:
    path = tmp_path / "quiet.db"
    with AuditStore(path) as store:
        store.append("runtime", "runtime.started", {"note": "no probes"})
    assert tail_probe_events(path).details == []
    shown = runner.invoke(cli.app, ["probe", "tail", "--store", str(path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "no probe events in this store" in shown.output


def test_a_bad_store_is_refused_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreCorruptError, match=str(missing)):
        tail_probe_events(missing)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    shown = runner.invoke(cli.app, ["probe", "tail", "--store", str(garbage)])
    assert shown.exit_code == 2
    assert str(garbage) in shown.output and "Traceback" not in shown.output
    as_json = runner.invoke(cli.app, ["probe", "tail", "--store", str(missing), "--json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.output) == {
        "ok": False,
        "error": f"{missing}: no such audit store",
        "kind": "StoreCorruptError",
    }
    with pytest.raises(InvalidInputError, match="limit"):
        tail_probe_events(garbage, limit=0)
