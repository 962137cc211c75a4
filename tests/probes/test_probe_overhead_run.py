"""The probes' cost measured on the real main job: a run switched in blocks, and the command.

A switched run records its blocks where an auditor reads them (its options and a
``probe.overhead`` event); ``sentinel-run probe overhead`` runs the crossover end to end.
The measurement's numbers are the bench's (``benches/test_probe_overhead_bench.py``); here
only that it measures what it says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel import cli
from sentinel.agents import RunOptions, run
from sentinel.audit import AuditStore
from sentinel.probes.recorder import PROBE_STREAM

pytestmark = pytest.mark.host

HOURS = 0.05
"""180 ticks: six blocks of 30."""
BLOCK_TICKS = 30


def test_a_switched_run_records_its_blocks(tmp_path: Path) -> None:
    store = tmp_path / "run.db"
    options = RunOptions(
        hours=HOURS, seed=19, store=store, probes="on", probe_blocks=BLOCK_TICKS, probe_first="on"
    )
    summary = run(options)
    assert summary.ok and summary.chain_verified
    blocks = summary.probes["overhead"]["blocks"]
    assert [(b["arm"], b["first_tick"], b["ticks"]) for b in blocks] == [
        ("on" if i % 2 == 0 else "off", i * BLOCK_TICKS, BLOCK_TICKS) for i in range(6)
    ]
    with AuditStore(store, create=False) as opened:
        (started,) = opened.read(type="runtime.started")
        assert started.payload["options"]["probe_blocks"] == BLOCK_TICKS
        assert started.payload["options"]["probe_first"] == "on"
        (recorded,) = opened.read(stream=PROBE_STREAM, type="probe.overhead")
        assert recorded.payload["blocks"] == blocks
        summaries = list(opened.read(stream=PROBE_STREAM, type="probe.summary"))
        assert len(summaries) == 1  # the probes were attached again and closed once
        assert summary.probes["events"] == len(list(opened.read(stream=PROBE_STREAM)))


def test_the_command_runs_the_crossover_and_says_what_it_found(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.app,
        ["probe", "overhead", "--hours", str(HOURS), "--block-minutes", "0.5", "--json"],
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [r["first"] for r in found["runs"]] == ["off", "on"]
    assert all(r["blocks"] == 6 for r in found["runs"])
    assert found["pairs"] == 6 and found["block_ticks"] == BLOCK_TICKS
    assert (
        found["ratio"] > 0 and found["interval_95"][0] <= found["ratio"] <= found["interval_95"][1]
    )
    assert found["verdict"] in ("met", "missed", "undecided")
    cpu = found["cpu_s"]
    assert set(cpu) == {"main_cpu_s", "process_cpu_s", "children_cpu_s"}
    assert all(
        cpu[name][arm] > 0 for name in ("main_cpu_s", "process_cpu_s") for arm in ("on", "off")
    )
    assert cpu["process_cpu_s"]["on"] >= cpu["main_cpu_s"]["on"]


def test_a_bad_option_is_refused_by_name() -> None:
    result = CliRunner().invoke(cli.app, ["probe", "overhead", "--hours", "0", "--json"])
    assert result.exit_code != 0
    assert "--hours" in result.output
