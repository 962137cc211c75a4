"""What an agent sends the gateway: its state fingerprint, its perception, its task.

The fingerprint buckets follow :mod:`sentinel.gateway.fingerprint`; the synthesis rules read
them, so a routine need ("bladder urgent") is answered by a rule without a model.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sentinel.gateway.fingerprint import format_fingerprint
from sentinel.world import World
from sentinel.world.params import decibels

TOO_WARM_C: Final = 26.0
"""The fingerprint's TMP field: warmer than 26 C (SEED_NOTES, Gateway)."""
TOO_LOUD_DB: Final = 65.0
"""Ours: the N field is set above 65 dB, a loud open-plan office."""
CAFFEINE_MG_PER_BUCKET: Final = 40.0
"""Caffeine buckets of 40 mg: one filter coffee (95 mg) is two buckets."""
EXTRAVERT_THRESHOLD: Final = 0.5
ROOM_IN_TRANSIT: Final = "corridor"
"""Walkers are between rooms; the fingerprint calls that the corridor."""


def _bucket(value: float, per_bucket: float = 10.0) -> int:
    return int(min(9, max(0, value // per_bucket)))


def fingerprint(world: World, index: int, *, headphones: bool = False) -> str:
    """The ``KEY:VALUE|...`` fingerprint of agent number ``index``.

    Headphones lower the noise the agent perceives: its N field stays 0.
    """
    s = world.state
    room = int(s["room"][index])
    in_room = 0 <= room < len(world.params.room_ids)
    chaos = bool(in_room and np.any((s["chaos_left"] > 0) & (s["chaos_room"] == room)))
    hour = int(world.clock()[:2])
    fields: dict[str, int | str] = {
        "H": _bucket(float(s["hunger"][index])),
        "E": _bucket(float(s["energy"][index])),
        "B": _bucket(float(s["bladder"][index])),
        "S": _bucket(float(s["stress"][index])),
        "C": _bucket(float(s["caffeine"][index]), CAFFEINE_MG_PER_BUCKET),
        "SN": _bucket(float(s["social"][index])),
        "P": max(0, int(s["occupancy"][room]) - 1) if in_room else 0,
        "CH": int(chaos),
        "HR": int(s["chat_left"][index] > 0),
        "T": hour,
        "TMP": int(in_room and float(s["temperature"][room]) > TOO_WARM_C),
        "N": int(in_room and not headphones and float(decibels(s["noise"][room])) > TOO_LOUD_DB),
        "IM": 0,
        "R": world.params.room_ids[room] if in_room else ROOM_IN_TRANSIT,
        "PE": "E" if float(s["extraversion"][index]) >= EXTRAVERT_THRESHOLD else "I",
    }
    return format_fingerprint(fields)


def need_prompt(world: World, index: int, reason: str, last_result: str | None) -> str:
    """The user message of a decision: what the agent notices, what presses, what came back."""
    parts = [f"It is {world.clock()}. {world.perception(index).capitalize()}."]
    parts.append(f"Most pressing: {reason.replace('_', ' ')}.")
    if last_result:
        parts.append(last_result)
    return " ".join(parts)


def task_prompt(agent_id: str, number: int) -> str:
    """A coding task for a developer: create, test, run, look over, commit a module.

    "Look over" is for the WASI tools: search it, check its size and its checksum.
    """
    module = f"task_{agent_id.lower().replace('-', '_')}_{number:03d}"
    return (
        f"Create {module}.py, test it with pytest, run it, search it for functions, "
        "check its size and checksum, and commit it."
    )


def result_line(exit_code: int | None, output: str) -> str:
    """How a tool result reads in the next perception.

    Only the status and the output's size: a model reading its own file names and commands
    back would take them for a new task (the offline provider does exactly that).
    """
    status = "succeeded" if exit_code == 0 else f"failed (exit {exit_code})"
    if exit_code is None:
        status = "was killed"
    return f"Your last tool call {status}, with {len(output)} characters of output."
