"""``sentinel-run judge``: drift, quality and fatigue verdicts of a recorded run's agents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.table import Table

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cli.output import JsonOption, console, print_json, reports_errors

if TYPE_CHECKING:
    from sentinel.judge import Verdict

FAILED_EXIT: Final = 1
"""Some verdict failed (drift, quality or fatigue)."""
STATUS_STYLE: Final = {"passed": "green", "failed": "bold red", "insufficient_data": "dim"}


@reports_errors
def judge_command(
    store: Annotated[
        Path | None,
        typer.Option("--store", envvar=STORE_ENV, help="The store of a run.", dir_okay=False),
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    embeddings: Annotated[
        str, typer.Option("--embeddings", help="auto, wordllama or tfidf.")
    ] = "auto",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="The company directory (default: the recorded one).", file_okay=False
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Append the verdicts to the store.")
    ] = True,
    llm: Annotated[
        bool,
        typer.Option("--llm/--no-llm", help="Calibrate the LLM judge and ask it too."),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Judge each agent of a run: persona drift, work quality, fatigue; one table per agent.

    Verdicts are appended to the store as judge.verdict events (again on the same trail:
    nothing new). Exit status 1 when any verdict failed.
    """
    from sentinel.judge import judge_store  # noqa: PLC0415 - numpy and the model load here

    report = judge_store(
        store or default_store(),
        agent=agent,
        embeddings=embeddings,
        config=config,
        record=record,
        llm=llm,
    )
    if as_json:
        print_json(report.to_dict())
    else:
        by_agent: dict[str, list[Verdict]] = {}
        for verdict in report.verdicts:
            by_agent.setdefault(verdict.agent_id, []).append(verdict)
        for agent_id, verdicts in by_agent.items():
            table = Table(title=agent_id, title_justify="left")
            for column in ("evaluation", "status", "score", "severity", "percentile", "n", "why"):
                table.add_column(column)
            for v in verdicts:
                style = STATUS_STYLE[v.status]
                table.add_row(
                    v.evaluation,
                    f"[{style}]{v.status}",
                    f"{v.score:.2f}",
                    v.severity,
                    "-" if v.percentile is None else f"{v.percentile:.1f}",
                    str(v.messages),
                    v.explanation.summary,
                )
            console.print(table)
        if report.calibration is not None:
            c = report.calibration
            state = "drifted" if c.drifted else "calibrated" if c.calibrated else "not calibrated"
            console.print(
                f"LLM judge {c.model}: golden-set agreement {c.agreement:.2f} "
                f"({c.items} items), {state}",
                highlight=False,
            )
        console.print(
            f"{len(report.verdicts)} verdicts, {len(report.failed)} failed, "
            f"{report.vectorizer}, {report.wall_s:.2f} s, {report.recorded} recorded",
            highlight=False,
        )
    if report.failed:
        raise typer.Exit(FAILED_EXIT)
