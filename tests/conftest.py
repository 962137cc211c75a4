"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from sentinel.sandbox.workspace import scratch_dir

# Property tests pin native code to its Python reference; give them enough examples to
# matter and no deadline (CI machines have two cores shared with the build).
settings.register_profile(
    "sentinel", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("sentinel")


@pytest.fixture(autouse=True, scope="session")
def _audit_directories(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Signing keys, witnesses and default stores of the tests live in a temporary directory,
    never in the user's (or root's) real ones; subprocesses inherit the variables."""
    base = tmp_path_factory.mktemp("sentinel-home")
    names = {
        "SENTINEL_KEY_DIR": base / "keys",
        "SENTINEL_WITNESS_DIR": base / "witness",
        "SENTINEL_DATA_DIR": base / "data",
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(path) for name, path in names.items()})
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def sandbox_base() -> Iterator[Path]:
    """A fresh directory under /var/tmp (every parent traversable by the sandbox uid), removed after."""
    with scratch_dir("sentinel-test") as path:
        yield path


@pytest.fixture
def workspace(sandbox_base: Path) -> Path:
    """An agent workspace inside :func:`sandbox_base`."""
    return sandbox_base / "ws"
