"""Shared test configuration."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests pin native code to its Python reference; give them enough examples to
# matter and no deadline (CI machines have two cores shared with the build).
settings.register_profile(
    "sentinel", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("sentinel")
