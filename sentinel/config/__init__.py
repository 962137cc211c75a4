"""Configuration: pydantic models for every TOML file, the company loader and Gaia."""

from __future__ import annotations

from sentinel.config.company import DEFAULT_COMPANY, Company, load_company
from sentinel.config.persona import Persona
from sentinel.config.rooms import FloorPlan, Room, RoomKind
from sentinel.config.simulation import Simulation

__all__ = [
    "DEFAULT_COMPANY",
    "Company",
    "FloorPlan",
    "Persona",
    "Room",
    "RoomKind",
    "Simulation",
    "load_company",
]
