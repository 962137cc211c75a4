"""``sentinel-run control``: the control planes' records in a run's store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentinel.audit.location import STORE_ENV, default_store
from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.control import inspect
from sentinel.control.replay import replay_control

app = typer.Typer(help="The control planes: status, decisions, one decision explained, replay.")

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", envvar=STORE_ENV, help="The store of a run.", dir_okay=False),
]


@app.command("status")
@reports_errors
def status_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Per plane: decisions, rules fired, actions, would-have-acted, verdicts, rollbacks."""
    found = inspect.status(store or default_store())
    if as_json:
        print_json(found)
        return
    table = Table(title=f"control planes (policy {found['revision']})", title_justify="left")
    names = list(next(iter(found["planes"].values()), {}))
    table.add_column("plane")
    for name in names:
        table.add_column(name.replace("_", " "), justify="right")
    for plane, counts in found["planes"].items():
        table.add_row(plane, *(f"{counts[n]:,}" for n in names))
    console.print(table)


@app.command("decisions")
@reports_errors
def decisions_command(
    store: StoreOption = None,
    plane: Annotated[str | None, typer.Option("--plane", help="agent, platform or api.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Also iterations that did nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The decisions that fired, acted, verified or rolled back, in order."""
    if plane is not None and plane not in ("agent", "platform", "api"):
        raise typer.BadParameter(f"unknown plane {plane!r}; use agent, platform or api")
    rows = inspect.decisions(store or default_store(), plane, all_=all_)
    if as_json:
        print_json(rows)
        return
    table = Table(title="control decisions", title_justify="left")
    for column in ("decision", "tick", "fired", "actions", "verdicts", "rollbacks"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["decision_id"],
            str(row["tick"]),
            ", ".join(f"{f['rule']} x{len(f['targets'])}" for f in row["fired"]),
            ", ".join(f"{a['action']}:{a['target']} ({a['status']})" for a in row["actions"]),
            ", ".join(f"{v['target']}: {v['verdict']}" for v in row["verifications"]),
            str(len(row["rollbacks"])) if row["rollbacks"] else "",
        )
    console.print(table)


@app.command("explain")
@reports_errors
def explain_command(
    decision_id: Annotated[str, typer.Argument(help="Such as agent-000042.")],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """One decision: the rules that fired with their inputs, its actions and their verdicts."""
    found = inspect.explain(store or default_store(), decision_id)
    if as_json:
        print_json(found)
        return
    decision = found["decision"]
    console.print(
        f"[bold]{decision['decision_id']}[/bold] tick {decision['tick']}, policy "
        f"{decision['policy_revision']}, observation sha256:{decision['observation_digest'][:16]}",
        highlight=False,
    )
    for firing in found["fired"]:
        inputs = "; ".join(f"{i['condition']} (value {i['value']})" for i in firing["inputs"])
        console.print(
            f"  fired {firing['rule']} [{firing['mode']}] for {firing['target']}: {inputs}",
            highlight=False,
        )
    for action in decision["actions"]:
        console.print(
            f"  {action['status']} {action['action']} {action['key']}: {action['detail']}",
            highlight=False,
        )
    for held in decision["held"]:
        console.print(
            f"  held {held['rule']} ({held['why']}): {', '.join(held['targets'])}", highlight=False
        )
    for verified in found["verified"]:
        series = ", ".join(f"{m['tick']}:{m['result']}" for m in verified["series"])
        rollback = verified.get("rollback")
        back = f"; rolled back ({rollback['status']}: {rollback['detail']})" if rollback else ""
        console.print(
            f"  verified in {verified['decision']}: {verified['verdict']} ({verified['why']}) "
            f"[{series}]{back}",
            highlight=False,
        )


@app.command("replay")
@reports_errors
def replay_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Re-run the planes from their recorded observations; exit 1 if a decision differs."""
    report = replay_control(store or default_store())
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(f"policy {report.revision}: {report.records} records replayed, "
                      f"{'equal' if report.equal else 'DIFFERENT'}")  # fmt: skip
        for difference in report.differences[:20]:
            console.print(f"  {difference}", highlight=False)
    if not report.equal:
        raise typer.Exit(1)
