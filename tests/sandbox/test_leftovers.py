"""Nothing of Sentinel's outlives its process: loop devices, mounts, cgroups, leases and
images are counted before and after each exit path (a normal end, SIGTERM, SIGKILL + gc).
Counts are of this test's own objects (other suites may run on the machine meanwhile).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from sentinel.errors import SandboxError
from sentinel.sandbox import disk_quota, empty_nodes, image_lock, kernel_api, leftovers
from sentinel.sandbox.cgroup import AgentCgroup
from sentinel.sandbox.disk_quota import mounts_below
from sentinel.sandbox.launch import host_capabilities
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.warm import Sandbox

pytestmark = pytest.mark.host

CLI = str(Path(sys.executable).parent / "sentinel-run")
START_TIMEOUT_S = 20.0


def _cgroups(agent: str) -> list[Path]:
    roots = {c.path for c in host_capabilities().cgroups.controllers.values() if c.path}
    return [d for root in roots for d in Path(root).glob(f"sentinel-{agent}-*")]


def _leases(base: Path, agent: str) -> list[leftovers.Lease]:
    return [
        lease
        for lease in leftovers.leases()
        if lease.path.startswith(f"{base}/") or f"sentinel-{agent}-" in lease.path
    ]


def _census(base: Path, agent: str) -> dict[str, int]:
    return {
        "mounts": len(mounts_below(base)),
        "loops": len(leftovers.quota_loop_devices(base)),
        "cgroups": len(_cgroups(agent)),
        "leases": len(_leases(base, agent)),
        "images": len(list(base.glob("*.quota.img"))),
        "staging": len([p for p in base.iterdir() if p.name.startswith("tmp")]),
    }


NOTHING = {"mounts": 0, "loops": 0, "cgroups": 0, "leases": 0, "staging": 0}


def _exec_until_running(base: Path, agent: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [CLI, "sandbox", "exec", "--agent", agent, "--workspace", str(base / "ws"), "--",
         "sleep", "60"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        groups = _cgroups(agent)
        if groups and any((g / "cgroup.procs").read_text().split() for g in groups):
            time.sleep(0.2)  # bwrap and the command are inside
            return process
        time.sleep(0.05)
    process.kill()
    _, stderr = process.communicate(timeout=30)
    pytest.fail(f"the sandbox did not start: {stderr!r}")


def _settled_census(base: Path, agent: str, timeout_s: float = 15.0) -> dict[str, int]:
    """The census once the kernel has let go of the loop devices gc released.

    gc unmounts with MNT_DETACH and kills the group; a loop device (autoclear) is freed only
    when the last mount namespace holding the file system is gone, which happens after the
    killed processes are reaped: moments later, longer on a loaded machine.
    """
    deadline = time.monotonic() + timeout_s
    census = _census(base, agent)
    while census["loops"] and time.monotonic() < deadline:
        time.sleep(0.1)
        census = _census(base, agent)
    return census


def _agent() -> str:
    return f"left{uuid.uuid4().hex[:8]}"


def _reaped(process: subprocess.Popen[bytes]) -> None:
    """Kill and wait for ``process`` if a failed assertion left it running."""
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=30)


def test_a_sigtermed_sandbox_exec_leaves_nothing(sandbox_base: Path) -> None:
    agent = _agent()
    process = _exec_until_running(sandbox_base, agent)
    try:
        during = _census(sandbox_base, agent)
        assert during["mounts"] == during["loops"] == 1 and during["cgroups"] >= 1
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        _reaped(process)
    assert process.returncode == 128 + signal.SIGTERM
    after = _census(sandbox_base, agent)
    assert {k: after[k] for k in NOTHING} == NOTHING
    assert after["images"] == 1  # the workspace's files, kept with the workspace


def test_control_a_sigkilled_exec_leaves_them_and_gc_removes_them(sandbox_base: Path) -> None:
    agent = _agent()
    process = _exec_until_running(sandbox_base, agent)
    _reaped(process)
    left = _census(sandbox_base, agent)
    assert left["mounts"] == left["loops"] == 1 and left["cgroups"] >= 1 and left["leases"] >= 2
    with Sandbox(SandboxPolicy(), "gc-bystander", workspace=sandbox_base / "alive") as alive:
        alive.run(["true"])
        done = subprocess.run(
            [CLI, "sandbox", "gc", "--json"], capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert alive.run(["true"]).exit_code == 0  # a live sandbox is never collected
        assert mounts_below(sandbox_base / "alive")
    after = _settled_census(sandbox_base, agent)
    assert {k: after[k] for k in NOTHING} == NOTHING, report
    assert any(str(sandbox_base / "ws") in line for line in report["removed"])


def test_a_process_releases_its_mounts_when_it_exits(sandbox_base: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from sentinel.sandbox.policy import SandboxPolicy\n"
        "from sentinel.sandbox.runner import run_once\n"
        "r = run_once(SandboxPolicy(), ['true'], workspace=Path(sys.argv[1]))\n"
        "assert r.exit_code == 0, r.stderr\n"
    )
    subprocess.run([sys.executable, "-c", script, str(sandbox_base / "ws")], check=True, timeout=60)
    assert not mounts_below(sandbox_base)
    assert not leftovers.quota_loop_devices(sandbox_base)


def test_closing_a_warm_sandbox_releases_its_workspace(sandbox_base: Path) -> None:
    with Sandbox(SandboxPolicy(), "closing", workspace=sandbox_base / "ws") as sandbox:
        sandbox.run(["true"])
        assert mounts_below(sandbox_base / "ws")
    assert not mounts_below(sandbox_base)
    assert not _leases(sandbox_base, "closing")


def test_cgroup_errors_are_reported_never_taken_as_empty(
    sandbox_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = AgentCgroup.unique("errors", host_capabilities().cgroups, SandboxPolicy().resources)
    (sandbox_base / "not-a-dir").write_text("")
    group.dirs = {"pids": sandbox_base / "not-a-dir", "memory": sandbox_base / "busy"}
    with pytest.raises(SandboxError, match="cannot list its processes"):
        group.pids()
    (sandbox_base / "busy").mkdir()
    (sandbox_base / "busy" / "file").write_text("")  # rmdir fails: not empty
    group.dirs = {"pids": sandbox_base / "busy", "memory": sandbox_base / "busy"}
    monkeypatch.setattr("sentinel.sandbox.cgroup.KILL_ROUNDS", 3)
    with pytest.raises(SandboxError, match="cannot remove"):
        group.remove()


def test_a_lease_is_written_whole_and_a_broken_one_is_reported_not_fatal(
    sandbox_base: Path,
) -> None:
    path = sandbox_base / f"lease-{uuid.uuid4().hex[:8]}"
    leftovers.take("directory", path)
    try:
        file = leftovers._lease_file("directory", str(path))
        assert json.loads(file.read_text())["path"] == str(path)
        assert not list(file.parent.glob(f"{file.name}.*.tmp"))  # no partial left behind
    finally:
        leftovers.give_back("directory", path)
    broken = leftovers.LEASE_DIR / f"directory-broken{uuid.uuid4().hex[:12]}.json"
    broken.write_text('{"kind": "direc')  # what a half-written lease of old looked like
    try:
        found, unreadable = leftovers.read_leases()
        assert all(lease.file != broken for lease in found)
        assert unreadable == []  # young: perhaps being written, so not yet an error
        old = time.time() - 3600
        os.utime(broken, (old, old))
        found, unreadable = leftovers.read_leases()
        assert [line for line in unreadable if str(broken) in line]
    finally:
        broken.unlink(missing_ok=True)


def test_a_finished_sandbox_exec_leaves_nothing_once_its_detached_unmount_is_done(
    sandbox_base: Path,
) -> None:
    """The CLI returns before the unmount ends; its child holds the image's lock until then."""
    agent = _agent()
    done = subprocess.run(
        [CLI, "sandbox", "exec", "--agent", agent, "--workspace", str(sandbox_base / "ws"),
         "--", "sh", "-c", "echo kept > f"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with image_lock.hold(disk_quota.image_path(sandbox_base / "ws")):  # waits for the child
        after = _settled_census(sandbox_base, agent)
    assert {k: after[k] for k in NOTHING} == NOTHING
    assert after["images"] == 1
    again = subprocess.run(
        [CLI, "sandbox", "exec", "--agent", agent, "--workspace", str(sandbox_base / "ws"),
         "--", "cat", "f"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    assert again.stdout == b"kept\n"  # written back to the image before the lock was let go


_MAKE_NODES = """
import os, signal, sys
from sentinel.sandbox.empty_nodes import empty_nodes
print(empty_nodes()[0].parent, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _nodes_home(how: str) -> Path:
    run = subprocess.run(
        [sys.executable, "-c", _MAKE_NODES, how],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stdout, run.stderr
    return Path(run.stdout.split()[0])


def _nodes_as_nobody(remove: Callable[[Path], None]) -> Path:
    """Make the empty nodes in a forked child running as nobody, and remove them there."""
    read_end, write_end = os.pipe()

    def child() -> int:
        os.close(read_end)
        if kernel_api.drop_to_uid(65534, 65534) != 0:
            return 1
        home = empty_nodes.empty_nodes()[0].parent
        os.write(write_end, str(home).encode())
        remove(home)
        return 0

    try:
        assert kernel_api.errno_in_child(child) == 0
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as pipe:
        return Path(pipe.read())


def test_the_empty_nodes_leave_with_their_process() -> None:
    home = _nodes_home("exit")
    assert home.name.startswith("sentinel-nodes-")
    assert not home.exists()
    assert not leftovers._lease_file("directory", str(home)).exists()


def test_an_unprivileged_owner_removes_its_empty_nodes() -> None:
    home = _nodes_as_nobody(lambda home: empty_nodes.remove_empty_nodes(home, os.getpid()))
    assert home.name.startswith("sentinel-nodes-")
    assert not home.exists()


def test_an_unprivileged_owner_needs_the_000_directory_opened_to_remove_it() -> None:
    """Negative control of the removal: a plain rmtree cannot list the 000 directory."""
    home = _nodes_as_nobody(lambda home: shutil.rmtree(home, ignore_errors=True))
    try:
        assert (home / "dir").exists()
    finally:
        shutil.rmtree(home, ignore_errors=True)  # as root


def test_a_forked_child_leaves_its_parents_empty_nodes() -> None:
    home = _nodes_as_nobody(lambda home: empty_nodes.remove_empty_nodes(home, os.getppid()))
    try:
        assert (home / "dir").exists()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_gc_removes_the_empty_nodes_of_a_killed_root_process() -> None:
    home = _nodes_home("kill")
    try:
        assert home.is_dir()  # SIGKILL: no exit handler ran
        assert leftovers._lease_file("directory", str(home)).exists()
        report = leftovers.collect()
        assert f"directory {home}" in report.removed
        assert not home.exists()
        assert not leftovers._lease_file("directory", str(home)).exists()
    finally:
        shutil.rmtree(home, ignore_errors=True)
        leftovers.give_back("directory", home)


def test_the_next_process_of_a_uid_removes_the_nodes_of_one_killed_before_its_exit() -> None:
    """A worker pool's terminate or a SIGKILL runs no exit handler: an unprivileged process
    has no lease for gc, so the next one of its uid removes what the dead one left."""
    killed = _nodes_as_nobody(lambda home: None)  # exits without its handlers: left
    try:
        assert (killed / "dir").exists()  # the control: nothing else removes it
        later = _nodes_as_nobody(lambda home: empty_nodes.remove_empty_nodes(home, os.getpid()))
        assert not later.exists()
        assert not killed.exists()
    finally:
        shutil.rmtree(killed, ignore_errors=True)


def _name(pid: int, start: object, tail: str, namespace: int | None = None) -> str:
    ns = empty_nodes._pid_namespace() if namespace is None else namespace
    return f"{empty_nodes.NODES_PREFIX}{ns}-{pid}-{start}-{tail}"


def test_nodes_of_a_live_process_another_uid_or_namespace_are_kept(tmp_path: Path) -> None:
    own = tmp_path / _name(os.getpid(), leftovers.process_start(os.getpid()), "ab")
    other = tmp_path / _name(999999999, 1, "cd")  # a pid that cannot run
    foreign = tmp_path / _name(999999998, 1, "ef")
    planted = tmp_path / _name(999999997, 1, "01")
    elsewhere = tmp_path / _name(999999996, 1, "02", namespace=1)  # another pid namespace
    odd = tmp_path / f"{empty_nodes.NODES_PREFIX}\u00b2-1-1-03"  # a digit int() refuses
    for home in (own, other, foreign, elsewhere, odd):
        (home / "dir").mkdir(parents=True, mode=0o000)
    os.chown(foreign, 65534, 65534)  # another uid's
    target = tmp_path / "target"
    target.mkdir()
    planted.symlink_to(target)  # a link in the name's place: never followed
    assert empty_nodes.remove_stale_nodes(tmp_path) == [other]
    assert own.exists() and foreign.exists() and elsewhere.exists() and odd.exists()
    assert target.exists() and planted.is_symlink()


def test_a_directory_swapped_in_after_the_sweep_looked_is_left(tmp_path: Path) -> None:
    """What the sweep removes is the directory it looked at, opened without a link."""
    home = tmp_path / _name(999999995, 1, "04")
    (home / "dir").mkdir(parents=True, mode=0o000)
    seen = home.stat()
    home.rename(tmp_path / "moved")
    (home / "dir").mkdir(parents=True)  # another directory at the name
    base = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert not empty_nodes._remove_at(base, home, seen)
        assert (home / "dir").exists()
        shutil.rmtree(home)
        home.symlink_to(tmp_path / "moved")  # a link at the name: not opened
        assert not empty_nodes._remove_at(base, home)
        assert (tmp_path / "moved" / "dir").stat().st_mode & 0o777 == 0  # not opened up
    finally:
        os.close(base)


def test_a_temporary_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky
    empty_nodes._check_base(tmp_path)  # root's, 0700: fine
    with pytest.raises(SandboxError, match="writable by others and not sticky"):
        empty_nodes._check_base(shared)
    shared.chmod(0o1777)
    empty_nodes._check_base(shared)  # sticky, like /tmp
    os.chown(shared, 65534, 65534)
    with pytest.raises(SandboxError, match="owned by another user"):
        empty_nodes._check_base(shared)


def test_a_name_someone_made_first_is_neither_used_nor_leased(sandbox_base: Path) -> None:
    taken = sandbox_base / f"taken-{uuid.uuid4().hex[:8]}"
    taken.mkdir()
    with pytest.raises(FileExistsError):
        leftovers.make_leased_directory(taken, 0o700)
    assert not leftovers._lease_file("directory", str(taken)).exists()  # gc leaves it
    made = sandbox_base / f"made-{uuid.uuid4().hex[:8]}"
    try:
        leftovers.make_leased_directory(made, 0o700)  # the control: made and leased
        assert made.is_dir() and leftovers._lease_file("directory", str(made)).exists()
    finally:
        leftovers.give_back("directory", made)


def _dead_directory_lease(path: Path) -> leftovers.Lease:
    return leftovers.Lease(
        file=path.parent / "no-such.lease", kind="directory", path=str(path), pid=0, start=None
    )


def test_a_link_at_a_dead_leases_directory_is_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead lease's directory replaced by a link to another run's directory: gc neither
    lists nor locks that run's images, and removes nothing (the control: the real directory
    at that name is listed, its image locked, and removed)."""
    held: list[Path] = []
    real_hold = image_lock.hold

    def recording_hold(image: Path, *, wait: bool = True) -> image_lock.ImageLock:
        held.append(image)
        return real_hold(image, wait=wait)

    monkeypatch.setattr(image_lock, "hold", recording_hold)
    other_run = tmp_path / "live-run"
    (other_run / "agent").mkdir(parents=True)
    image = other_run / "agent" / f".ws{disk_quota.QUOTA_SUFFIX}"
    image.write_bytes(b"\0" * 4096)
    link = tmp_path / "dead-run"
    link.symlink_to(other_run)
    report = leftovers.GcReport()
    assert leftovers._collect_lease(_dead_directory_lease(link), report)
    assert held == [] and image.exists() and link.is_symlink()
    assert any("not a directory now" in kept for kept in report.kept)

    link.unlink()  # the control: a real directory at the name
    shutil.copytree(other_run, link)
    report = leftovers.GcReport()
    assert leftovers._collect_lease(_dead_directory_lease(link), report)
    assert held == [link / "agent" / image.name] and not link.exists()
    assert report.removed == [f"directory {link}"] and image.exists()
