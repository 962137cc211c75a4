"""Where this host mounts cgroup v2, found the way Sentinel's own detection finds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.sandbox.capabilities.cgroups import cgroup_mounts
from sentinel.sandbox.capabilities.mountinfo import parse_mountinfo


def v2_root() -> Path:
    """The cgroup v2 mount point (``/sys/fs/cgroup/unified`` on a hybrid host, ``/sys/fs/cgroup``
    on a pure v2 one); the probe watches v2 groups only, so a host without one fails."""
    mounts = cgroup_mounts(parse_mountinfo(Path("/proc/self/mountinfo").read_text()))
    v2 = next((mount for mount in mounts if mount.version == "v2"), None)
    if v2 is None:
        pytest.fail("no cgroup v2 mount on this host: the probe cannot watch a group")
    return Path(v2.path)
