"""A validated policy as plain frozen records: what the launch cache stores and reads.

:class:`CompiledPolicy` has exactly the read-only shape of
:class:`~sentinel.sandbox.policy_terms.PolicyView`. It is only ever made from a
:class:`~sentinel.sandbox.policy.SandboxPolicy` that passed pydantic's validation
(:func:`compile_policy`) or from the JSON such a compile wrote (:func:`from_json`), never
from a policy file directly: there is one validator, and the cache only remembers its
answers (see :mod:`sentinel.sandbox.launch_cache`). A property test pins a compiled policy,
and its JSON round trip, to the pydantic one field by field and to the same sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sentinel.frozen_record import FrozenRecord, record_dict
from sentinel.sandbox.policy_terms import MANDATORY_DENY, Layer

if TYPE_CHECKING:
    from sentinel.sandbox.policy import SandboxPolicy


class CompiledFilesystem(FrozenRecord):
    """``[filesystem]``: see :class:`~sentinel.sandbox.policy.FilesystemPolicy`."""

    read_only: tuple[str, ...]
    writable: tuple[str, ...]
    exec: tuple[str, ...]
    deny: tuple[str, ...]

    @property
    def denied(self) -> tuple[str, ...]:
        """The policy's denials plus the mandatory ones (as the pydantic model says)."""
        return tuple(dict.fromkeys((*MANDATORY_DENY, *self.deny)))


class CompiledEnvironment(FrozenRecord):
    """``[environment]``: see :class:`~sentinel.sandbox.policy.EnvironmentPolicy`."""

    set: Mapping[str, str]
    allow: tuple[str, ...]


class CompiledNetwork(FrozenRecord):
    """``[network]``: see :class:`~sentinel.sandbox.policy.NetworkPolicy`."""

    mode: str
    allow: tuple[str, ...]


class CompiledResources(FrozenRecord):
    """``[resources]``: see :class:`~sentinel.sandbox.policy.ResourcePolicy`."""

    memory_mb: int
    pids: int
    cpu_percent: int
    wall_timeout_s: float
    max_output_bytes: int
    max_open_files: int
    max_file_mb: int
    disk_mb: int


class CompiledSyscalls(FrozenRecord):
    """``[syscalls]``: see :class:`~sentinel.sandbox.policy.SyscallPolicy`."""

    profile: str
    extra_deny: tuple[str, ...]


class CompiledPolicy(FrozenRecord):
    """A validated :class:`~sentinel.sandbox.policy.SandboxPolicy`, without pydantic.

    ``[wasm]`` is left out: WASI tools are not launched through this path.
    """

    name: str
    required_layers: tuple[Layer, ...]
    filesystem: CompiledFilesystem
    environment: CompiledEnvironment
    network: CompiledNetwork
    resources: CompiledResources
    syscalls: CompiledSyscalls


def compile_policy(policy: SandboxPolicy) -> CompiledPolicy:
    """The launch-relevant part of a policy pydantic validated."""
    return from_json(policy.model_dump(mode="json", exclude={"wasm"}))


def to_json(policy: CompiledPolicy) -> dict[str, Any]:
    """A JSON-ready dict that :func:`from_json` turns back into an equal policy."""
    data = record_dict(policy)
    data["environment"]["set"] = dict(policy.environment.set)
    return data


def from_json(data: Mapping[str, Any]) -> CompiledPolicy:
    """The policy :func:`to_json` (or ``SandboxPolicy.model_dump``) wrote.

    Raises:
        KeyError, TypeError, ValueError: ``data`` does not have a compiled policy's shape.
    """
    files, env, net, limits, calls = (
        data[part] for part in ("filesystem", "environment", "network", "resources", "syscalls")
    )
    resources = CompiledResources(**limits)
    for field, value in record_dict(resources).items():  # the JSON's numbers, checked for kind
        kind = (int, float) if field == "wall_timeout_s" else int
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TypeError(f"resources.{field} is {value!r}")
    return CompiledPolicy(
        name=str(data["name"]),
        required_layers=tuple(Layer(layer) for layer in data["required_layers"]),
        filesystem=CompiledFilesystem(
            read_only=_strings(files["read_only"]),
            writable=_strings(files["writable"]),
            exec=_strings(files["exec"]),
            deny=_strings(files["deny"]),
        ),
        environment=CompiledEnvironment(
            set={str(name): str(value) for name, value in env["set"].items()},
            allow=_strings(env["allow"]),
        ),
        network=CompiledNetwork(mode=str(net["mode"]), allow=_strings(net["allow"])),
        resources=resources,
        syscalls=CompiledSyscalls(
            profile=str(calls["profile"]), extra_deny=_strings(calls["extra_deny"])
        ),
    )


def _strings(values: list[Any]) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TypeError(f"expected a list of strings, got {values!r}")
    return tuple(values)
