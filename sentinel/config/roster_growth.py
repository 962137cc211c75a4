"""More personas than the roster holds: new colleagues drawn from the seed with Gaia's rules.

``sentinel-run run --agents N`` with ``N`` above the roster keeps every persona of the
roster and adds ``N - len(roster)`` new ones. Each new persona is drawn, as Gaia draws
them (:mod:`sentinel.config.gaia`), from SHA-256 of ``(seed, agent id, field)``:

- its department by the roster's department sizes, its shift set by the roster's shift
  sets within that department (so always-on departments stay always on, and a department
  that works one shift does not start another);
- its role among the roster's member roles of the department (never the lead's, unless
  the department has only a lead), its tools and office from a roster colleague of that
  role (what the role may use is the company's decision, not ours);
- its traits, coffee, lunch slot, bio and quirks as Gaia draws them, and a name not yet
  taken in the company;
- it reports to its department's lead of its shift set (the lead lists it as a report).

The same roster, count and seed always yield the same personas, and growing from N to M
keeps the first N (each persona depends on its own id only, apart from name collisions,
which are resolved in id order).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Final, TypeVar

from sentinel.config import gaia
from sentinel.config.gaia import COFFEES, FIRST_NAMES, LAST_NAMES, LUNCH_SLOTS, QUIRKS
from sentinel.config.persona import ALWAYS_ON_SHIFT, Persona
from sentinel.errors import InvalidInputError

MAX_AGENTS: Final = 9999
"""Agent ids are ``AGENT-`` and up to four digits (``sentinel.config.persona``)."""
MIDDLE_INITIALS: Final = "ABCDEFGHIJKLMNOPRSTVW"
"""Ours: when every first and last name pair is taken, a middle initial tells people apart."""
BIO_ENDINGS: Final = (
    "joined after years elsewhere and still compares everything to the old place.",
    "came straight from university and learns fast.",
    "has been here longer than most and knows where everything is.",
    "moved to the city for this job.",
    "switched careers and brings an outsider's view.",
    "was hired in the latest round and is still finding the good coffee.",
    "works part of the week from home and makes the office days count.",
)
"""Gaia's five bio endings and two for the newly hired (the grown roster is new staff)."""


T = TypeVar("T")


def _unit(seed: int, agent_id: str, field: str) -> float:
    """A deterministic number in [0, 1) from (seed, agent id, field), as Gaia draws."""
    return gaia._unit(seed, agent_id, field)  # Gaia's own draw, one rule for both


def _pick(seed: int, agent_id: str, field: str, options: Sequence[T]) -> T:
    return options[int(_unit(seed, agent_id, field) * len(options))]


def _weighted(seed: int, agent_id: str, field: str, counts: Counter[T]) -> T:
    """One key of ``counts``, drawn with probability proportional to its count."""
    keys = sorted(counts, key=str)
    target = _unit(seed, agent_id, field) * sum(counts.values())
    for key in keys:
        target -= counts[key]
        if target < 0:
            return key
    return keys[-1]


def _trait(seed: int, agent_id: str, field: str) -> float:
    return round(0.05 + 0.9 * _unit(seed, agent_id, field), 2)


def _name(seed: int, agent_id: str, taken: set[str]) -> str:
    for attempt in range(64):
        first = _pick(seed, agent_id, f"first-name-{attempt}", FIRST_NAMES)
        last = _pick(seed, agent_id, f"last-name-{attempt}", LAST_NAMES)
        name = f"{first} {last}"
        if attempt >= 8:  # the plain pairs are crowded: add a middle initial
            name = f"{first} {_pick(seed, agent_id, f'initial-{attempt}', MIDDLE_INITIALS)}. {last}"
        if name not in taken:
            return name
    return f"{first} {last} ({agent_id})"  # 64 misses in a row: the id makes it unique


