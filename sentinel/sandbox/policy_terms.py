"""The words of a sandbox policy that the launch path needs, without pydantic.

:mod:`sentinel.sandbox.policy` validates policies with pydantic, whose import and model
building cost a one-shot ``sentinel-run sandbox exec`` most of its start. Everything a
launch reads is here instead: the layer names, the workspace placeholder, the mandatory
denials, and :class:`PolicyView`, the read-only shape of a policy that both the pydantic
:class:`~sentinel.sandbox.policy.SandboxPolicy` and the cached
:class:`~sentinel.sandbox.compiled_policy.CompiledPolicy` have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Final, Protocol

WORKSPACE: Final = "{workspace}"
"""Placeholder for the agent's workspace in policy paths."""

MANDATORY_DENY: Final = (
    "{workspace}/.git/hooks",
    "{workspace}/.git/config",
    "{workspace}/.bashrc",
    "{workspace}/.bash_profile",
    "{workspace}/.profile",
    "{workspace}/.zshrc",
    "{workspace}/.config",
    "{workspace}/.ssh",
    "{workspace}/.vscode",
    "{workspace}/.idea",
    "{workspace}/.claude",
    "{workspace}/.codex",
)
"""Never writable, whatever a policy says: shell start-up files, git hooks and config,
editor and agent configuration (the places a compromised agent plants persistence)."""


class Layer(StrEnum):
    """The sandbox layers a policy can require."""

    BWRAP = "bwrap"
    LANDLOCK = "landlock"
    SECCOMP = "seccomp"
    CGROUPS = "cgroups"
    NETNS = "netns"


def resolve(path: str, workspace: object) -> str:
    """Substitute the workspace placeholder (``workspace``: a path, printed with ``str``)."""
    return path.replace(WORKSPACE, str(workspace))


class FilesystemView(Protocol):
    """What a launch reads of a policy's ``[filesystem]``."""

    @property
    def read_only(self) -> Sequence[str]: ...  # noqa: D102 - see FilesystemPolicy
    @property
    def writable(self) -> Sequence[str]: ...  # noqa: D102
    @property
    def exec(self) -> Sequence[str]: ...  # noqa: D102
    @property
    def deny(self) -> Sequence[str]: ...  # noqa: D102
    @property
    def denied(self) -> tuple[str, ...]: ...  # noqa: D102


class EnvironmentView(Protocol):
    """What a launch reads of a policy's ``[environment]``."""

    @property
    def set(self) -> Mapping[str, str]: ...  # noqa: D102 - see EnvironmentPolicy
    @property
    def allow(self) -> Sequence[str]: ...  # noqa: D102


class NetworkView(Protocol):
    """What a launch reads of a policy's ``[network]``."""

    @property
    def mode(self) -> str: ...  # noqa: D102 - see NetworkPolicy
    @property
    def allow(self) -> Sequence[str]: ...  # noqa: D102


class ResourcesView(Protocol):
    """What a launch reads of a policy's ``[resources]``."""

    @property
    def memory_mb(self) -> int: ...  # noqa: D102 - see ResourcePolicy
    @property
    def pids(self) -> int: ...  # noqa: D102
    @property
    def cpu_percent(self) -> int: ...  # noqa: D102
    @property
    def wall_timeout_s(self) -> float: ...  # noqa: D102
    @property
    def max_output_bytes(self) -> int: ...  # noqa: D102
    @property
    def max_open_files(self) -> int: ...  # noqa: D102
    @property
    def max_file_mb(self) -> int: ...  # noqa: D102
    @property
    def disk_mb(self) -> int: ...  # noqa: D102


class SyscallsView(Protocol):
    """What a launch reads of a policy's ``[syscalls]``."""

    @property
    def profile(self) -> str: ...  # noqa: D102 - see SyscallPolicy
    @property
    def extra_deny(self) -> Sequence[str]: ...  # noqa: D102


class PolicyView(Protocol):
    """A validated policy as the launch path reads it (never changed after validation)."""

    @property
    def name(self) -> str: ...  # noqa: D102 - see SandboxPolicy
    @property
    def required_layers(self) -> Sequence[Layer]: ...  # noqa: D102
    @property
    def filesystem(self) -> FilesystemView: ...  # noqa: D102
    @property
    def environment(self) -> EnvironmentView: ...  # noqa: D102
    @property
    def network(self) -> NetworkView: ...  # noqa: D102
    @property
    def resources(self) -> ResourcesView: ...  # noqa: D102
    @property
    def syscalls(self) -> SyscallsView: ...  # noqa: D102
