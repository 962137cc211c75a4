"""``sentinel-run breakout``: the adversarial suite against this host's sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sentinel.breakout import Family, Scenario, ScenarioReport, SuiteReport, run_suite, select
from sentinel.breakout.report import VERDICTS, write_all
from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.cli.sandbox import PolicyOption
from sentinel.cli.sandbox_exec import load_policy
from sentinel.errors import SentinelError

STYLE = {
    "blocked": "green",
    "inconclusive": "yellow",
    "escaped": "bold red",
    "error": "bold yellow",
}


class UnknownScenarioError(SentinelError):
    """A --scenario names no scenario."""


def _summary_table(report: SuiteReport) -> Table:
    table = Table(title="breakout suite", title_justify="left")
    columns = ("family", "scenarios", *VERDICTS, "self-reported", "controls escaped")
    for column in columns:
        table.add_column(column, justify="left" if column == "family" else "right")
    for family in dict.fromkeys(r.scenario.family for r in report.scenarios):
        rows = [r for r in report.scenarios if r.scenario.family is family]
        table.add_row(
            family.value,
            str(len(rows)),
            *(str(sum(1 for r in rows if r.verdict == k)) for k in VERDICTS),
            str(sum(1 for r in rows if r.evidence_source == "self-reported")),
            f"{sum(1 for r in rows if r.control.outcome and r.control.outcome.result == 'escaped')}"
            f" (+{sum(1 for r in rows if r.control.skipped_because)} not runnable)",
        )
    return table


def _problems(report: SuiteReport) -> list[str]:
    lines = [f"ESCAPED {r.scenario.id}: {r.outcome.evidence}" for r in report.escaped]
    lines += [f"ERROR {r.scenario.id}: {r.outcome.evidence}" for r in report.errors]
    lines += [
        f"WRONG CLAIM {r.scenario.id}: load-bearing {', '.join(r.unexpected_layers)}, not expected"
        for r in report.wrong_claims
    ]
    lines += [
        f"CONTROL DID NOT ESCAPE {r.scenario.id}: {r.control.outcome.evidence}"
        for r in report.failed_controls
        if r.control.outcome is not None
    ]
    lines += [
        f"INCONCLUSIVE {r.scenario.id}: {r.verdict_reason}"
        for r in report.inconclusive
        if not r.control_failed
    ]
    return lines


def breakout(
    report_dir: Annotated[
        Path, typer.Option("--report", help="Directory for report.json, report.md, junit.xml.")
    ],
    family: Annotated[
        list[Family] | None, typer.Option("--family", help="Only these families (repeatable).")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="Only these scenario ids (repeatable).")
    ] = None,
    matrix: Annotated[
        bool, typer.Option("--matrix", help="Also run each scenario with each layer off in turn.")
    ] = False,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Audit store for the violations (default: in --report)."),
    ] = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the breakout suite in real sandboxes.

    Exit 0 when every verdict is blocked (each earned by a negative control that escaped),
    1 on an escape, an error, a control that did not escape or a wrong layer claim, 3 when
    nothing escaped but some verdicts are inconclusive (their controls cannot run here).
    """
    try:
        chosen = select(family, scenario)
    except KeyError as exc:
        raise UnknownScenarioError(f"unknown scenario id(s): {exc.args[0]}") from None
    loaded = load_policy(policy)
    with Progress(
        TextColumn("[bold]breakout[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, disable=as_json, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("starting", total=len(chosen))

        def advance(done: Scenario, result: ScenarioReport) -> None:
            style = STYLE[result.verdict]
            if result.verdict != "blocked":
                bar.console.print(f"[{style}]{result.verdict}[/{style}] {done.id}")
            bar.update(task, advance=1, description=done.id)

        report = run_suite(
            loaded, chosen, store_path=store or report_dir / "breakout-audit.db",
            matrix=matrix, progress=advance,
        )  # fmt: skip
    paths = write_all(report, report_dir)
    if as_json:
        print_json(report.to_json())
    else:
        console.print(_summary_table(report))
        for line in _problems(report):
            console.print(f"[bold red]{line}[/bold red]", highlight=False)
        counts = report.summary()
        console.print(
            f"{len(report.scenarios)} scenarios: {counts['blocked']} blocked, "
            f"{counts['inconclusive']} inconclusive, {counts['escaped']} escaped, "
            f"{counts['error']} errors ({counts['self_reported']} verdicts self-reported by "
            f"the attacker) in {report.duration_s:.0f} s; "
            f"reports: {', '.join(str(p) for p in paths.values())}"
        )
    if report.exit_code:
        raise typer.Exit(report.exit_code)


breakout_command = reports_errors(breakout)
