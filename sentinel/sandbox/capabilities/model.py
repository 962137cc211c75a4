"""Typed results of host detection: raw facts per subsystem and a verdict per layer."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Verdict(StrEnum):
    """How fully this host offers a layer."""

    AVAILABLE = "available"
    """Every feature Sentinel uses from this layer works here."""
    DEGRADED = "degraded"
    """The layer works, but some feature is missing; the report says which and why."""
    UNAVAILABLE = "unavailable"
    """The layer cannot be used here; the report says why and what would fix it."""


LayerKind = Literal["layer", "prerequisite", "observability"]
"""``layer``: a sandbox enforcement layer (counted by ``--strict``); ``prerequisite``: a kernel
feature layers build on; ``observability``: used to watch agents, not to confine them."""


class _Frozen(BaseModel):
    # Validators are built on first validation, not at import: a launch that reads root's
    # cached detection (capabilities/cache.py) never validates, and saves ~25 ms of start.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Probe(_Frozen):
    """The outcome of one attempt to use a kernel feature for real."""

    ok: bool
    errno: int = 0
    detail: str = ""

    @classmethod
    def from_errno(cls, err: int, detail: str = "") -> Probe:
        """Build a probe result from ``0`` (success) or a positive errno."""
        return cls(ok=err == 0, errno=err, detail=detail)


class BwrapFacts(_Frozen):
    """What was found of bubblewrap."""

    path: str | None
    version: str | None
    setuid: bool
    options: list[str]
    """The subset of the options Sentinel relies on that ``bwrap --help`` lists."""
    smoke: Probe | None
    """``bwrap --unshare-all ... true`` run for real; None when bwrap is missing."""


class UserNamespaceFacts(_Frozen):
    """Whether new user namespaces can be created, by root and by an unprivileged uid."""

    max_user_namespaces: int | None
    unprivileged_userns_clone: int | None
    apparmor_restrict_unprivileged_userns: int | None
    as_root: Probe | None
    """None when Sentinel does not run as root (the unprivileged probe then uses our own uid)."""
    as_unprivileged: Probe
    unprivileged_uid: int


class LandlockFacts(_Frozen):
    """Landlock as reported by ``landlock_create_ruleset(..., VERSION)``."""

    abi: int
    errno: int
    features: list[str]


class SeccompFacts(_Frozen):
    """Seccomp filter support."""

    mode_field_present: bool
    """``Seccomp:`` appears in /proc/self/status, i.e. the kernel has CONFIG_SECCOMP."""
    current_mode: int | None
    actions_available: list[str]
    filter_load: Probe


class CgroupController(_Frozen):
    """One cgroup controller and where Sentinel could use it."""

    name: str
    usable: bool
    hierarchy: Literal["v1", "v2"] | None
    path: str | None
    """The cgroup directory under which Sentinel would create per-agent groups."""
    reason: str = ""


class CgroupMount(_Frozen):
    """One mounted cgroup hierarchy."""

    version: Literal["v1", "v2"]
    path: str
    controllers: list[str]


class CgroupFacts(_Frozen):
    """The cgroup layout and each controller Sentinel needs."""

    layout: Literal["v1", "v2", "hybrid", "none"]
    mounts: list[CgroupMount]
    controllers: dict[str, CgroupController]

    @property
    def v2_mount(self) -> str | None:
        """Where the unified (v2) hierarchy is mounted; None without one."""
        return next((mount.path for mount in self.mounts if mount.version == "v2"), None)


class NetworkFacts(_Frozen):
    """Network namespaces, veth and nftables."""

    netns_as_root: Probe | None
    netns_unprivileged: Probe
    ip_path: str | None
    veth: Probe | None
    nft_path: str | None
    nft_version: str | None
    nft_output_hook: Probe | None
    """An inet table with a drop-policy output chain loaded into a throwaway namespace."""


class BpfFacts(_Frozen):
    """eBPF for the observers."""

    btf_vmlinux: bool
    unprivileged_bpf_disabled: int | None
    prog_load: Probe
    raw_tracepoint_attach: Probe
    tracefs_supported: bool
    tracefs_mounted: bool
    kprobes: bool
    lsm: list[str] | None
    """Active LSMs from securityfs; None when securityfs is not mounted."""


class FuseFacts(_Frozen):
    """FUSE for the content-addressed workspace."""

    device_present: bool
    device_open: Probe | None
    filesystem_registered: bool
    fusermount3_path: str | None


class WorkspaceFsFacts(_Frozen):
    """What the workspace file system (disk quota, noexec) needs."""

    loop_control: bool
    ext4_registered: bool
    mkfs_ext4_path: str | None
    mount_path: str | None


class WasmtimeFacts(_Frozen):
    """The Wasmtime runtime used for WASI tools."""

    version: str | None
    smoke: Probe | None
    """A module run with fuel metering and a memory limit; None when wasmtime is missing."""


class LayerReport(_Frozen):
    """The verdict on one layer, with the reason and the fix when it is not available."""

    name: str
    kind: LayerKind
    verdict: Verdict
    summary: str
    """What was found, in a few words (``"ABI 7"``, ``"v1: memory pids cpu"``)."""
    reason: str = ""
    fix: str = ""


class LayerJudge:
    """Builds the reports of one layer, so that each verdict names its layer the same way.

    Args:
        name: The layer's name in reports (``"bwrap"``, ``"landlock"`` ...).
        kind: Whether it confines agents, is a prerequisite, or serves observability.
    """

    def __init__(self, name: str, kind: LayerKind) -> None:
        self.name = name
        self.kind: LayerKind = kind

    def report(
        self, verdict: Verdict, summary: str, reason: str = "", fix: str = ""
    ) -> LayerReport:
        """A report with any verdict."""
        return LayerReport(
            name=self.name, kind=self.kind, verdict=verdict, summary=summary, reason=reason, fix=fix
        )

    def available(self, summary: str) -> LayerReport:
        """Every feature Sentinel uses from the layer works."""
        return self.report(Verdict.AVAILABLE, summary)

    def degraded(self, summary: str, *, reason: str, fix: str) -> LayerReport:
        """The layer works with a gap, described by ``reason``."""
        return self.report(Verdict.DEGRADED, summary, reason, fix)

    def unavailable(self, summary: str, *, reason: str, fix: str) -> LayerReport:
        """The layer cannot be used here."""
        return self.report(Verdict.UNAVAILABLE, summary, reason, fix)


class HostInfo(_Frozen):
    """Identification of the host the report describes."""

    kernel: str
    machine: str
    os: str | None
    euid: int
    sentinel_version: str


class HostCapabilities(_Frozen):
    """Everything :func:`sentinel.sandbox.detect` found, facts and verdicts."""

    host: HostInfo
    bwrap: BwrapFacts
    user_namespaces: UserNamespaceFacts
    landlock: LandlockFacts
    seccomp: SeccompFacts
    cgroups: CgroupFacts
    network: NetworkFacts
    bpf: BpfFacts
    fuse: FuseFacts
    wasmtime: WasmtimeFacts
    workspace_fs: WorkspaceFsFacts
    layers: list[LayerReport]

    def layer(self, name: str) -> LayerReport:
        """Return the report of layer ``name``.

        Raises:
            KeyError: No layer has that name; the message lists the known names.
        """
        for report in self.layers:
            if report.name == name:
                return report
        known = ", ".join(report.name for report in self.layers)
        raise KeyError(f"no layer named {name!r}; known layers: {known}")

    def unavailable_layers(self) -> list[LayerReport]:
        """Sandbox layers (kind ``layer``) that this host cannot enforce at all."""
        return [
            report
            for report in self.layers
            if report.kind == "layer" and report.verdict is Verdict.UNAVAILABLE
        ]