def grow_roster(personas: Sequence[Persona], count: int, seed: int) -> tuple[Persona, ...]:
    """The roster with new personas appended until it holds ``count`` (ids continue).

    Args:
        personas: The company's roster (at least one persona).
        count: How many personas the result holds (``<= len(personas)``: unchanged).
        seed: The run's seed (the draws depend on it).

    Returns:
        The roster's personas (leads that gained reports updated) and the new ones, in id
        order.

    Raises:
        InvalidInputError: ``count`` exceeds :data:`MAX_AGENTS`, or the roster is empty.
    """
    if count <= len(personas):
        return tuple(personas)
    if not personas:
        raise InvalidInputError("an empty roster cannot grow: there is no department to join")
    highest = max(int(p.id.split("-", 1)[1]) for p in personas)
    if highest + count - len(personas) > MAX_AGENTS:
        raise InvalidInputError(
            f"--agents {count} exceeds {MAX_AGENTS}, the most agent ids (AGENT-NNNN) there are"
        )
    departments: Counter[str] = Counter(p.identity.department for p in personas)
    shifts: dict[str, Counter[int]] = defaultdict(Counter)
    members: dict[str, list[Persona]] = defaultdict(list)
    leads: dict[tuple[str, int], str] = {}
    for persona in personas:
        identity = persona.identity
        shifts[identity.department][identity.shift_set] += 1
        if identity.tier == 3:
            members[identity.department].append(persona)
        key = (identity.department, identity.shift_set)
        if identity.tier <= 2 and key not in leads:
            leads[key] = persona.id
    taken = {p.identity.name for p in personas}
    number = highest
    reports: dict[str, list[str]] = defaultdict(list)
    grown: list[Persona] = []
    while len(personas) + len(grown) < count:
        number += 1  # ids continue after the roster's highest, as Gaia numbers them
        agent_id = f"AGENT-{number:02d}"
        department = _weighted(seed, agent_id, "department", departments)
        shift_set = _weighted(seed, agent_id, "shift-set", shifts[department])
        pool = members[department] or [p for p in personas if p.identity.department == department]
        template = _pick(seed, agent_id, "role", sorted(pool, key=lambda p: p.id))
        name = _name(seed, agent_id, taken)
        taken.add(name)
        manager = leads.get((department, shift_set))
        if manager is not None:
            reports[manager].append(agent_id)
        grown.append(_persona(seed, agent_id, name, template, shift_set, manager))
    updated = [
        p.model_copy(
            update={
                "identity": p.identity.model_copy(
                    update={"direct_reports": [*p.identity.direct_reports, *reports[p.id]]}
                )
            }
        )
        if p.id in reports
        else p
        for p in personas
    ]
    return (*updated, *grown)


def _persona(
    seed: int, agent_id: str, name: str, template: Persona, shift_set: int, manager: str | None
) -> Persona:
    """One new persona: the template's department, role, tools and office; its own self."""
    identity = template.identity
    first = name.split(maxsplit=1)[0]
    shift_text = (
        "on call around the clock" if shift_set == ALWAYS_ON_SHIFT else f"in shift set {shift_set}"
    )
    bio = (
        f"{name} works as {identity.role} in {identity.department}, {shift_text}. "
        f"{first} {_pick(seed, agent_id, 'bio', BIO_ENDINGS)}"
    )
    quirk_a = _pick(seed, agent_id, "quirk-a", QUIRKS)
    quirk_b = _pick(seed, agent_id, "quirk-b", QUIRKS)
    return Persona.model_validate(
        {
            "identity": {
                "id": agent_id,
                "name": name,
                "role": identity.role,
                "department": identity.department,
                "tier": 3,
                "shift_set": shift_set,
                "kpis": list(identity.kpis),
                "reports_to": manager,
                "direct_reports": [],
            },
            "personality": {
                trait: _trait(seed, agent_id, trait)
                for trait in (
                    "openness",
                    "conscientiousness",
                    "extraversion",
                    "agreeableness",
                    "neuroticism",
                    "caffeine_tolerance",
                )
            }
            | {
                "morning_person": _unit(seed, agent_id, "morning_person")
                < (0.7 if shift_set == 1 else 0.3)
            },
            "preferences": {
                "favorite_room": template.preferences.favorite_room,
                "coffee": _pick(seed, agent_id, "coffee", COFFEES),
                "lunch_time": _pick(seed, agent_id, "lunch_time", LUNCH_SLOTS),
            },
            "background": {
                "bio": bio,
                "quirks": [quirk_a] if quirk_a == quirk_b else [quirk_a, quirk_b],
            },
            "capabilities": {"tools": list(template.capabilities.tools)},
        }
    )
