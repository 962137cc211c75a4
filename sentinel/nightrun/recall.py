"""Recall: the memories the next shift's prompts carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from sentinel.audit import AuditStore
from sentinel.nightrun.queue import STREAM

RECALLED: Final = 3
"""Ours: a prompt carries an agent's three most important memories (prompts stay short)."""


def latest_memories(store: AuditStore) -> dict[str, list[str]]:
    """Per agent, the texts of its memories from the last finished nightrun, best first."""
    finished = None
    for event in store.read(stream=STREAM, type="nightrun.finished"):
        finished = str(event.payload["run_key"])
    memories: dict[str, list[str]] = {}
    if finished is None:
        return memories
    for event in store.read(stream=STREAM, type="nightrun.memory"):
        if event.payload["run_key"] == finished:
            memories[str(event.payload["agent_id"])] = [
                str(m["text"]) for m in event.payload["memories"]
            ]
    return memories


def with_memories(prompt: str, memories: Sequence[str] | None) -> str:
    """``prompt`` with the agent's top memories appended ("You remember: ...")."""
    if not memories:
        return prompt
    return f"{prompt} You remember from yesterday: {'; '.join(memories[:RECALLED])}."


def recall_table(memories: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """A copy trimmed to what prompts carry."""
    return {agent: list(texts[:RECALLED]) for agent, texts in memories.items()}
