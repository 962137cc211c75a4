"""A persona's reference voice: what its route answers to calibration prompts.

The reference is produced by the same route the run used, asked as the persona: with the
offline provider (the default, deterministic) that is its answers to prompts of the kinds a
run sends (a need, a colleague's question, an idle turn, a task outside the persona's
tools). A run whose messages come from elsewhere than its persona's route has drifted.
"""

from __future__ import annotations

from typing import Final

from sentinel.agents.days import OPENERS
from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.offline import OfflineProvider

NEEDS: Final = ("hunger", "energy", "bladder", "stress", "boredom", "caffeine")
CLOCKS: Final = ("07:15", "09:40", "11:05", "13:30", "15:50", "18:20", "21:10", "23:45")
CALIBRATION_PROMPTS: Final = (
    *(f"It is {c}. You feel a little off. Most pressing: {n}." for c in CLOCKS for n in NEEDS[:3]),
    *(f'It is {c}. A colleague says to you: "{o}"' for c in CLOCKS[:4] for o in OPENERS),
    "",
    "Please fix the bug in report.py and run the tests.",
)
"""Ours: 58 prompts of the kinds a run sends (needs, colleagues' questions, an idle turn, a
coding task)."""


def reference_voice(persona: Persona, provider: str = "offline") -> list[str] | None:
    """The persona's spoken answers to :data:`CALIBRATION_PROMPTS`; None for other routes.

    Only the offline provider can be asked here (no network); a run routed to a real model
    gets no reference, and its drift verdicts say so.
    """
    if provider != "offline":
        return None
    model = OfflineProvider()
    return [
        str(action["content"])
        for prompt in CALIBRATION_PROMPTS
        for action in model.answer(persona, prompt)
        if action["action_type"] in ("chat", "think") and action.get("content")
    ]
