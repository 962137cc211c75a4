"""Detect eBPF support for the observers: program load, tracepoint attach, BTF."""

from __future__ import annotations

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import BpfFacts, LayerJudge, LayerReport
from sentinel.sandbox.capabilities.mountinfo import parse_mountinfo

BPF = LayerJudge("bpf", "observability")


def detect_bpf(host: HostView) -> BpfFacts:
    """Load and attach a do-nothing tracepoint program; look for BTF, tracefs and kprobes."""
    load, attach = host.bpf_probe()
    filesystems = host.read("/proc/filesystems") or ""
    lsm_text = host.read("/sys/kernel/security/lsm")
    mounted = {entry.fstype for entry in parse_mountinfo(host.read("/proc/self/mountinfo") or "")}
    return BpfFacts(
        btf_vmlinux=host.exists("/sys/kernel/btf/vmlinux"),
        unprivileged_bpf_disabled=host.read_int("/proc/sys/kernel/unprivileged_bpf_disabled"),
        prog_load=load,
        raw_tracepoint_attach=attach,
        tracefs_supported="tracefs" in filesystems.split(),
        tracefs_mounted="tracefs" in mounted,
        kprobes=host.exists("/sys/bus/event_source/devices/kprobe"),
        lsm=lsm_text.strip().split(",") if lsm_text else None,
    )


def assess_bpf(facts: BpfFacts) -> LayerReport:
    """Judge eBPF observability (CO-RE tracepoint programs need load, attach and BTF)."""
    extras = [
        "BTF" if facts.btf_vmlinux else "no BTF",
        "kprobes" if facts.kprobes else "no kprobes",
        "tracefs mounted" if facts.tracefs_mounted else "tracefs not mounted",
    ]
    summary = "tracepoints attach; " + ", ".join(extras)
    if not facts.prog_load.ok:
        fix = "run Sentinel as root (CAP_BPF)"
        if facts.unprivileged_bpf_disabled not in (None, 0):
            fix += "; unprivileged BPF is disabled by kernel.unprivileged_bpf_disabled"
        return BPF.unavailable(
            summary="cannot load programs",
            reason=f"bpf(BPF_PROG_LOAD) refused: {facts.prog_load.detail}",
            fix=fix,
        )
    if not facts.raw_tracepoint_attach.ok:
        return BPF.unavailable(
            summary="programs load, attach fails",
            reason="attaching to the sys_enter raw tracepoint failed: "
            + facts.raw_tracepoint_attach.detail,
            fix="run a kernel with CONFIG_BPF_EVENTS=y",
        )
    if not facts.btf_vmlinux:
        return BPF.degraded(
            summary=summary,
            reason="no /sys/kernel/btf/vmlinux: CO-RE programs cannot be relocated",
            fix="run a kernel built with CONFIG_DEBUG_INFO_BTF=y",
        )
    return BPF.available(summary=summary)
