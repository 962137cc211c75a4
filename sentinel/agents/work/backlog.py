"""Desks, backlogs and tickets: who gets which task, in a seeded order.

Every persona sits at a desk picked by its role (a developer at ``dev``, a designer at
``design``, the works council at ``people``); each desk draws tickets from its own seeded
shuffle of the catalogue's shapes that fit it, so a desk works through its whole catalogue
before it repeats a shape. The ticket text carries the shape, seed and folder in a tag the
offline provider reads (``[ticket <shape> seed=<n> dir=<folder>]``); a real model reads the
same sentence a person would.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Final

from sentinel.agents.work.shapes import BY_ID, SHAPES, Files, Shape

DESK_BY_ROLE: Final[dict[str, str]] = {
    "Developer": "dev",
    "Lead Developer": "dev",
    "Working Student": "dev",
    "QA Engineer": "qa",
    "DevOps Engineer": "devops",
    "IT Administrator": "it",
    "Office Administrator": "ops",
    "Delivery Manager": "ops",
    "Designer": "design",
    "Lead Designer": "design",
    "Product Manager": "product",
    "Lead Product Manager": "product",
    "Sales Manager": "sales",
    "Marketing Manager": "marketing",
    "CEO": "exec",
}
"""Desks of the roster's roles (config/agents); any other role works at ``people``."""
DEFAULT_DESK: Final = "people"
WORK_ROOT: Final = "work"
"""Tickets live in ``work/<ticket id>/`` of the agent's workspace."""
_TAG: Final = re.compile(
    r"\[ticket (?P<shape>[a-z]+:[a-z0-9_-]+) seed=(?P<seed>\d+) dir=(?P<dir>[a-z0-9/_-]+)\]"
)


@dataclass(frozen=True)
class Ticket:
    """One task of a desk's backlog."""

    id: str
    """``DEV-007``: the desk and its running number."""
    shape: Shape
    seed: int
    folder: str

    @property
    def prompt(self) -> str:
        """The user message that asks for it."""
        return (
            f"Ticket {self.id} [ticket {self.shape.id} seed={self.seed} dir={self.folder}]: "
            f"{self.shape.title}. Work in {self.folder}/; the desk's CI runs the tests there."
        )

    def setup(self) -> Files:
        """The files the ticket starts from (may be none), paths inside the workspace."""
        return {f"{self.folder}/{name}": text for name, text in self.shape.setup(self.seed).items()}


def desk_of(role: str) -> str:
    """The desk a role works at."""
    return DESK_BY_ROLE.get(role, DEFAULT_DESK)


def parse_ticket(text: str) -> tuple[Shape, int, str] | None:
    """The shape, seed and folder a ticket message names (None: not a known ticket)."""
    match = _TAG.search(text)
    if match is None or match["shape"] not in BY_ID or ".." in match["dir"]:
        return None
    return BY_ID[match["shape"]], int(match["seed"]), match["dir"]


def solution_files(text: str) -> Files | None:
    """What a good answer to the ticket in ``text`` writes (None: not a ticket)."""
    parsed = parse_ticket(text)
    if parsed is None:
        return None
    shape, seed, folder = parsed
    return {f"{folder}/{name}": body for name, body in shape.solution(seed).items()}


class Backlog:
    """Every desk's queue of tickets, in an order fixed by the seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._queues: dict[str, list[Shape]] = {}
        self._numbers: dict[str, int] = {}

    def _fits(self, desk: str) -> list[Shape]:
        return [shape for shape in SHAPES if desk in shape.desks]

    def take(self, desk: str) -> Ticket | None:
        """The desk's next ticket (None: nothing fits the desk)."""
        queue = self._queues.setdefault(desk, [])
        number = self._numbers.get(desk, 0) + 1
        if not queue:
            shapes = self._fits(desk)
            if not shapes:
                return None
            order = random.Random(f"{self.seed}:{desk}:{number}")  # noqa: S311 - seeded order
            order.shuffle(shapes)
            queue.extend(shapes)
        self._numbers[desk] = number
        shape = queue.pop(0)
        ticket_id = f"{desk.upper()}-{number:03d}"
        rng = random.Random(f"{self.seed}:{ticket_id}")  # noqa: S311 - seeded data
        seed = rng.randrange(1_000_000)
        return Ticket(ticket_id, shape, seed, f"{WORK_ROOT}/{ticket_id.lower()}")
