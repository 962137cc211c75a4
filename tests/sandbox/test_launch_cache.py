"""Root's launch cache: a compiled policy is the pydantic one, field by field and sandbox by
sandbox; an entry is used only while its key holds and only if root wrote it; a cached
``sandbox exec`` imports no pydantic."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.errors import PolicyError
from sentinel.sandbox import launch_cache
from sentinel.sandbox.bwrap_argv import bwrap_argv
from sentinel.sandbox.compiled_policy import compile_policy, from_json, to_json
from sentinel.sandbox.launch import host_capabilities, session_environment
from sentinel.sandbox.launch_facts import facts_from_json, facts_to_json, launch_facts
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.policy_terms import PolicyView
from sentinel.sandbox.workspace import scratch_dir

PARTS = ("filesystem", "environment", "network", "resources", "syscalls")
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
_names = st.text("abcxyz_", min_size=1, max_size=6)
POLICIES = st.fixed_dictionaries(
    {},
    optional={
        "name": _names,
        "required_layers": st.lists(
            st.sampled_from(["bwrap", "landlock", "seccomp", "cgroups", "netns"]),
            min_size=1,
            max_size=5,
        ),
        "filesystem": st.fixed_dictionaries(
            {},
            optional={
                "read_only": st.lists(
                    st.sampled_from(
                        ["/usr", "/etc/ssl/certs", "/opt", "{workspace}/ro", "/srv//x/"]
                    )
                ),
                "exec": st.lists(st.sampled_from(["/usr", "/opt/bin", "/usr/lib/"]), max_size=2),
                "deny": st.lists(
                    st.sampled_from(["/usr/bin/perl", "{workspace}/secret", "/opt/x"])
                ),
            },
        ),
        "environment": st.fixed_dictionaries(
            {},
            optional={
                "set": st.dictionaries(st.sampled_from(["A", "PATH", "HOME"]), _names),
                "allow": st.lists(st.sampled_from(["TERM", "LANG"]), max_size=2),
            },
        ),
        "network": st.one_of(
            st.just({"mode": "none"}),
            st.builds(
                lambda ports: {"mode": "allowlist", "allow": [f"127.0.0.1:{p}" for p in ports]},
                st.lists(st.integers(1, 65535), min_size=1, max_size=3),
            ),
        ),
        "resources": st.fixed_dictionaries(
            {},
            optional={
                "memory_mb": st.integers(16, 4096),
                "pids": st.integers(1, 4096),
                "wall_timeout_s": st.one_of(st.integers(1, 600), st.floats(0.5, 600)),
                "disk_mb": st.integers(0, 4096),
                "max_open_files": st.integers(16, 4096),
            },
        ),
        "syscalls": st.fixed_dictionaries(
            {}, optional={"extra_deny": st.lists(st.sampled_from(["ptrace", "mount", "chroot"]))}
        ),
    },
)


def _valid(data: dict[str, Any]) -> SandboxPolicy | None:
    try:
        return SandboxPolicy.model_validate(data)
    except ValueError:
        return None


def _view(policy: PolicyView) -> dict[str, Any]:
    """Every field the launch path reads, as plain values."""
    out: dict[str, Any] = {
        "name": policy.name,
        "required_layers": list(policy.required_layers),
        "denied": policy.filesystem.denied,
    }
    for part in PARTS:
        section = getattr(policy, part)
        fields = getattr(type(section), "model_fields", None)  # the pydantic side
        names = list(fields) if fields else list(inspect.get_annotations(type(section)))
        out[part] = {n: getattr(section, n) for n in names}
        for name, value in out[part].items():
            out[part][name] = dict(value) if isinstance(value, dict) else value
            if isinstance(value, tuple | list):
                out[part][name] = list(value)
    return out


@settings(max_examples=60, deadline=None)
@given(POLICIES)
def test_a_compiled_policy_is_the_validated_one(data: dict[str, Any]) -> None:
    policy = _valid(data)
    if policy is None:
        return
    compiled = compile_policy(policy)
    assert from_json(json.loads(json.dumps(to_json(compiled)))) == compiled
    assert _view(compiled) == _view(policy)
    workspace = Path("/var/lib/sentinel/workspaces/w")
    env = session_environment(policy, workspace)

    def argv(view: PolicyView) -> list[str]:
        return bwrap_argv(
            "/usr/bin/bwrap", view, workspace, env=env, isolate_network=True, seccomp_fd=3,
            shim_dir=Path("/s"), hardening=["--disable-userns"],
        )  # fmt: skip

    assert argv(compiled) == argv(policy)
    assert session_environment(compiled, workspace) == session_environment(policy, workspace)


def test_the_host_facts_survive_the_round_trip() -> None:
    facts = launch_facts(host_capabilities())
    assert facts_from_json(json.loads(json.dumps(facts_to_json(facts)))) == facts
    assert facts.layer("bwrap").verdict == host_capabilities().layer("bwrap").verdict
    with pytest.raises(KeyError, match="known layers"):
        facts.layer("nope")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "run-sentinel"
    directory.mkdir(mode=0o700)
    return directory


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each full pydantic validation of a policy file, by path."""
    seen: list[Path] = []
    original = SandboxPolicy.from_toml.__func__  # type: ignore[attr-defined]

    def counting(cls: type[SandboxPolicy], /, path: Path, **kwargs: Any) -> SandboxPolicy:
        seen.append(Path(path))
        return original(cls, path, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(SandboxPolicy, "from_toml", classmethod(counting))
    return seen


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only root keeps the cache")


@root_only
def test_a_hit_while_the_policy_holds_a_miss_when_it_changes(
    tmp_path: Path, cache_dir: Path, validations: list[Path]
) -> None:
    policy_file = tmp_path / "p.toml"
    policy_file.write_text("[resources]\nmemory_mb = 300\n")
    first = launch_cache.compiled_launch(policy_file, cache_dir)
    assert first.policy == compile_policy(
        SandboxPolicy.model_validate({"resources": {"memory_mb": 300}})
    )
    assert launch_cache.compiled_launch(policy_file, cache_dir) == first
    assert len(validations) == 1  # the second came from the entry
    entry = launch_cache.entry_path(policy_file, cache_dir)
    assert (entry.stat().st_uid, entry.stat().st_mode & 0o777) == (0, 0o600)
    policy_file.write_text("[resources]\nmemory_mb = 400\n")
    assert launch_cache.compiled_launch(policy_file, cache_dir).policy.resources.memory_mb == 400
    assert len(validations) == 2


@root_only
def test_a_changed_host_key_is_a_miss(
    tmp_path: Path, cache_dir: Path, validations: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file = tmp_path / "p.toml"
    policy_file.write_text("")
    launch_cache.compiled_launch(policy_file, cache_dir)
    real = launch_cache.cache_key()
    monkeypatch.setattr(launch_cache, "cache_key", lambda: {**real, "sentinel": "0.0.0-other"})
    launch_cache.compiled_launch(policy_file, cache_dir)
    assert len(validations) == 2


def _tamper_answer(entry: Path) -> None:
    document = json.loads(entry.read_text())
    document["answer"]["policy"]["resources"]["memory_mb"] = 1 << 19
    entry.write_text(json.dumps(document))


def _relax_mode(entry: Path) -> None:
    entry.chmod(0o644)


def _plant_link(entry: Path) -> None:
    target = entry.with_name("elsewhere.json")
    entry.rename(target)
    entry.symlink_to(target)


def _give_away(entry: Path) -> None:
    os.chown(entry, 65534, 65534)


def _hard_link(entry: Path) -> None:
    os.link(entry, entry.with_name("second-link.json"))


@root_only
@pytest.mark.parametrize(
    "spoil", [_tamper_answer, _relax_mode, _plant_link, _give_away, _hard_link],
    ids=["digest", "mode", "symlink", "owner", "links"],
)  # fmt: skip
def test_an_entry_root_did_not_write_as_it_writes_is_refused(
    tmp_path: Path, cache_dir: Path, validations: list[Path], spoil: Any
) -> None:
    policy_file = tmp_path / "p.toml"
    policy_file.write_text("")
    launch_cache.compiled_launch(policy_file, cache_dir)
    spoil(launch_cache.entry_path(policy_file, cache_dir))
    again = launch_cache.compiled_launch(policy_file, cache_dir)
    assert len(validations) == 2  # refused: validated afresh
    assert again.policy.resources.memory_mb == SandboxPolicy().resources.memory_mb


@root_only
def test_a_directory_others_may_write_is_never_trusted(
    tmp_path: Path, cache_dir: Path, validations: list[Path]
) -> None:
    policy_file = tmp_path / "p.toml"
    policy_file.write_text("")
    cache_dir.chmod(0o777)
    launch_cache.compiled_launch(policy_file, cache_dir)
    launch_cache.compiled_launch(policy_file, cache_dir)
    assert len(validations) == 2
    assert not launch_cache.entry_path(policy_file, cache_dir).exists()


def test_an_invalid_policy_is_refused_naming_file_and_field(
    tmp_path: Path, cache_dir: Path
) -> None:
    policy_file = tmp_path / "bad.toml"
    policy_file.write_text("[resources]\npids = true\n")
    with pytest.raises(PolicyError) as caught:
        launch_cache.compiled_launch(policy_file, cache_dir)
    assert caught.value.path == policy_file and caught.value.field == "resources.pids"
    with pytest.raises(PolicyError, match="file not found"):
        launch_cache.compiled_launch(tmp_path / "missing.toml", cache_dir)
    assert list(cache_dir.iterdir()) == []


@root_only
def test_a_cached_exec_imports_no_pydantic() -> None:
    with scratch_dir("sentinel-test-launch-cache") as scratch:
        _exec_twice(scratch / "ws")


def _exec_twice(workspace: Path) -> None:
    probe = (
        "import sys\n"
        "from sentinel.cli.sandbox_exec import fast_main\n"
        f"status = fast_main(['--workspace', {str(workspace)!r}, '--', '/bin/true'])\n"
        "print(status, sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'typer'}))\n"
    )
    run = [sys.executable, "-c", probe]
    subprocess.run(run, check=True, capture_output=True, stdin=subprocess.DEVNULL)  # warms it
    done = subprocess.run(run, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.stdout.split("\n")[0] == "0 []"
