"""The persona model the gateway needs, and the demo personas it ships with.

The office world will bring 60 personas in ``config/agents/*.toml``; until then the gateway
works standalone with :data:`DEMO_PERSONAS`. More personas load from any folder of TOML
files (one persona per file) with :func:`load_personas`.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sentinel.errors import ConfigError

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Agent ids are stream-name safe (the audit stream is ``agent/<id>``)."""


class Personality(BaseModel):
    """Big Five traits plus the reference's two extras, each in [0, 1] (SEED_NOTES, World)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    openness: float = Field(default=0.5, ge=0, le=1)
    conscientiousness: float = Field(default=0.5, ge=0, le=1)
    extraversion: float = Field(default=0.5, ge=0, le=1)
    agreeableness: float = Field(default=0.5, ge=0, le=1)
    neuroticism: float = Field(default=0.5, ge=0, le=1)
    caffeine_tolerance: float = Field(default=0.5, ge=0, le=1)
    morning_person: bool = False

    @property
    def extravert(self) -> bool:
        """Extraversion of 0.5 or more, the reference's split for templates and social need."""
        return self.extraversion >= EXTRAVERT_THRESHOLD


EXTRAVERT_THRESHOLD = 0.5
"""SEED_NOTES, Biology: social need rises when extraversion >= 0.5."""


class Persona(BaseModel):
    """One agent as the gateway sees it.

    Args:
        id: The agent id (``DEMO-01``); the audit stream is ``agent/<id>``.
        name: The persona's name in the world.
        role: Job title (``developer``, ``designer`` ...).
        team: The team whose budgets the agent draws on.
        shift: Shift set: 0 always on, 1 early, 2 late, 3 night (SEED_NOTES, World).
        capabilities: Tools the agent may use in ``tool_use`` actions (``shell``, ``python``,
            ``pytest``, ``git``, ``fs``). Anything else is rejected with ``tool_not_allowed``.
        personality: Big Five and extras.
        bio: A line of background for the prompt.
        quirks: Small habits for the prompt.
        provider: A provider name that overrides the gateway's primary for this agent.
        models: Model names the agent may ask for (empty: any configured model).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=AGENT_ID_PATTERN)
    name: str = Field(min_length=1)
    role: str = Field(min_length=1)
    team: str = Field(min_length=1, pattern=AGENT_ID_PATTERN)
    shift: Literal[0, 1, 2, 3] = 1
    capabilities: tuple[str, ...] = ()
    personality: Personality = Personality()
    bio: str = ""
    quirks: tuple[str, ...] = ()
    provider: str | None = None
    models: tuple[str, ...] = ()

    def digest(self) -> str:
        """A short hash of every field: learned patterns lose confidence when it changes."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


DEMO_PERSONAS: tuple[Persona, ...] = (
    Persona(
        id="DEMO-01",
        name="Dana Demo",
        role="developer",
        team="demo",
        shift=1,
        capabilities=("shell", "fs", "python", "pytest", "git"),
        personality=Personality(
            openness=0.7, conscientiousness=0.8, extraversion=0.3, neuroticism=0.3
        ),
        bio="Backend developer who writes the test first.",
        quirks=("hums while the tests run",),
    ),
    Persona(
        id="DEMO-02",
        name="Sam Sketch",
        role="designer",
        team="demo",
        shift=1,
        capabilities=(),
        personality=Personality(openness=0.9, extraversion=0.8, agreeableness=0.7),
        bio="Product designer; sketches on paper first.",
        quirks=("draws on every whiteboard",),
    ),
    Persona(
        id="DEMO-03",
        name="Lee Lead",
        role="pm",
        team="demo",
        shift=2,
        capabilities=("shell",),
        personality=Personality(conscientiousness=0.9, extraversion=0.6, morning_person=True),
        bio="Project manager who keeps the board tidy.",
    ),
)
"""The demo company: three personas so the gateway runs with no configuration at all."""


def load_personas(folder: Path | str) -> list[Persona]:
    """Load one persona per ``*.toml`` file of ``folder``, sorted by file name.

    Raises:
        ConfigError: A file is not TOML or a field is invalid; the message names both.
    """
    personas = []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read persona: {exc}", path=path) from None
        try:
            personas.append(Persona.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ConfigError(first["msg"], path=path, field=field) from None
    return personas


def persona_index(personas: Iterable[Persona]) -> Mapping[str, Persona]:
    """Index personas by id.

    Raises:
        ConfigError: Two personas share an id.
    """
    index: dict[str, Persona] = {}
    for persona in personas:
        if persona.id in index:
            raise ConfigError(f"persona id {persona.id!r} is defined twice", field="id")
        index[persona.id] = persona
    return index
