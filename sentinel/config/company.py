"""A company: personas, floor plan and simulation parameters, loaded and cross-checked."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sentinel.config._toml import load_model
from sentinel.config.persona import ALWAYS_ON_SHIFT, Persona
from sentinel.config.rooms import FloorPlan
from sentinel.config.simulation import Simulation
from sentinel.errors import ConfigError

AGENTS_DIR = "agents"
ROOMS_FILE = "rooms.toml"
SIMULATION_FILE = "simulation.toml"


@dataclass(frozen=True)
class Company:
    """A validated company: what :func:`load_company` returns.

    Attributes:
        personas: In id order.
        floor_plan: Rooms and doors.
        simulation: World parameters.
        root: The directory it was loaded from, if any.
    """

    personas: tuple[Persona, ...]
    floor_plan: FloorPlan
    simulation: Simulation
    root: Path | None = None

    def persona(self, agent_id: str) -> Persona:
        """The persona with ``agent_id``.

        Raises:
            KeyError: No such agent.
        """
        for persona in self.personas:
            if persona.id == agent_id:
                return persona
        raise KeyError(agent_id)


DEFAULT_COMPANY: Final = Path(__file__).resolve().parents[2] / "config"
"""The default company shipped with Sentinel (the repository's ``config/``), whatever the
current directory."""


def load_company(directory: Path | str) -> Company:
    """Load and validate the company in ``directory`` (``agents/``, rooms and simulation).

    Args:
        directory: A folder shaped like the shipped ``config/``.

    Returns:
        The company, with personas sorted by id.

    Raises:
        ConfigError: A file is missing or invalid, or the files contradict each other; the
            message names the file, the field and the reason.
    """
    root = Path(directory)
    simulation = load_model(Simulation, root / SIMULATION_FILE)
    floor_plan = load_model(FloorPlan, root / ROOMS_FILE)
    agent_dir = root / AGENTS_DIR
    files = sorted(agent_dir.glob("*.toml"))
    if not files:
        raise ConfigError("no persona files (*.toml)", path=agent_dir)
    loaded = [(path, load_model(Persona, path)) for path in files]
    check_company(loaded, floor_plan, simulation, root)
    personas = tuple(sorted((persona for _, persona in loaded), key=lambda p: p.id))
    return Company(personas=personas, floor_plan=floor_plan, simulation=simulation, root=root)


def check_company(
    loaded: list[tuple[Path, Persona]], floor_plan: FloorPlan, simulation: Simulation, root: Path
) -> None:
    """Cross-file checks: ids, file names, the reporting lines, rooms and shift staffing.

    Raises:
        ConfigError: The first contradiction found, naming file and field.
    """
    by_id: dict[str, tuple[Path, Persona]] = {}
    for path, persona in loaded:
        if path.stem != persona.id:
            raise ConfigError(
                f"the file name must be the agent id ({persona.id}.toml)",
                path=path,
                field="identity.id",
            )
        by_id[persona.id] = (path, persona)
    _check_references(loaded, by_id, floor_plan, simulation)
    _check_reporting_cycles(by_id)
    _check_staffing(loaded, simulation, root)


def _check_references(
    loaded: list[tuple[Path, Persona]],
    by_id: dict[str, tuple[Path, Persona]],
    floor_plan: FloorPlan,
    simulation: Simulation,
) -> None:
    rooms = {room.id for room in floor_plan.rooms}
    for path, persona in loaded:
        identity = persona.identity
        if identity.reports_to is not None:
            if identity.reports_to not in by_id:
                raise ConfigError(
                    f"reports to unknown agent {identity.reports_to!r}",
                    path=path,
                    field="identity.reports_to",
                )
            manager = by_id[identity.reports_to][1]
            if persona.id not in manager.identity.direct_reports:
                raise ConfigError(
                    f"reports to {manager.id}, whose direct_reports do not list {persona.id}",
                    path=path,
                    field="identity.reports_to",
                )
        if persona.preferences.favorite_room not in rooms:
            raise ConfigError(
                f"unknown room {persona.preferences.favorite_room!r} (see {ROOMS_FILE})",
                path=path,
                field="preferences.favorite_room",
            )
        if identity.shift_set > len(simulation.shifts):
            raise ConfigError(
                f"shift set {identity.shift_set} is not defined in {SIMULATION_FILE}",
                path=path,
                field="identity.shift_set",
            )
    for path, persona in loaded:
        for report in persona.identity.direct_reports:
            if report not in by_id or by_id[report][1].identity.reports_to != persona.id:
                raise ConfigError(
                    f"lists {report!r} as a direct report, but that agent does not report here",
                    path=path,
                    field="identity.direct_reports",
                )


def _check_staffing(loaded: list[tuple[Path, Persona]], simulation: Simulation, root: Path) -> None:
    counts = Counter(persona.identity.shift_set for _, persona in loaded)
    expected = {ALWAYS_ON_SHIFT: simulation.staffing.always_on} | {
        shift.set: simulation.staffing.per_shift for shift in simulation.shifts
    }
    for shift_set, want in sorted(expected.items()):
        if counts.get(shift_set, 0) != want:
            raise ConfigError(
                f"shift set {shift_set} has {counts.get(shift_set, 0)} personas in "
                f"{AGENTS_DIR}/, {SIMULATION_FILE} expects {want}",
                path=root / SIMULATION_FILE,
                field="staffing",
            )


def _check_reporting_cycles(by_id: dict[str, tuple[Path, Persona]]) -> None:
    for agent_id, (path, _) in by_id.items():
        seen = {agent_id}
        current = by_id[agent_id][1].identity.reports_to
        while current is not None:
            if current in seen:
                raise ConfigError(
                    f"the reporting line from {agent_id} loops back to {current}",
                    path=path,
                    field="identity.reports_to",
                )
            seen.add(current)
            current = by_id[current][1].identity.reports_to
