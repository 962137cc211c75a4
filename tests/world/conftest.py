"""Worlds for the tests: the shipped company, at one second and one minute per tick."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sentinel.config import Company, load_company

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="session")
def company() -> Company:
    return load_company(CONFIG)


def scaled(company: Company, time_scale: float) -> Company:
    """The company with another time scale (seconds per tick)."""
    sim = company.simulation.model_copy(update={"time_scale": time_scale})
    return dataclasses.replace(company, simulation=sim)


@pytest.fixture(scope="session")
def minute_company(company: Company) -> Company:
    """One simulated minute per tick: a day is 1440 ticks."""
    return scaled(company, 60.0)
