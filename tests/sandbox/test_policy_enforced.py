"""Every accepted policy is enforced exactly, or refused with file and field.

The class of defect: a policy that reads stronger than the sandbox it builds (a read-only
path left writable, a denied file still readable, a forbidden bind spelled differently, a
lax type taken as a number). Unit checks for each known example, a property test over
spellings of the forbidden binds, and real sandboxes probed for a handful of generated
policies: what the sandbox does equals what the policy says.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.errors import PolicyError
from sentinel.sandbox.policy import FORBIDDEN_BINDS, FilesystemPolicy, SandboxPolicy
from sentinel.sandbox.runner import run_once


def _load(tmp_path: Path, text: str) -> SandboxPolicy:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return SandboxPolicy.from_toml(path)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("[filesystem]\nread_only = ['//run']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nread_only = ['/run/dbus']\n", "filesystem", "inside /run"),
        ("[filesystem]\nread_only = ['/.']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nread_only = ['/var/run/']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nexec = ['/tmp']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nread_only = ['/tmp/x']\n", "filesystem", "inside /tmp"),
        ("[filesystem]\nread_only = ['/dev/shm']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nread_only = ['/proc/1/root']\n", "filesystem", "inside /proc"),
        ('[filesystem]\nread_only = ["/usr\\u0000/bin"]\n', "filesystem.read_only", "NUL"),
        ("[filesystem]\ndeny = ['usr/bin/perl']\n", "filesystem.deny", "relative"),
        ("[filesystem]\nwritable = ['{workspace}/out']\n", "filesystem", "exactly"),
        ("[filesystem]\nread_only = ['/usr/{workspace}']\n", "filesystem.read_only", "start"),
        ("required_layers = []\n", "required_layers", "no layer"),
        ("[resources]\npids = true\n", "resources.pids", "valid integer"),
        ("[resources]\nmemory_mb = '256'\n", "resources.memory_mb", "valid integer"),
        ("[resources]\ncpu_percent = 50.0\n", "resources.cpu_percent", "valid integer"),
        ("[syscalls]\nextra_deny = ['nope']\n", "syscalls.extra_deny", "unknown system calls"),
    ],
)
def test_each_weakening_example_is_refused_with_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        _load(tmp_path, text)
    assert caught.value.path == tmp_path / "policy.toml"
    assert caught.value.field == field
    assert message in str(caught.value)


def test_a_non_utf8_path_is_refused_not_a_traceback() -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        FilesystemPolicy(read_only=["/usr/\udcff"])


def test_paths_are_normalised_and_resolved_at_load(tmp_path: Path) -> None:
    policy = _load(
        tmp_path,
        "[filesystem]\nread_only = ['//usr/./share/', '{workspace}//ro/./x/']\n"
        "deny = ['/usr//bin/../bin/env']\n".replace("/../bin", ""),
    )
    assert policy.filesystem.read_only == ["/usr/share", "{workspace}/ro/x"]
    assert policy.filesystem.deny == [os.path.realpath("/usr/bin/env")]


SEPARATOR = st.lists(st.sampled_from(["/", "./", "/"]), min_size=1, max_size=3).map("".join)
"""What may stand for one ``/``: ``/``, ``//``, ``/./``, ... (always ending in a slash)."""


@settings(max_examples=200, deadline=None)
@given(
    forbidden=st.sampled_from([f for f in FORBIDDEN_BINDS if f != "/"]),
    noise=st.lists(SEPARATOR, min_size=2, max_size=2),
    tail=st.sampled_from(["", "/", "/.", "//", "/./"]),
    child=st.sampled_from(["", "x", "a/b"]),
    field=st.sampled_from(["read_only", "exec"]),
)
def test_no_spelling_of_a_forbidden_bind_or_of_a_path_inside_it_is_accepted(
    forbidden: str, noise: list[str], tail: str, child: str, field: str
) -> None:
    spelled = "/" + noise[0] + forbidden.lstrip("/").replace("/", "/" + noise[1])
    spelled += f"/{child}{tail}" if child else tail
    with pytest.raises(ValueError, match="may not be bound"):
        FilesystemPolicy(**{field: [spelled]})


# -- the sandbox does what the policy says (real sandboxes, root) ------------------------

PROBE = r"""
target=$1
if cat "$target" >/dev/null 2>&1; then echo read=yes; else echo read=no; fi
if [ -x "$target" ] && "$target" --version >/dev/null 2>&1; then echo exec=yes; else echo exec=no; fi
if ( echo x >> "$target" ) 2>/dev/null; then echo write=yes; else echo write=no; fi
"""


def _probe(policy: SandboxPolicy, workspace: Path, target: str) -> dict[str, str]:
    result = run_once(
        policy, ["sh", "-c", PROBE, "probe", target], workspace=workspace, agent_id="policy-probe"
    )
    lines = result.stdout.decode().split()
    return dict(line.split("=") for line in lines)


CASES: list[tuple[dict[str, Any], str, dict[str, str]]] = [
    # read_only inside the workspace stays read-only (the workspace is bound before it)
    ({"read_only": ["/usr", "{workspace}/ro"]}, "{workspace}/ro/file",
     {"read": "yes", "write": "no"}),
    # a denied file under an allowed tree: neither readable nor runnable
    ({"deny": ["/usr/bin/env"]}, "/usr/bin/env", {"read": "no", "exec": "no", "write": "no"}),
    # a denied directory: nothing inside it can be read
    ({"deny": ["/usr/share/doc"]}, "/usr/share/doc/bash/copyright", {"read": "no"}),
    # the control: the same file without the denial
    ({}, "/usr/bin/env", {"read": "yes", "exec": "yes", "write": "no"}),
    # a read-only path of the workspace that does not exist cannot be created writable
    ({"read_only": ["/usr", "{workspace}/later"]}, "{workspace}/later/new", {"write": "no"}),
    # the workspace itself stays writable
    ({}, "{workspace}/plain", {"write": "yes"}),
]  # fmt: skip


@pytest.mark.host
@pytest.mark.parametrize(("files", "target", "expected"), CASES)
def test_the_sandbox_enforces_what_the_policy_says(
    workspace: Path, files: dict[str, Any], target: str, expected: dict[str, str]
) -> None:
    workspace.mkdir()
    (workspace / "ro").mkdir()
    (workspace / "ro" / "file").write_text("data\n")
    os.chown(workspace / "ro", 65534, 65534)
    os.chown(workspace / "ro" / "file", 65534, 65534)  # owned by the agent: only the bind stops it
    base = SandboxPolicy()
    policy = base.model_copy(
        update={"filesystem": FilesystemPolicy(**{**base.filesystem.model_dump(), **files})}
    )
    seen = _probe(policy, workspace, target.replace("{workspace}", str(workspace)))
    assert {key: seen[key] for key in expected} == expected
    if "{workspace}/ro" in target:
        assert (workspace / "ro" / "file").read_text() == "data\n"
