"""``sentinel-run world``: run the office world without agents and show where it ended."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from sentinel.cli.output import JsonOption, console, print_json, reports_errors
from sentinel.config import DEFAULT_COMPANY, load_company
from sentinel.world import BACKENDS, World

app = typer.Typer(help="The office world (simulation only; agents arrive with the runtime).")

CHUNK_TICKS = 600
"""Ticks per native call between progress-bar updates (ten simulated minutes)."""


@app.command()
@reports_errors
def simulate(
    config: Annotated[
        Path, typer.Option("--config", help="The company directory.", file_okay=False)
    ] = DEFAULT_COMPANY,
    ticks: Annotated[int, typer.Option("--ticks", min=0, help="Ticks to run.")] = 3600,
    agents: Annotated[
        int | None,
        typer.Option("--agents", min=1, help="A synthetic world of this size instead."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the seed.")] = None,
    backend: Annotated[
        str, typer.Option("--backend", help=f"One of {', '.join(BACKENDS)}.")
    ] = "native",
    as_json: JsonOption = False,
) -> None:
    """Step the world --ticks times and print rooms, counters and the state hash."""
    world = World(load_company(config), seed=seed, agents=agents)
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("simulating", total=ticks)
        done = 0
        while done < ticks:
            batch = min(CHUNK_TICKS, ticks - done)
            world.step(batch, backend=backend)  # type: ignore[arg-type]
            done += batch
            progress.update(task, completed=done)
    if as_json:
        print_json(
            {
                "tick": world.tick,
                "clock": world.clock(),
                "state_hash": world.state_hash(),
                "stats": world.stats(),
                "agents": len(world.agent_ids),
                "peak_on_duty": world.peak_on_duty,
                "building_scale": world.building_scale,
                "rooms": world.rooms.to_dict(orient="records"),
            }
        )
        return
    table = Table(title=repr(world), title_justify="left")
    rooms = world.rooms
    for column in rooms.columns:
        table.add_column(str(column))
    for row in rooms.itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    console.print(table)
    console.print(", ".join(f"{name} {value}" for name, value in world.stats().items()))
    if world.building_scale > 1:
        console.print(
            f"{world.peak_on_duty:,} agents on duty at once do not fit the company's rooms: "
            f"every room is {world.building_scale}x as large (same air and heat per person)"
        )
