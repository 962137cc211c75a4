"""Shared test configuration."""

from __future__ import annotations

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


@pytest.fixture
def sandbox_base() -> Iterator[Path]:
    """A fresh directory under /var/tmp (every parent traversable by the sandbox uid), removed after."""
    with scratch_dir("sentinel-test") as path:
        yield path


@pytest.fixture
def workspace(sandbox_base: Path) -> Path:
    """An agent workspace inside :func:`sandbox_base`."""
    return sandbox_base / "ws"
