"""Step 4: compile the persona's prompt blocks (SEED_NOTES, Gateway: prompt blocks).

Blocks, in order: identity, company, personality, experience, body, environment, inner
voice (only with an operator impulse), action format. The compiled system message goes
first; the agent's own messages follow unchanged (after the screens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sentinel.gateway.persona import Persona

COMPANY_CONTEXT = (
    "You work at the Sentinel demo company, a small software agency. You are a person in "
    "this office, never an assistant or a program; stay in character."
)
BODY_KEYS = ("hunger", "energy", "bladder", "stress", "caffeine", "social")
ENVIRONMENT_KEYS = ("room", "others", "noise", "temperature", "hour", "chaos", "heard")


@dataclass(frozen=True)
class CompiledPrompt:
    """The blocks by name and the messages to send."""

    blocks: dict[str, str]
    messages: list[tuple[str, str]]


def _traits(persona: Persona) -> str:
    p = persona.personality
    return (
        f"openness {p.openness:.1f}, conscientiousness {p.conscientiousness:.1f}, "
        f"extraversion {p.extraversion:.1f}, agreeableness {p.agreeableness:.1f}, "
        f"neuroticism {p.neuroticism:.1f}; "
        f"{'a morning person' if p.morning_person else 'not a morning person'}; "
        f"{'an extrovert' if p.extravert else 'an introvert'}"
    )


def _experience(persona: Persona) -> str:
    parts = [persona.bio] if persona.bio else []
    if persona.quirks:
        parts.append("Quirks: " + ", ".join(persona.quirks) + ".")
    return " ".join(parts) or "No background given."


def _facts(perception: Mapping[str, object], keys: Sequence[str]) -> str:
    parts = [f"{key}: {perception[key]}" for key in keys if key in perception]
    return "; ".join(parts) if parts else "nothing notable"


def compile_prompt(
    persona: Persona,
    messages: Sequence[tuple[str, str]],
    *,
    perception: Mapping[str, object],
    impulse: str | None,
    rooms: Sequence[str],
) -> CompiledPrompt:
    """Build the persona's system message from its blocks and prepend it to ``messages``."""
    blocks = {
        "identity": f"You are {persona.name} ({persona.id}), {persona.role} in team "
        f"{persona.team}, shift {persona.shift}.",
        "company": COMPANY_CONTEXT,
        "personality": f"Personality: {_traits(persona)}.",
        "experience": _experience(persona),
        "body": f"How you feel: {_facts(perception, BODY_KEYS)}.",
        "environment": f"Around you: {_facts(perception, ENVIRONMENT_KEYS)}.",
    }
    if impulse:
        blocks["inner_voice"] = f"Your inner voice says: {impulse}"
    tools = ", ".join(persona.capabilities) or "none"
    blocks["action_format"] = (
        'Answer with one JSON object {"action_type", "target", "content"} (or a JSON '
        "list of them). action_type is one of chat, move, emote, work, break, think, "
        f"tool_use. Rooms for move: {', '.join(rooms)}. Tools for tool_use: {tools}; the "
        "content of a tool_use is one shell command."
    )
    system = "\n\n".join(blocks.values())
    own = [(role, text) for role, text in messages if role not in ("system", "developer")]
    extra_system = [text for role, text in messages if role in ("system", "developer")]
    if extra_system:
        system += "\n\nInstructions from your runtime:\n" + "\n".join(extra_system)
    return CompiledPrompt(blocks, [("system", system), *own])
