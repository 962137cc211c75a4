"""Sandbox policies: what an agent may read, write, execute, reach and consume.

A policy is data (TOML in ``config/policies/``) validated by pydantic. Validation is
strict: unknown keys, relative paths, overlapping allow and deny sets, writable paths
outside the agent's workspace, exec rights on writable paths and impossible limits are
refused with the file and field named, so a policy can never widen access silently.

``{workspace}`` in a path stands for the agent's workspace directory.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.errors import PolicyError
from sentinel.sandbox.policy_terms import MANDATORY_DENY, WORKSPACE, Layer, resolve
from sentinel.toml_model import load_model

__all__ = [
    "DEFAULT_READ_ONLY", "FORBIDDEN_BINDS", "MANDATORY_DENY", "MAX_TIMEOUT_S", "MIN_MEMORY_MB",
    "WORKSPACE", "EnvironmentPolicy", "FilesystemPolicy", "Layer", "NetworkPolicy",
    "ResourcePolicy", "SandboxPolicy", "SyscallPolicy", "WasmPolicy", "resolve",
]  # fmt: skip

FORBIDDEN_BINDS: Final = (
    "/",
    "/tmp",  # noqa: S108 - the sandbox's own scratch: binding it would expose the host's
    "/var/tmp",  # noqa: S108
    "/dev/shm",  # noqa: S108
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/boot",
    "/root",
    "/home",
)
"""Paths a policy may not bind, nor anything inside them (``/`` itself only): the layers
mount private /proc, /dev, /tmp and /dev/shm themselves; the rest holds the host's sockets,
users and boot files. Compared after resolving symbolic links (``/var/run`` is ``/run``)."""

MIN_MEMORY_MB: Final = 16
"""Below this a Python interpreter cannot start; such a limit is a typo, not a policy."""
MAX_TIMEOUT_S: Final = 24 * 3600


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_path(value: str) -> str:
    """A policy path, normalised: absolute, no ``..``, NUL or non-UTF-8; host paths resolved.

    ``//run``, ``/./run`` and ``/run/`` all become ``/run``; a host path is resolved through
    its symbolic links at load (``/var/run`` becomes ``/run``), so every later check compares
    the path the kernel will use.
    """
    if "\0" in value:
        raise ValueError(f"{value!r} contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} is not valid UTF-8") from None
    if WORKSPACE in value and not value.startswith(WORKSPACE):
        raise ValueError(f"{value!r}: {WORKSPACE} may only start a path")
    path = PurePosixPath(value.replace(WORKSPACE, "/__workspace__", 1))
    if not path.is_absolute():
        raise ValueError(f"{value!r} is relative; use an absolute path or start with {WORKSPACE}")
    if ".." in path.parts:
        raise ValueError(f"{value!r} contains '..'")
    if value.startswith(WORKSPACE):
        rest = posixpath.normpath("/" + value.removeprefix(WORKSPACE)).lstrip("/")
        return f"{WORKSPACE}/{rest}" if rest else WORKSPACE
    normal = "/" + posixpath.normpath(value).lstrip("/")
    if _forbidden(normal) is not None:
        return normal  # refused as spelled, whatever it resolves to
    try:
        return os.path.realpath(normal, strict=False)
    except OSError:  # a link root may not read (e.g. /proc/1/root): keep the normal form
        return normal


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _forbidden(path: str) -> str | None:
    """The forbidden bind ``path`` is, or lies inside (None: it may be bound)."""
    if path == "/":
        return "/"
    return next((f for f in FORBIDDEN_BINDS if f != "/" and _inside(path, f)), None)


DEFAULT_READ_ONLY: Final = (
    "/usr",
    "/etc/alternatives",
    "/etc/ssl/certs",
    "/etc/ld.so.cache",
    "/etc/localtime",
)
"""Enough of the host for a shell, Python and git: the system's programs and libraries."""


class FilesystemPolicy(_Strict):
    """Paths: read-only binds, writable (workspace only), exec, and extra denials."""

    read_only: list[str] = Field(default_factory=lambda: list(DEFAULT_READ_ONLY))
    writable: list[str] = Field(default_factory=lambda: [WORKSPACE])
    exec: list[str] = Field(default_factory=lambda: ["/usr"])
    deny: list[str] = Field(default_factory=list)

    @field_validator("read_only", "writable", "exec", "deny")
    @classmethod
    def _absolute(cls, values: list[str]) -> list[str]:
        return [_check_path(value) for value in values]

    @model_validator(mode="after")
    def _consistent(self) -> FilesystemPolicy:
        for path in self.read_only + self.writable + self.exec:
            forbidden = _forbidden(path)
            if forbidden is not None:
                where = "" if forbidden == path else f" (it is inside {forbidden})"
                raise ValueError(
                    f"{path!r} may not be bound into a sandbox{where}: it would expose the host"
                )
        for path in self.writable:
            if not _inside(path, WORKSPACE):
                raise ValueError(
                    f"writable path {path!r} is outside {WORKSPACE}: agents write only there"
                )
        if self.writable != [WORKSPACE]:
            raise ValueError(
                f"writable must be exactly [{WORKSPACE!r}]: the whole workspace is the one "
                "writable place (mark parts of it read_only or deny instead)"
            )
        for path in self.exec:
            if any(
                _inside(path, writable) or _inside(writable, path) for writable in self.writable
            ):
                raise ValueError(
                    f"exec path {path!r} overlaps a writable path: no exec where agents write"
                )
        for denied in self.deny:
            for allowed in self.read_only + self.writable + self.exec:
                if denied == allowed:
                    raise ValueError(f"{denied!r} is both allowed and denied")
            if denied == WORKSPACE or _forbidden(denied) == denied:
                raise ValueError(f"{denied!r} cannot be denied (it is not a bind of the policy)")
        return self

    @property
    def denied(self) -> tuple[str, ...]:
        """The policy's denials plus the mandatory ones."""
        return tuple(dict.fromkeys((*MANDATORY_DENY, *self.deny)))


