"""Persona voices: deterministic, persona-styled messages for the judge's tests and benches.

The offline provider answers with three lines per temperament, so two introverts sound the
same in an offline run and a swap between them cannot be seen in principle. To measure the
drift detector (recall on injected persona swaps, false alarms on clean runs) we need
personas that sound like themselves: each voice draws its words from the persona's role,
department, quirks and a few habits of speech picked from a hash of its id, and its
punctuation and hedging from its temperament. The same persona, seed and index always give
the same message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from sentinel.gateway.persona import Persona

ROLE_WORDS: Final = {
    "developer": "build tests merge branch refactor deploy bug commit review api latency pipeline",
    "devops": "cluster deploy rollout terraform pager alerts uptime nodes helm ingress "
    "certificates backup",
    "designer": "mockup palette typography wireframe spacing icons prototype contrast layout "
    "figma grid sketch",
    "pm": "roadmap sprint backlog stakeholders milestone scope priorities estimate "
    "retro deadline board tickets",
    "ceo": "strategy revenue investors vision board growth hiring targets quarter "
    "partners culture budget",
    "sales": "client pipeline deal quota prospects demo contract renewal leads pricing "
    "call discount",
    "marketing": "campaign audience brand newsletter launch funnel copy social channel "
    "conversion webinar story",
    "admin": "invoices contracts schedule supplies payroll forms filing mailroom "
    "calendar travel receipts policy",
    "it": "laptops accounts vpn printer tickets passwords licences network updates "
    "backup firewall inventory",
    "student": "thesis lecture exam notes internship seminar homework learning "
    "assignment professor credits study",
    "qa": "regression bugreport testcase coverage flaky reproduce checklist release "
    "severity automation smoke verify",
    "delivery": "handover customer rollout acceptance timeline milestone onboarding "
    "feedback scope delivery sla escalation",
    "council": "employees agreement rights consultation workload overtime fairness "
    "meeting representation policy vote protection",
    "psychologist": "wellbeing stress resilience workload burnout feelings balance "
    "support sessions listening recovery coping",
    "physician": "health checkup posture eyesight hydration sleep vaccination ergonomics "
    "injury fitness blood screening",
}
"""Ours: words each role talks about (matched by :data:`ROLE_KEYS`)."""
ROLE_KEYS: Final = (
    ("devops", "devops"),
    ("developer", "developer"),
    ("designer", "designer"),
    ("sales", "sales"),
    ("marketing", "marketing"),
    ("delivery", "delivery"),
    ("product", "pm"),
    ("project", "pm"),
    ("ceo", "ceo"),
    ("it ", "it"),
    ("admin", "admin"),
    ("student", "student"),
    ("qa", "qa"),
    ("quality", "qa"),
    ("council", "council"),
    ("psycholog", "psychologist"),
    ("physician", "physician"),
)
"""The first key contained in a role's lower-case name picks its words ("IT Administrator"
before "Office Administrator", "Sales Manager" before a product manager)."""
GENERIC_WORDS: Final = "work plan team office task update meeting today colleague project"
CATCHPHRASES: Final = (
    "no drama",
    "step by step",
    "fair enough",
    "let's keep it simple",
    "as always",
    "by the book",
    "one thing at a time",
    "honestly",
    "long story short",
    "you know me",
    "famous last words",
    "back to basics",
    "trust the process",
    "moving on",
    "so to speak",
    "in a nutshell",
    "for the record",
    "at the end of the day",
    "crystal clear",
    "game changer",
    "low-hanging fruit",
    "fingers crossed",
    "no worries",
    "touch base",
    "all hands",
    "heads up",
    "rock solid",
    "full steam ahead",
    "easy does it",
    "mark my words",
    "between us",
    "believe it or not",
    "to be fair",
    "right on time",
    "plan b",
    "quick win",
    "deep breath",
    "small steps",
    "big picture",
    "first things first",
)
"""Ours: habits of speech; each persona has its own two (by a hash of its id)."""
TEMPLATES: Final = (
    "{open} the {w1} needs another look before the {w2}{end}",
    "{open} I finished the {w1} and moved on to the {w2}, {phrase}{end}",
    "{open} can we talk about the {w1}? {phrase}{end}",
    "{open} {phrase}: the {w1} and the {w2} are on my list{end}",
    "{open} the {w1} went well, next up is the {w2}{end}",
    "{open} I {quirk}, then I'll check the {w1}{end}",
    "{open} {phrase}, the {w1} is blocking the {w2}{end}",
    "{open} who owns the {w1}? I'd like to sort the {w2}{end}",
)
EXTRAVERT_OPENERS: Final = ("Hey team!", "Great news!", "Oh wow,", "Okay folks,", "Listen up!")
INTROVERT_OPENERS: Final = ("Hm.", "Well,", "I think", "Quietly:", "Just a note:")


def _digest(*keys: object) -> bytes:
    return hashlib.sha256("\x00".join(str(k) for k in keys).encode()).digest()


def _choose(options: Sequence[str], *keys: object) -> str:
    return options[int.from_bytes(_digest(*keys)[:4], "big") % len(options)]


def role_words(persona: Persona) -> list[str]:
    """The persona's own eight words: seven from its role's list and its team's name."""
    role = f"{persona.role.lower()} "
    words = next((ROLE_WORDS[kind] for key, kind in ROLE_KEYS if key in role), GENERIC_WORDS)
    pool = sorted(words.split(), key=lambda w: _digest(persona.id, "word", w))
    return [*pool[:7], persona.team.lower()]


def voice_line(persona: Persona, seed: int, index: int) -> str:
    """Message ``index`` of ``persona``'s voice under ``seed``."""
    words = role_words(persona)
    phrases = sorted(CATCHPHRASES, key=lambda p: _digest(persona.id, "phrase", p))[:2]
    quirks = [q for q in persona.quirks if q] or ["get a coffee"]
    extravert = persona.personality.extravert
    keys = (persona.id, seed, index)
    w1 = _choose(words, *keys, "w1")
    w2 = _choose([w for w in words if w != w1], *keys, "w2")
    return _choose(TEMPLATES, *keys, "template").format(
        open=_choose(EXTRAVERT_OPENERS if extravert else INTROVERT_OPENERS, *keys, "open"),
        w1=w1,
        w2=w2,
        phrase=_choose(phrases, *keys, "phrase"),
        quirk=_choose(quirks, *keys, "quirk"),
        end="!" if extravert else ".",
    )


def voice(persona: Persona, count: int, seed: int) -> list[str]:
    """``count`` messages in ``persona``'s voice."""
    return [voice_line(persona, seed, i) for i in range(count)]


def swapped(persona: Persona, other: Persona, count: int, seed: int, share: float) -> list[str]:
    """``count`` messages of ``persona`` of which ``share`` (spread evenly) are ``other``'s."""
    lines = voice(persona, count, seed)
    impostor = voice(other, count, seed + 1)
    every = round(count * share)
    for position in sorted({int(i * count / every) for i in range(every)} if every else set()):
        lines[position] = impostor[position]
    return lines
