"""``sentinel-run gaia``: generate, preview and validate companies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.config import Company, load_company
from sentinel.config.gaia import example_spec_toml, generate, load_spec, write_company

app = typer.Typer(help="Gaia, the company generator.", no_args_is_help=True)

SpecOption = Annotated[
    Path, typer.Option("--spec", exists=True, dir_okay=False, help="The company spec (TOML).")
]


def _summary(company: Company) -> dict[str, object]:
    shifts = Counter(p.identity.shift_set for p in company.personas)
    return {
        "agents": len(company.personas),
        "rooms": len(company.floor_plan.rooms),
        "shift_sets": {str(k): shifts[k] for k in sorted(shifts)},
        "departments": dict(Counter(p.identity.department for p in company.personas)),
        "seed": company.simulation.seed,
    }


def _table(company: Company, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "name", "role", "department", "tier", "shift", "reports to"):
        table.add_column(column, no_wrap=column in {"id", "tier", "shift"})
    for persona in company.personas:
        ident = persona.identity
        table.add_row(
            ident.id,
            ident.name,
            ident.role,
            ident.department,
            str(ident.tier),
            str(ident.shift_set),
            ident.reports_to or "",
        )
    return table


@app.command("print-example-spec")
def print_example_spec() -> None:
    """Print the spec of the shipped company, as a starting point to edit."""
    typer.echo(example_spec_toml(), nl=False)


@app.command()
@reports_errors
def init(
    spec: SpecOption,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Where to write the company.")],
    as_json: JsonOption = False,
) -> None:
    """Generate the company of a spec into a directory (personas, rooms, simulation)."""
    written = write_company(generate(load_spec(spec)), output_dir)
    if as_json:
        print_json({"written": [str(path) for path in written]})
        return
    console.print(f"wrote {len(written)} files under {output_dir}")


@app.command()
@reports_errors
def preview(spec: SpecOption, as_json: JsonOption = False) -> None:
    """Show the company a spec would produce, without writing anything."""
    company = generate(load_spec(spec)).company
    if as_json:
        print_json(_summary(company) | {"personas": [p.model_dump() for p in company.personas]})
        return
    console.print(_table(company, f"{spec}: {len(company.personas)} agents"))


@app.command()
@reports_errors
def validate(
    directory: Annotated[Path, typer.Argument(help="A company directory (like config/).")],
    as_json: JsonOption = False,
) -> None:
    """Load and cross-check a company directory; exit 2 with the file and field if invalid."""
    company = load_company(directory)
    summary = _summary(company)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{directory}: valid, {summary['agents']} agents, {summary['rooms']} rooms, "
        f"shift sets {summary['shift_sets']}"
    )
