"""The office world: SoA components, systems in a fixed phase order, a state hash.

``World`` is the entry point; ``sentinel.world.reference`` holds the numpy systems (the
reference), ``sentinel.world.oracle`` the esper systems (the oracle and speed baseline),
and the native systems live in ``sentinel._native.world_step``.
"""

from __future__ import annotations

from sentinel.world.layout import PHASES, Action, Emotion
from sentinel.world.world import BACKENDS, Backend, World

__all__ = ["BACKENDS", "PHASES", "Action", "Backend", "Emotion", "World"]
