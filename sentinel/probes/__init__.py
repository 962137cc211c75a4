"""Kernel probes: what each agent's processes did, seen from the kernel.

CO-RE eBPF programs on BTF tracepoints (``native/sentinel-probe``), filtered in the kernel to
Sentinel's sandbox cgroups, report programs run, files opened for writing and bytes written,
connections tried, syscalls seccomp refused and process exits. :class:`ProbeSession` loads
them; :class:`ProbeRecorder` batches what they see into the audit trail.
"""

from sentinel.probes.recorder import PROBE_STREAM, ProbeRecorder
from sentinel.probes.records import AgentTotals, ProbeKind, ProbeRecord
from sentinel.probes.session import ProbeSession

__all__ = [
    "PROBE_STREAM",
    "AgentTotals",
    "ProbeKind",
    "ProbeRecord",
    "ProbeRecorder",
    "ProbeSession",
]
