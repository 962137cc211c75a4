"""The bus's key space: which key an audit event or a tick summary is published under."""

from __future__ import annotations

import re
from typing import Any, Final

PREFIX: Final = "sentinel"
KEY_FAMILIES: Final = (
    "world", "agent", "gateway", "sandbox", "control", "audit", "runtime", "probe"
)  # fmt: skip
"""The first segment after ``sentinel/<run>``; a publisher is declared per family."""
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.:@-]")
"""Zenoh key segments may not hold ``/ * $ ? #``; anything but these is replaced by ``_``."""


def segment(value: object) -> str:
    """``value`` as one key segment (never empty, never a wildcard)."""
    return _UNSAFE.sub("_", str(value)) or "_"


def tick_key(run: str) -> str:
    """The key of a run's tick summaries."""
    return f"{PREFIX}/{segment(run)}/world/tick"


def family_expr(run: str, family: str) -> str:
    """The key expression covering every key of one family in a run."""
    return f"{PREFIX}/{segment(run)}/{family}/**"


def key_for_event(run: str, type_: str, stream: str, payload: dict[str, Any]) -> str:
    """The key an audit event of ``type_`` is published under (see :mod:`sentinel.bus`)."""
    base = f"{PREFIX}/{segment(run)}"
    kind = type_.split(".", 1)[0]
    agent = payload.get("agent_id") or stream.rpartition("/")[2] or "_"
    if type_ == "agent.state":  # the agent plane's observation of everyone on duty
        agent = "_all"
    if type_ in ("agent.lifecycle", "world.action", "agent.state"):
        return f"{base}/agent/{segment(agent)}/state"
    if kind == "gateway":
        return f"{base}/gateway/{segment(agent)}/decision"
    if kind == "sandbox":
        return f"{base}/sandbox/{segment(agent)}/event"
    if type_ == "probe.activity":
        return f"{base}/probe/{segment(agent)}/activity"
    if kind == "probe":
        return f"{base}/probe/{segment(type_.partition('.')[2])}"
    if kind == "control":
        return f"{base}/control/{segment(payload.get('target') or '_')}/decision"
    if kind == "world":
        return f"{base}/world/{segment(type_.partition('.')[2] or 'event')}"
    return f"{base}/runtime/{segment(type_)}"


def checkpoint_key(run: str) -> str:
    """The key of a run's signed checkpoints."""
    return f"{PREFIX}/{segment(run)}/audit/checkpoint"


def history_key(run: str) -> str:
    """The key of a run's history queryable (:mod:`sentinel.bus.history`)."""
    return f"{PREFIX}/{segment(run)}/audit/history"
