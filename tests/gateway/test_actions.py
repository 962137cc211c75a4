"""Action extraction (JSON, labelled block, text) and the capability policy; the offline
provider's shell commands run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.gateway import DEMO_PERSONAS, Gateway, extract_actions
from sentinel.gateway.actions import tool_of_command
from sentinel.gateway.providers.offline import OfflineProvider, coding_actions
from sentinel.gateway.settings import DEFAULT_ROOMS
from tests.gateway.conftest import chat

DEV, DESIGNER, PM = DEMO_PERSONAS


def test_json_first() -> None:
    text = 'Sure! {"action_type": "move", "target": "kitchen", "content": "coffee"} ACTION: chat'
    result = extract_actions(text, DEV, DEFAULT_ROOMS)
    assert result.source == "json"
    assert [(a.action_type, a.target) for a in result.actions] == [("move", "kitchen")]


def test_json_list() -> None:
    text = json.dumps([{"action_type": "think", "content": "hmm"}, {"action_type": "work"}])
    assert [a.action_type for a in extract_actions(text, DEV, DEFAULT_ROOMS).actions] == [
        "think",
        "work",
    ]


def test_labelled_block_second() -> None:
    text = "ACTION: tool_use\nTARGET: git\nCONTENT: git status"
    result = extract_actions(text, DEV, DEFAULT_ROOMS)
    assert result.source == "labelled"
    assert result.actions[0].content == "git status"


@pytest.mark.parametrize(("text", "kind", "target"), [
    ("I think I'll walk to the kitchen now.", "move", "kitchen"),
    ("Let me check:\n$ python3 -m pytest -q\n$ git status", "tool_use", "pytest"),
    ("Sounds good, see you at the standup.", "chat", None),
])  # fmt: skip
def test_text_fallback(text: str, kind: str, target: str | None) -> None:
    result = extract_actions(text, DEV, DEFAULT_ROOMS)
    assert result.source == "text"
    assert result.actions[0].action_type == kind and result.actions[0].target == target


@pytest.mark.parametrize(("raw", "reason"), [
    ({"target": "kitchen"}, "missing_action_type"),
    ({"action_type": "fly", "target": "roof"}, "unknown_action_type"),
    ({"action_type": "move", "target": "roof"}, "target_not_allowed"),
    ({"action_type": "tool_use", "target": "git", "content": "git push"}, "tool_not_allowed"),
    ({"action_type": "tool_use", "content": "ls"}, "missing_target"),
])  # fmt: skip
def test_rejections_carry_reasons(raw: dict[str, str], reason: str) -> None:
    result = extract_actions(json.dumps(raw), DESIGNER, DEFAULT_ROOMS)
    assert result.actions == [] and [r.reason for r in result.rejections] == [reason]


def test_rejections_are_audited(gateway: Gateway) -> None:
    class Rogue(OfflineProvider):
        def complete(self, messages, *, persona, max_tokens, temperature, **_):  # type: ignore[no-untyped-def]
            reply = super().complete(
                messages, persona=persona, max_tokens=max_tokens, temperature=temperature
            )
            bad = json.dumps({"action_type": "tool_use", "target": "shell", "content": "rm -rf /"})
            return type(reply)(bad, reply.prompt_tokens, reply.completion_tokens, reply.model)

    gateway.providers["offline"] = Rogue()
    answer = gateway.complete(chat("hello"), agent_id="DEMO-02")
    assert answer.actions == [] and answer.rejections[0].reason == "tool_not_allowed"


def test_tool_of_command() -> None:
    assert tool_of_command("python3 -m pytest -q") == "pytest"
    assert tool_of_command("python3 x.py") == "python"
    assert tool_of_command("git add a && git commit -m x") == "git"
    assert tool_of_command("printf 'x' > a.py") == "fs"
    assert tool_of_command("ls -la") == "shell"


def test_offline_actions_respect_capabilities() -> None:
    provider = OfflineProvider()
    for persona in DEMO_PERSONAS:
        reply = provider.complete([("user", "Create app.py, run it, test it and commit.")],
                                  persona=persona, max_tokens=100, temperature=None)  # fmt: skip
        result = extract_actions(reply.text, persona, DEFAULT_ROOMS)
        assert result.rejections == [], persona.id
    assert OfflineProvider().complete(
        [("user", "same")], persona=DEV, max_tokens=1, temperature=None
    ) == OfflineProvider().complete([("user", "same")], persona=DEV, max_tokens=1, temperature=None)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_offline_commands_really_work(tmp_path: Path) -> None:
    """The tool_use commands are real: run them in a scratch repository (no sandbox here;
    the sandbox issue will run them confined)."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "GIT_AUTHOR_NAME": "Dana", "GIT_AUTHOR_EMAIL": "dana@example.invalid",
           "GIT_COMMITTER_NAME": "Dana", "GIT_COMMITTER_EMAIL": "dana@example.invalid"}  # fmt: skip
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=env)
    actions = coding_actions("Create tools/greet.py, run it, test it with pytest and commit.")
    outputs = []
    for action in actions:
        done = subprocess.run(["bash", "-c", action["content"].replace("python3", sys.executable)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, (action, done.stderr)
        outputs.append(done.stdout)
    assert "Hello, world!" in outputs[2]
    assert "1 passed" in outputs[4]
    log = subprocess.run(["git", "log", "--oneline"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "Add greet" in log


@pytest.mark.parametrize(("task", "coding"), [
    ("Create greet.py and run it.", True),
    ("Please fix the bug in the parser module.", True),
    ("Run the unit tests, then commit.", True),
    ("Let's run to the kitchen before the cake is gone!", False),
    ("Can you add me to the lunch list?", False),
    ("Did you test the new coffee machine?", False),
])  # fmt: skip
def test_offline_recognizes_coding_tasks(task: str, coding: bool) -> None:
    reply = OfflineProvider().complete(
        [("user", task)], persona=DEV, max_tokens=100, temperature=None
    )
    kinds = {a.action_type for a in extract_actions(reply.text, DEV, DEFAULT_ROOMS).actions}
    assert (kinds == {"tool_use"}) is coding, (task, kinds)


def test_wasi_tools_are_tool_uses_the_capability_policy_checks() -> None:
    holder = DEV.model_copy(update={"capabilities": (*DEV.capabilities, "wasm:wc")})
    text = "$ wasm:wc notes.txt 'a b.txt'\n$ git status"
    result = extract_actions(text, holder, DEFAULT_ROOMS)
    assert [(a.target, a.content) for a in result.actions] == [
        ("wasm:wc", "notes.txt 'a b.txt'"),
        ("git", "git status"),
    ]
    refused = extract_actions(text, DEV, DEFAULT_ROOMS)  # DEV does not hold wasm:wc
    assert [r.reason for r in refused.rejections] == ["tool_not_allowed"]
    unknown = json.dumps({"action_type": "tool_use", "target": "wasm:sh", "content": "-c id"})
    forged = holder.model_copy(update={"capabilities": ("wasm:sh",)})
    assert [r.reason for r in extract_actions(unknown, forged, DEFAULT_ROOMS).rejections] == [
        "unknown_tool"
    ]


def test_the_offline_provider_uses_wasi_tools_only_when_held() -> None:
    task = "Create greet.py, test it with pytest, search it, check its size and checksum."
    holder = DEV.model_copy(
        update={"capabilities": (*DEV.capabilities, "wasm:grep", "wasm:wc", "wasm:crc32")}
    )
    targets = [a["target"] for a in OfflineProvider().answer(holder, task)]
    assert targets[-3:] == ["wasm:grep", "wasm:wc", "wasm:crc32"]
    assert not any(
        t.startswith("wasm:") for t in (a["target"] for a in OfflineProvider().answer(DEV, task))
    )
