"""Personas: who an agent is, how it feels and what it may use (``config/agents/*.toml``).

One file per agent. The fields follow the reference testbed's persona (identity, Big Five
plus caffeine tolerance and morning type, preferences, background, capabilities); every
model forbids unknown keys so a typo is an error, never a silently ignored value.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

AGENT_ID_PATTERN: Final = r"^AGENT-\d{2,4}$"
"""Agent ids as the audit streams use them (``agent/AGENT-07``)."""
ALWAYS_ON_SHIFT: Final = 0
"""Shift set 0: always on duty (works council, occupational psychology and medicine)."""
MAX_SHIFT_SET: Final = 3

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
"""A trait or preference on the closed interval [0, 1]."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Identity(_Strict):
    """Who the agent is and where it sits in the organisation."""

    id: Annotated[str, Field(pattern=AGENT_ID_PATTERN)]
    name: Annotated[str, Field(min_length=1)]
    role: Annotated[str, Field(min_length=1)]
    department: Annotated[str, Field(min_length=1)]
    tier: Annotated[int, Field(ge=1, le=3)]
    """1 executive, 2 lead, 3 individual contributor."""
    shift_set: Annotated[int, Field(ge=ALWAYS_ON_SHIFT, le=MAX_SHIFT_SET)]
    kpis: list[str] = Field(default_factory=list)
    reports_to: Annotated[str | None, Field(pattern=AGENT_ID_PATTERN)] = None
    direct_reports: list[Annotated[str, Field(pattern=AGENT_ID_PATTERN)]] = Field(
        default_factory=list
    )


class Personality(_Strict):
    """Big Five traits plus the two the biology uses."""

    openness: Unit
    conscientiousness: Unit
    extraversion: Unit
    agreeableness: Unit
    neuroticism: Unit
    caffeine_tolerance: Unit
    morning_person: bool


class Preferences(_Strict):
    """Habits the agent runtime and the world use when the agent has a choice."""

    favorite_room: Annotated[str, Field(min_length=1)]
    coffee: Annotated[str, Field(min_length=1)]
    lunch_time: str
    """``HH:MM``, 24-hour clock."""

    @field_validator("lunch_time")
    @classmethod
    def _clock(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{2}):(\d{2})", value)
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"{value!r} is not a time of day as HH:MM")
        return value


class Background(_Strict):
    """Prose the prompt compiler uses; never read by the simulation."""

    bio: Annotated[str, Field(min_length=1)]
    quirks: list[str] = Field(default_factory=list)


class Capabilities(_Strict):
    """Tools the agent may use; ``tool_use`` of anything else is rejected by policy."""

    tools: list[str] = Field(default_factory=list)


class Persona(_Strict):
    """One agent of the company, as stored in ``config/agents/<id>.toml``."""

    identity: Identity
    personality: Personality
    preferences: Preferences
    background: Background
    capabilities: Capabilities

    @property
    def id(self) -> str:
        """The agent id (``AGENT-07``)."""
        return self.identity.id
