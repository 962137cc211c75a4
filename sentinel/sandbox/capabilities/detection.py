"""Compose every probe into one :class:`HostCapabilities` report."""

from __future__ import annotations

import platform

import sentinel
from sentinel.sandbox.capabilities.bpf import assess_bpf, detect_bpf
from sentinel.sandbox.capabilities.bwrap import assess_bwrap, detect_bwrap
from sentinel.sandbox.capabilities.cgroups import assess_cgroups, detect_cgroups
from sentinel.sandbox.capabilities.fuse import assess_fuse, detect_fuse
from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.landlock import assess_landlock, detect_landlock
from sentinel.sandbox.capabilities.model import HostCapabilities, HostInfo
from sentinel.sandbox.capabilities.network import assess_network, detect_network
from sentinel.sandbox.capabilities.seccomp import assess_seccomp, detect_seccomp
from sentinel.sandbox.capabilities.userns import assess_user_namespaces, detect_user_namespaces
from sentinel.sandbox.capabilities.wasmtime import assess_wasmtime, detect_wasmtime
from sentinel.sandbox.capabilities.workspace_fs import assess_workspace_fs, detect_workspace_fs


def _os_name(host: HostView) -> str | None:
    for line in (host.read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return None


def detect(host: HostView | None = None) -> HostCapabilities:
    """Detect what this host can enforce, by trying each kernel feature for real.

    Every probe that changes process state runs in a forked child; probes that create
    objects (network tables, links, cgroups) do so in throwaway namespaces or remove them
    at once, so detection leaves the host as it found it. Takes about half a second.

    Args:
        host: The host to examine; this machine by default. Tests pass a view of a
            simulated ``/proc`` and ``/sys`` tree.

    Returns:
        Raw facts per subsystem and a verdict (available / degraded / unavailable, with
        reason and fix) per layer.

    Raises:
        sentinel.errors.HostProbeError: The probe machinery itself failed (e.g. ``fork``).
    """
    host = host if host is not None else HostView()
    uname = platform.uname()
    kernel = (host.read("/proc/sys/kernel/osrelease") or uname.release).strip()
    info = HostInfo(
        kernel=kernel,
        machine=uname.machine,
        os=_os_name(host),
        euid=host.euid(),
        sentinel_version=sentinel.__version__,
    )
    bwrap = detect_bwrap(host)
    userns = detect_user_namespaces(host)
    landlock = detect_landlock(host)
    seccomp = detect_seccomp(host)
    cgroups = detect_cgroups(host)
    network = detect_network(host)
    bpf = detect_bpf(host)
    fuse = detect_fuse(host)
    wasmtime = detect_wasmtime(host)
    workspace_fs = detect_workspace_fs(host)
    layers = [
        assess_bwrap(bwrap),
        assess_landlock(landlock),
        assess_seccomp(seccomp),
        assess_cgroups(cgroups),
        assess_network(network),
        assess_wasmtime(wasmtime),
        assess_user_namespaces(userns),
        assess_bpf(bpf),
        assess_fuse(fuse, is_root=info.euid == 0),
        assess_workspace_fs(workspace_fs, is_root=info.euid == 0),
    ]
    return HostCapabilities(
        host=info,
        bwrap=bwrap,
        user_namespaces=userns,
        landlock=landlock,
        seccomp=seccomp,
        cgroups=cgroups,
        network=network,
        bpf=bpf,
        fuse=fuse,
        wasmtime=wasmtime,
        workspace_fs=workspace_fs,
        layers=layers,
    )
