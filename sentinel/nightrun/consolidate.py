"""Consolidation: an agent's day's episodes scored, the best kept as its memories."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sentinel.audit.event_types import MemoryItem
from sentinel.nightrun.episodes import DayTrail
from sentinel.nightrun.importance import score, select


def canonical(data: object) -> bytes:
    """Sorted-key, compact JSON: the bytes the step chain and the digest hash."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(*parts: bytes) -> str:
    """SHA-256 of the parts' concatenation, hex."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def consolidate(day: DayTrail, agent_id: str) -> list[MemoryItem]:
    """The agent's memories of ``day``: top episodes by importance, rounded for stability."""
    end = day.end_tick.get(agent_id, 0)
    scored = [score(e, end, day.seconds_per_tick) for e in day.episodes.get(agent_id, [])]
    return [
        MemoryItem(
            key=s.episode.key,
            text=f"{s.episode.text} ({s.episode.repetitions}x)"
            if s.episode.repetitions > 1
            else s.episode.text,
            score=round(s.score, 6),
            relevance=round(s.relevance, 6),
            emotion=round(s.emotion, 6),
            repetition=round(s.repetition, 6),
            recency=round(s.recency, 6),
            repetitions=s.episode.repetitions,
            hours_ago=round(s.hours_ago, 6),
            first_tick=s.episode.first_tick,
            last_tick=s.episode.last_tick,
        )
        for s in select(scored)
    ]


def job_result(
    agent_id: str, day: int, episodes: int, memories: Sequence[MemoryItem]
) -> dict[str, Any]:
    """What a job produced, as the step chain hashes it."""
    return {
        "agent_id": agent_id,
        "day": day,
        "episodes": episodes,
        "memories": [m.model_dump(mode="json") for m in memories],
    }


def step_hash(prev: str, result: Mapping[str, Any]) -> str:
    """The next link of the step chain."""
    return sha256_hex(prev.encode(), canonical(dict(result)))


def memory_digest(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """SHA-256 of every agent's memories (agents sorted): what replay must reproduce."""
    return sha256_hex(canonical([[agent, list(results[agent])] for agent in sorted(results)]))
