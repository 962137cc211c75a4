"""Perception bands to English text (what the prompt compiler will show an agent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

BAND_TEXT: Final = (
    ("", "slightly hungry", "very hungry"),
    ("very tired", "sluggish", "", "full of energy"),
    ("", "some caffeine in the blood", "wide awake from caffeine"),
    ("", "slight need for the bathroom", "urgently needs the bathroom"),
    ("", "slightly stressed", "very stressed"),
    ("wants to be alone", "", "wants to talk to someone"),
    ("quiet", "normal noise", "lively", "loud", "unbearably loud"),
    ("fresh air", "", "stuffy air", "headache from stale air"),
    ("", "too warm"),
)
"""Per channel of :data:`~sentinel.world.layout.PERCEPTION_CHANNELS`, text per band."""


def describe(bands: Sequence[int]) -> str:
    """The non-empty phrases of one agent's perception bands, joined by commas."""
    phrases = [BAND_TEXT[channel][band] for channel, band in enumerate(bands)]
    return ", ".join(phrase for phrase in phrases if phrase)
