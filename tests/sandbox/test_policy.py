"""Policies: strict validation with file and field named; no silent widening."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import ConfigError, PolicyError
from sentinel.sandbox.policy import MANDATORY_DENY, SandboxPolicy

AGENT_POLICY = Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_shipped_policy_equals_the_embedded_defaults() -> None:
    assert SandboxPolicy.from_toml(AGENT_POLICY) == SandboxPolicy()


def test_mandatory_denials_cannot_be_dropped(tmp_path: Path) -> None:
    policy = SandboxPolicy.from_toml(write(tmp_path, "[filesystem]\ndeny = []\n"))
    assert set(MANDATORY_DENY) <= set(policy.filesystem.denied)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("[filesystem]\nread_only = ['usr']\n", "filesystem.read_only", "relative"),
        ("[filesystem]\nread_only = ['/']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nread_only = ['/proc']\n", "filesystem", "may not be bound"),
        ("[filesystem]\nwritable = ['/etc']\n", "filesystem", "outside {workspace}"),
        ("[filesystem]\nexec = ['{workspace}/bin']\n", "filesystem", "no exec where agents write"),
        (
            "[filesystem]\nread_only = ['/opt']\ndeny = ['/opt']\n",
            "filesystem",
            "both allowed and denied",
        ),
        ("[filesystem]\nread_only = ['/usr/../etc']\n", "filesystem.read_only", "'..'"),
        (
            "[filesystem]\nreadonly = ['/usr']\n",
            "filesystem.readonly",
            "Extra inputs are not permitted",
        ),
        ("[network]\nmode = 'none'\nallow = ['10.0.0.1:80']\n", "network", "mode = 'allowlist'"),
        (
            "[network]\nmode = 'allowlist'\nallow = ['example.com:80']\n",
            "network.allow",
            "not ip:port",
        ),
        (
            "[network]\nmode = 'allowlist'\nallow = ['10.0.0.1:0']\n",
            "network.allow",
            "no valid port",
        ),
        ("[resources]\nmemory_mb = 1\n", "resources.memory_mb", "greater than or equal to 16"),
        ("[resources]\npids = 0\n", "resources.pids", "greater than or equal to 1"),
        ("[resources]\nwall_timeout_s = -1\n", "resources.wall_timeout_s", "greater than 0"),
        ("required_layers = ['bwrap', 'apparmor']\n", "required_layers.1", "Input should be"),
        ("[syscalls]\nprofile = 'none'\n", "syscalls.profile", "Input should be 'default'"),
        ("unknown = 1\n", "unknown", "Extra inputs are not permitted"),
    ],
)
def test_bad_policies_name_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        SandboxPolicy.from_toml(path)
    assert caught.value.path == path
    assert caught.value.field == field
    assert message in str(caught.value)
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy"):
        SandboxPolicy.from_toml(tmp_path / "missing.toml")
    with pytest.raises(PolicyError, match="not valid TOML"):
        SandboxPolicy.from_toml(write(tmp_path, "name = \n"))
