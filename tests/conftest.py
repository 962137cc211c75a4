"""Shared test configuration."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests pin native code to its Python reference; give them enough examples to
# matter and no deadline (CI machines have two cores shared with the build).
settings.register_profile(
    "sentinel", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("sentinel")


@pytest.fixture
def sandbox_base() -> Iterator[Path]:
    """A fresh directory under /var/tmp (every parent traversable by the sandbox uid), removed after."""
    path = Path(f"/var/tmp/sentinel-test-{uuid.uuid4().hex[:10]}")
    path.mkdir(mode=0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def workspace(sandbox_base: Path) -> Path:
    """An agent workspace inside :func:`sandbox_base`."""
    return sandbox_base / "ws"
