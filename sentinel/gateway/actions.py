"""Step 7: extract actions from a reply and check them against the persona's capabilities.

Extraction tries, in order (SEED_NOTES, Gateway): a JSON object (or a JSON list of them)
anywhere in the reply; a labelled block (``ACTION: move`` / ``TARGET: kitchen`` /
``CONTENT: ...``); the text itself, where movement verbs make a ``move``, tool verbs a
``tool_use`` and anything else a ``chat``. Each action is then checked: a known type, a
known room for ``move``, a tool the persona lists for ``tool_use``. Rejections carry the
reference's reason codes.

A WASI tool is a ``tool_use`` whose target is ``wasm:<name>`` (one of
:data:`sentinel.sandbox.wasi_tools.TOOLS`) and whose content is its arguments; in text, a
``$ wasm:<name> ARGS`` line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from sentinel.gateway.persona import Persona
from sentinel.sandbox.wasi_tools import TOOLS as WASI_TOOLS
from sentinel.sandbox.wasi_tools import wasi_tool

ACTION_TYPES: Final = ("chat", "move", "emote", "work", "break", "think", "tool_use")
ActionType = Literal["chat", "move", "emote", "work", "break", "think", "tool_use"]
Source = Literal["json", "labelled", "text"]

_LABEL = re.compile(r"^\s*(ACTION|TYPE|TARGET|CONTENT|COMMAND)\s*:\s*(.*)$", re.IGNORECASE)
_MOVE_VERBS = re.compile(
    r"\b(?:go(?:es|ing)?|walk(?:s|ing)?|head(?:s|ing)?|move(?:s)?)\s+(?:to|into)\s+"
    r"(?:the\s+)?([a-z0-9_-]+)",
    re.IGNORECASE,
)
_TOOL_LINE = re.compile(r"^\s*\$\s+(.+)$", re.MULTILINE)
_WASI_COMMAND = re.compile(r"^(wasm:[A-Za-z0-9_-]+)(?:\s+(.*))?$")
_TOOL_OF_COMMAND: Final = (
    (re.compile(r"^(?:python3?\s+-m\s+pytest|pytest)\b"), "pytest"),
    (re.compile(r"^python3?\b"), "python"),
    (re.compile(r"^git\b"), "git"),
    (re.compile(r"^(?:printf|cat|echo|touch|mkdir|tee)\b.*>"), "fs"),
)


class Action(BaseModel):
    """One action: ``{action_type, target, content}`` as the action-format block asks."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action_type: ActionType
    target: str | None = None
    content: str = ""


@dataclass(frozen=True)
class Rejection:
    """An action refused by the capability policy, with the reference's reason code."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Extraction:
    """Actions accepted, rejections, and which extraction stage found them."""

    actions: list[Action]
    rejections: list[Rejection]
    source: Source


def tool_of_command(command: str) -> str:
    """The tool a shell command uses: ``pytest``, ``python``, ``git``, ``fs``, else ``shell``."""
    for pattern, tool in _TOOL_OF_COMMAND:
        if pattern.search(command.strip()):
            return tool
    return "shell"


def _json_candidates(text: str) -> list[object]:
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char not in "[{":
            continue
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(item, dict) for item in items):
            return list(items)
    return []


def _labelled(text: str) -> list[dict[str, str]]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2).strip()
    kind = found.get("action") or found.get("type")
    if not kind:
        return []
    return [
        {
            "action_type": kind.lower(),
            "target": found.get("target", ""),
            "content": found.get("content") or found.get("command", ""),
        }
    ]


def _from_text(text: str) -> list[dict[str, str]]:
    commands = _TOOL_LINE.findall(text)
    if commands:
        actions = []
        for command in commands:
            wasi = _WASI_COMMAND.match(command.strip())
            target, content = (
                (wasi.group(1), wasi.group(2) or "")
                if wasi
                else (tool_of_command(command), command.strip())
            )
            actions.append({"action_type": "tool_use", "target": target, "content": content})
        return actions
    move = _MOVE_VERBS.search(text)
    if move:
        room = move.group(1).strip().lower().replace(" ", "_")
        return [{"action_type": "move", "target": room, "content": text.strip()}]
    return [{"action_type": "chat", "target": "", "content": text.strip()}]


def extract(text: str) -> tuple[list[dict[str, object]], Source]:
    """Raw action dicts from a reply, and the stage that found them."""
    candidates = _json_candidates(text)
    if candidates:
        return [dict(c) for c in candidates if isinstance(c, dict)], "json"
    labelled = _labelled(text)
    if labelled:
        return [dict(item) for item in labelled], "labelled"
    return [dict(item) for item in _from_text(text)], "text"


def check(raw: dict[str, object], persona: Persona, rooms: Sequence[str]) -> Action | Rejection:
    """Apply the capability policy to one raw action."""
    kind = raw.get("action_type")
    if not isinstance(kind, str) or not kind:
        return Rejection("missing_action_type", f"action without action_type: {raw!r:.200}")
    if kind not in ACTION_TYPES:
        return Rejection("unknown_action_type", f"unknown action_type {kind!r}")
    target = raw.get("target")
    target = str(target) if target not in (None, "") else None
    content = str(raw.get("content") or "")
    if kind == "move" and target not in rooms:
        return Rejection("target_not_allowed", f"move to unknown room {target!r}")
    if kind == "tool_use":
        if target is None:
            return Rejection("missing_target", "tool_use without a tool")
        name = wasi_tool(target)
        if name is not None and name not in WASI_TOOLS:
            return Rejection("unknown_tool", f"no WASI tool named {name!r}")
        if target not in persona.capabilities:
            return Rejection(
                "tool_not_allowed", f"{persona.id} may not use {target!r} ({content!r:.120})"
            )
        if not content.strip():
            return Rejection("missing_content", f"tool_use of {target!r} without a command")
    return Action.model_validate({"action_type": kind, "target": target, "content": content})


def extract_actions(text: str, persona: Persona, rooms: Sequence[str]) -> Extraction:
    """Extract and check every action of a reply."""
    raws, source = extract(text)
    actions: list[Action] = []
    rejections: list[Rejection] = []
    for raw in raws:
        result = check(raw, persona, rooms)
        if isinstance(result, Action):
            actions.append(result)
        else:
            rejections.append(result)
    return Extraction(actions, rejections, source)
