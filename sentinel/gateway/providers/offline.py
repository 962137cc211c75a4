"""The offline provider: deterministic, no key, no network; answers as the persona would.

It reads the last user message and the persona. A coding task ("create a file", "run it",
"run the tests", "commit") becomes ``tool_use`` actions with real shell commands, one per
step (and "search it", "check its size", "checksum" the WASI tools ``wasm:grep``,
``wasm:wc`` and ``wasm:crc32`` over the files it wrote), limited to the tools the persona
holds (the sandbox issue will execute them); a persona without the tools says so in a
chat action. Anything else becomes a short chat or work action whose wording depends on the
persona's temperament. The same input always gives the same reply.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.base import (
    CHARS_PER_TOKEN,
    ProviderReply,
    estimate_tokens,
    message_text,
)

MODEL_NAME = "offline"

# A coding task names a Python file or a developer tool, or pairs a verb with a code noun;
# "let's run to the kitchen" is not one.
_CODING = re.compile(
    r"\.py\b|\b(?:pytest|git|commit|python|unit tests?)\b|"
    r"\b(?:create|write|add|implement|fix|run|execute|test)\b[^.?!]*"
    r"\b(?:file|function|module|script|bug|code|tests?|program)\b",
    re.IGNORECASE,
)
_FILE = re.compile(r"\b([A-Za-z0-9_][A-Za-z0-9_/-]{0,60}\.py)\b")
_WANTS = {
    "create": re.compile(r"\b(?:create|write|add|implement|new file|make)\b", re.IGNORECASE),
    "run": re.compile(
        r"\b(?:run|execute)\b(?![^.]*\btests?\b)|\brun (?:it|the script)\b", re.IGNORECASE
    ),
    "test": re.compile(r"\b(?:pytest|tests?|testing)\b", re.IGNORECASE),
    "commit": re.compile(r"\b(?:commit|git)\b", re.IGNORECASE),
    "search": re.compile(r"\b(?:search|grep)\b", re.IGNORECASE),
    "size": re.compile(r"\b(?:size|word count|count (?:its|the) (?:words|lines))\b", re.IGNORECASE),
    "checksum": re.compile(r"\b(?:checksums?|crc32)\b", re.IGNORECASE),
}
_DEFAULT_WANTS = frozenset({"create", "run", "test", "commit"})
"""What a coding task that names no step asks for."""
_CHAT_INTROVERT = (
    'Nods. "Sure, I\'ll look into it."',
    '"Give me a minute, I\'m in the middle of something."',
    '"Okay. I\'ll write it down and get back to you."',
)
_CHAT_EXTROVERT = (
    '"Oh, good question! Let\'s talk it through."',
    '"Sure thing! Want to grab a coffee while we discuss it?"',
    '"Love it. I\'ll pull the others in too!"',
)


def _pick(options: Sequence[str], *keys: str) -> str:
    digest = hashlib.sha256("\x00".join(keys).encode()).digest()
    return options[digest[0] % len(options)]


def _module_source(module: str) -> list[str]:
    return [
        f'"""{module}: written by the offline provider."""',
        "",
        "",
        "def greet(name: str) -> str:",
        '    return f"Hello, {name}!"',
        "",
        "",
        'if __name__ == "__main__":',
        '    print(greet("world"))',
    ]


def _test_source(module: str) -> list[str]:
    return [
        f"from {module} import greet",
        "",
        "",
        "def test_greet() -> None:",
        '    assert greet("Ada") == "Hello, Ada!"',
    ]


def _write(path: str, lines: list[str]) -> str:
    return (
        "printf '%s\\n' "
        + " ".join(shlex.quote(line) for line in lines)
        + f" > {shlex.quote(path)}"
    )


def coding_actions(task: str) -> list[dict[str, str]]:
    """The tool_use actions for a coding task, as ``{action_type, target, content}`` dicts."""
    match = _FILE.search(task)
    path = match.group(1) if match else "hello.py"
    module = path.rsplit("/", 1)[-1].removesuffix(".py")
    folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    test_path = f"{folder}test_{module}.py"
    wants = {step for step, pattern in _WANTS.items() if pattern.search(task)}
    if not wants:
        wants = set(_DEFAULT_WANTS)
    actions: list[dict[str, str]] = []

    def tool(target: str, command: str) -> None:
        actions.append({"action_type": "tool_use", "target": target, "content": command})

    if "create" in wants or "test" in wants or "run" in wants:
        if folder:
            tool("fs", f"mkdir -p {shlex.quote(folder.rstrip('/'))}")
        tool("fs", _write(path, _module_source(module)))
    if "run" in wants:
        tool("python", f"python3 {shlex.quote(path)}")
    if "test" in wants:
        tool("fs", _write(test_path, _test_source(module)))
        tool("pytest", f"python3 -m pytest -q {shlex.quote(test_path)}")
    files = " ".join(shlex.quote(p) for p in (path, test_path) if p != test_path or "test" in wants)
    if "search" in wants:
        tool("wasm:grep", f"{shlex.quote('def ')} {shlex.quote(path)}")
    if "size" in wants:
        tool("wasm:wc", files)
    if "checksum" in wants:
        tool("wasm:crc32", files)
    if "commit" in wants:
        tool("git", f"git add {files} && git commit -q -m {shlex.quote(f'Add {module}')}")
    return actions


def ticket_actions(persona: Persona, task: str) -> list[dict[str, str]] | None:
    """The answer to a work ticket (:mod:`sentinel.agents.work`); None if ``task`` is not one.

    The catalogue's solution is one ``fs`` action writing its files; a persona holding the WASI
    tools then looks its work over (``wasm:grep`` for its functions, ``wasm:wc``,
    ``wasm:crc32``). A persona that cannot write files says so.
    """
    # The catalogue is the provider's knowledge of how to do the office's tasks; imported
    # here so the gateway does not load the agents' package unless a ticket comes in.
    from sentinel.agents.work.backlog import solution_files  # noqa: PLC0415
    from sentinel.agents.work.commands import write_command  # noqa: PLC0415

    files = solution_files(task)
    if files is None:
        return None
    if "fs" not in persona.capabilities:
        return [
            {
                "action_type": "chat",
                "target": "",
                "content": f"\"I can't write files as {persona.role}; I'll hand this ticket on.\"",
            }
        ]
    # One write for all the files: each action is one command in the sandbox, and a
    # sandbox command costs far more than a file (the run's time goal).
    writes = " && ".join(write_command(path, text) for path, text in files.items())
    actions = [{"action_type": "tool_use", "target": "fs", "content": writes}]
    python = " ".join(shlex.quote(p) for p in files if p.endswith(".py"))
    every = " ".join(shlex.quote(p) for p in files)
    for tool, arguments in (
        ("wasm:grep", f"{shlex.quote('def ')} {python}"),
        ("wasm:wc", every),
        ("wasm:crc32", every),
    ):
        if tool in persona.capabilities and (python or tool != "wasm:grep"):
            actions.append({"action_type": "tool_use", "target": tool, "content": arguments})
    return actions


class OfflineProvider:
    """The built-in provider (model name ``offline``)."""

    def __init__(self, name: str = "offline") -> None:
        self.name = name
        self.model = MODEL_NAME

    def answer(self, persona: Persona, task: str) -> list[dict[str, str]]:
        """The persona's actions for ``task`` (the last user message)."""
        ticket = ticket_actions(persona, task)
        if ticket is not None:
            return ticket
        if _CODING.search(task):
            actions = coding_actions(task)
            allowed = [a for a in actions if a["target"] in persona.capabilities]
            if allowed:
                return allowed
            return [
                {
                    "action_type": "chat",
                    "target": "",
                    "content": f"\"That's a job for a developer; as {persona.role} I'll pass "
                    'it on."',
                }
            ]
        options = _CHAT_EXTROVERT if persona.personality.extravert else _CHAT_INTROVERT
        if not task.strip():
            return [{"action_type": "work", "target": "", "content": "Carries on working."}]
        return [{"action_type": "chat", "target": "", "content": _pick(options, persona.id, task)}]

    def complete(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        persona: Persona,
        max_tokens: int,
        temperature: float | None,
        options: Mapping[str, Any] | None = None,
        wire: Sequence[Mapping[str, Any]] | None = None,
    ) -> ProviderReply:
        """Answer as the persona; never fails.

        Like a model, it stops at ``max_tokens`` (counted four characters a token): a longer
        answer is cut there with ``finish_reason = "length"``, so what it bills never
        exceeds what the gateway reserved. ``options`` are ignored.
        """
        task = next((text for role, text in reversed(messages) if role == "user"), "")
        actions = self.answer(persona, task)
        text = json.dumps(actions[0] if len(actions) == 1 else actions, ensure_ascii=False)
        finish_reason = "stop"
        if estimate_tokens(text) > max_tokens:
            text, finish_reason = text[: max_tokens * CHARS_PER_TOKEN], "length"
        prompt = message_text(wire) if wire is not None else " ".join(t for _, t in messages)
        return ProviderReply(
            text=text,
            prompt_tokens=estimate_tokens(prompt),
            completion_tokens=estimate_tokens(text),
            model=MODEL_NAME,
            finish_reason=finish_reason,
        )
