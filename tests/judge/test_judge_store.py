"""Judging a recorded run: verdict events in the store, the CLI's table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sentinel.audit import AuditStore, verify_store
from sentinel.cli import app
from sentinel.gateway.persona import Persona
from sentinel.judge import judge_store, read_verdicts
from sentinel.judge.synthetic_run import write_run
from sentinel.judge.voices import voice


def _voices(persona: Persona) -> list[str]:
    return voice(persona, 60, 10_000)


def _run(tmp_path: Path, personas: list[Persona], company_dir: Path, **kwargs: object) -> Path:
    path = tmp_path / "run.db"
    write_run(path, personas[:6], config=company_dir, messages=40, **kwargs)  # type: ignore[arg-type]
    return path


def test_verdicts_are_recorded_once_as_evaluation_events(
    tmp_path: Path, personas: list[Persona], company_dir: Path
) -> None:
    path = _run(tmp_path, personas, company_dir, swaps={personas[1].id: personas[4].id})
    report = judge_store(path, embeddings="tfidf", reference=_voices)
    drift = {v.agent_id: v.status for v in report.verdicts if v.evaluation == "drift"}
    assert drift == {p.id: "failed" if p == personas[1] else "passed" for p in personas[:6]}
    assert len(report.verdicts) == 24  # drift, fatigue, quality, llm for each of 6
    assert {v.status for v in report.verdicts if v.evaluation == "llm"} == {"passed"}
    assert report.calibration is not None and report.calibration.calibrated
    assert report.recorded == 25  # and the LLM judge's calibration
    again = judge_store(path, embeddings="tfidf", reference=_voices)
    assert again.recorded == 0  # the same trail judged again adds nothing
    assert again.calibration is not None and not again.calibration.drifted
    with AuditStore(path, create=False) as store:
        events = list(store.read(stream="judge", type="judge.verdict"))
        calibrations = list(store.read(stream="judge", type="judge.calibration"))
    assert len(events) == 24
    assert calibrations[0].payload["agreement"] == 1.0
    payload = events[0].payload
    assert payload["attributes"]["gen_ai.evaluation.name"].startswith("sentinel.")
    assert payload["input_end"] == report.input_end
    with AuditStore(path, create=False) as store:
        read_back = read_verdicts(store)
    assert [(v.agent_id, v.evaluation, v.status, v.score) for v in read_back] == [
        (v.agent_id, v.evaluation, v.status, v.score) for v in report.verdicts
    ]
    assert {v.agent_id for v in read_back if v.status == "failed"} == {personas[1].id}
    assert {v.route for v in read_back} == {"offline"}  # what the API plane would roll back
    assert verify_store(path).ok


def test_an_offline_run_is_judged_against_the_offline_voice(
    tmp_path: Path, personas: list[Persona], company_dir: Path
) -> None:
    path = _run(tmp_path, personas, company_dir)
    report = judge_store(path, embeddings="tfidf", record=False)
    drift = [v for v in report.verdicts if v.evaluation == "drift"]
    # These messages are not what the offline route says as these personas: all drifted.
    assert {v.status for v in drift} == {"failed"}


def test_the_cli_prints_a_table_per_agent_and_json(
    tmp_path: Path, personas: list[Persona], company_dir: Path
) -> None:
    path = _run(tmp_path, personas, company_dir)
    runner = CliRunner()
    result = runner.invoke(app, ["judge", "--store", str(path), "--agent", personas[2].id,
                                 "--embeddings", "tfidf", "--no-record"])  # fmt: skip
    assert personas[2].id in result.output
    assert "drift" in result.output and "quality" in result.output
    result = runner.invoke(app, ["judge", "--store", str(path), "--json", "--no-record"])
    data = json.loads(result.output)
    assert {v["agent_id"] for v in data["verdicts"]} == {p.id for p in personas[:6]}
    assert result.exit_code == (1 if data["failed"] else 0)


def test_a_missing_store_or_agent_is_a_clear_error(
    tmp_path: Path, personas: list[Persona], company_dir: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["judge", "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no store" in result.output
    path = _run(tmp_path, personas, company_dir)
    result = runner.invoke(app, ["judge", "--store", str(path), "--agent", "NOBODY"])
    assert result.exit_code == 2 and "NOBODY" in result.output