class EnvironmentPolicy(_Strict):
    """The environment is cleared, then these variables are set."""

    set: dict[str, str] = Field(
        default_factory=lambda: {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": WORKSPACE,
            "LANG": "C.UTF-8",
        }
    )
    allow: list[str] = Field(default_factory=list)
    """Names copied from the launcher's environment (empty by default: nothing leaks)."""

    @field_validator("set")
    @classmethod
    def _names(cls, values: dict[str, str]) -> dict[str, str]:
        for name in values:
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"{name!r} is not an environment variable name")
        return values


class NetworkPolicy(_Strict):
    """``none``: loopback only. ``allowlist``: egress only to the listed ip:port."""

    mode: Literal["none", "allowlist"] = "none"
    allow: list[str] = Field(default_factory=list)

    @field_validator("allow")
    @classmethod
    def _endpoints(cls, values: list[str]) -> list[str]:
        for value in values:
            host, sep, port = value.rpartition(":")
            try:
                ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                raise ValueError(
                    f"{value!r} is not ip:port (names are not resolved inside sandboxes)"
                ) from None
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{value!r} has no valid port")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> NetworkPolicy:
        if self.mode == "none" and self.allow:
            raise ValueError(
                "mode 'none' with an allow list: set mode = 'allowlist' or drop the list"
            )
        if self.mode == "allowlist" and not self.allow:
            raise ValueError("mode 'allowlist' needs at least one ip:port")
        return self


class ResourcePolicy(_Strict):
    """Limits enforced by cgroups and by the runner.

    Strict types: ``pids = true`` or ``memory_mb = "256"`` are refused, never converted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)

    memory_mb: int = Field(default=256, ge=MIN_MEMORY_MB, le=1 << 20)
    pids: int = Field(default=64, ge=1, le=1 << 22)
    cpu_percent: int = Field(default=100, ge=1, le=100 * 1024)
    wall_timeout_s: float = Field(default=30.0, gt=0, le=MAX_TIMEOUT_S)
    max_output_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    max_open_files: int = Field(default=1024, ge=16, le=1 << 20)
    """RLIMIT_NOFILE of every sandboxed process (Python needs a handful to start)."""
    max_file_mb: int = Field(default=512, ge=1, le=1 << 30)
    """RLIMIT_FSIZE: no single file written may grow beyond this."""
    disk_mb: int = Field(default=1024, ge=0, le=1 << 30)
    """The workspace's disk quota (its own loop-mounted file system); 0: no quota."""


class SyscallPolicy(_Strict):
    """The seccomp profile: ``default`` denies the escape-relevant system calls."""

    profile: Literal["default"] = "default"
    extra_deny: list[str] = Field(default_factory=list)

    @field_validator("extra_deny")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        from sentinel.sandbox.syscall_table import NUMBERS  # noqa: PLC0415 - a data table

        unknown = [name for name in values if name not in NUMBERS]
        if unknown:
            raise ValueError(f"unknown system calls: {', '.join(unknown)}")
        return values


class WasmPolicy(_Strict):
    """Limits of each WASI tool call in Wasmtime (see :mod:`sentinel.sandbox.wasi_toolbox`)."""

    fuel: int = Field(default=1_000_000_000, ge=1, le=1 << 62)
    """Instructions (roughly) one call may execute: about a second of WebAssembly here."""
    memory_mb: int = Field(default=64, ge=1, le=4096)
    """Largest linear memory of one call (4096 MiB: the 32-bit address space)."""


class SandboxPolicy(_Strict):
    """Everything a sandbox enforces for one agent."""

    name: str = "agent"
    required_layers: list[Layer] = Field(default_factory=lambda: list(Layer))
    filesystem: FilesystemPolicy = Field(default_factory=FilesystemPolicy)
    environment: EnvironmentPolicy = Field(default_factory=EnvironmentPolicy)
    network: NetworkPolicy = Field(default_factory=NetworkPolicy)
    resources: ResourcePolicy = Field(default_factory=ResourcePolicy)
    syscalls: SyscallPolicy = Field(default_factory=SyscallPolicy)
    wasm: WasmPolicy = Field(default_factory=WasmPolicy)

    @field_validator("required_layers")
    @classmethod
    def _some_layer(cls, values: list[Layer]) -> list[Layer]:
        if not values:
            raise ValueError(
                "no layer: the sandbox would enforce nothing but the uid drop; list the layers "
                "(bwrap, landlock, seccomp, cgroups, netns)"
            )
        return list(dict.fromkeys(values))

    @classmethod
    def from_toml(cls, path: Path | str, *, content: bytes | None = None) -> SandboxPolicy:
        """Load and validate a policy file (``content``: its bytes, when already read).

        Raises:
            PolicyError: The file is missing, not TOML, or invalid; names file and field.
        """
        return load_model(cls, Path(path), what="the policy", error=PolicyError, content=content)
