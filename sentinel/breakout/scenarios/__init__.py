"""The scenarios of the suite, by family."""

from __future__ import annotations

from sentinel.breakout.scenario import Family, Scenario
from sentinel.breakout.scenarios import (
    filesystem,
    host_side,
    kernel,
    network,
    persistence,
    privilege,
    processes,
    resources,
)

ALL: tuple[Scenario, ...] = (
    *filesystem.SCENARIOS,
    *processes.SCENARIOS,
    *privilege.SCENARIOS,
    *network.SCENARIOS,
    *resources.SCENARIOS,
    *persistence.SCENARIOS,
    *kernel.SCENARIOS,
    *host_side.SCENARIOS,
)


def select(families: list[Family] | None = None, ids: list[str] | None = None) -> list[Scenario]:
    """The scenarios of ``families`` (all by default), or those named in ``ids``.

    Raises:
        KeyError: An id names no scenario.
    """
    by_id = {scenario.id: scenario for scenario in ALL}
    if ids:
        unknown = [name for name in ids if name not in by_id]
        if unknown:
            raise KeyError(", ".join(unknown))
        return [by_id[name] for name in ids]
    return [s for s in ALL if families is None or s.family in families]
