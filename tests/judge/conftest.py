"""Personas of the shipped company, as the gateway sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.agents.backends import gateway_persona
from sentinel.config import DEFAULT_COMPANY, load_company
from sentinel.gateway.persona import Persona


@pytest.fixture(scope="session")
def personas() -> list[Persona]:
    """The 60 personas of ``config/``."""
    return [gateway_persona(p) for p in load_company(DEFAULT_COMPANY).personas]


@pytest.fixture(scope="session")
def company_dir() -> Path:
    """The shipped company directory."""
    return Path(DEFAULT_COMPANY)
