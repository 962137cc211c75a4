from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sentinel.sandbox.capabilities.cgroups import cgroup_mounts, parse_proc_cgroup
from sentinel.sandbox.capabilities.mountinfo import parse_mountinfo


def test_parses_fields_after_optional_tags() -> None:
    line = (
        "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:2 - "
        "ext3 /dev/root rw,errors=continue"
    )
    [entry] = parse_mountinfo(line + "\nnot a mountinfo line\n")
    assert entry.mountpoint == "/mnt/with space"
    assert entry.fstype == "ext3"
    assert entry.super_options == ("rw", "errors=continue")


def test_v1_flags_and_named_hierarchies_are_not_controllers() -> None:
    text = (
        "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct,clone_children\n"
        "2 0 0:2 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "3 0 0:3 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    mounts = cgroup_mounts(parse_mountinfo(text))
    assert [(m.version, m.path, m.controllers) for m in mounts] == [
        ("v1", "/sys/fs/cgroup/cpu,cpuacct", ["cpu", "cpuacct"]),
        ("v1", "/sys/fs/cgroup/systemd", []),
        ("v2", "/sys/fs/cgroup/unified", []),
    ]


def test_proc_cgroup_splits_v1_and_v2() -> None:
    v1, v2 = parse_proc_cgroup(
        "4:memory:/a/b\n1:cpu,cpuacct:/\n9:name=systemd:/x\n0::/user.slice\n"
    )
    assert v1 == {"memory": "/a/b", "cpu": "/", "cpuacct": "/"}
    assert v2 == "/user.slice"


paths = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\x00"), min_size=1).map(
    lambda s: "/" + s
)


@given(paths)
def test_escaped_mountpoints_round_trip(path: str) -> None:
    escaped = path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
    [entry] = parse_mountinfo(f"1 0 0:1 / {escaped} rw - tmpfs tmpfs rw\n")
    assert entry.mountpoint == path
