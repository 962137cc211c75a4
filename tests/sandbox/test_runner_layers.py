"""Each sandbox layer, alone, blocks what it should; with the layer off the same attempt
succeeds (the negative control). Real kernel, real bwrap; these fail, never skip, when a
layer is missing.
"""

from __future__ import annotations

import shutil
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.errors import SandboxError, SandboxUnavailable
from sentinel.sandbox import detect
from sentinel.sandbox.agent_uid import in_range
from sentinel.sandbox.disk_quota import discard, mounts_below
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import scratch_dir
from tests.sandbox.simulated_host import SimulatedHost, build_healthy_tree

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
PY = "/usr/bin/python3"
NO_QUOTA = POLICY.model_copy(
    update={"resources": POLICY.resources.model_copy(update={"disk_mb": 0})}
)
"""The policy without the workspace file system, to see the switchable layers alone."""


def run(
    workspace: Path, argv: list[str], layers: list[str] | None = None, **kwargs: object
) -> ExecResult:
    return run_once(POLICY, argv, workspace=workspace, layers=layers, agent_id="test", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def decoy_dir() -> Iterator[Path]:
    """A world-writable directory outside any workspace (the attack target), removed after."""
    with scratch_dir("sentinel-test") as path:
        path.chmod(0o777)
        (path / "secret.txt").write_text("decoy secret\n")
        (path / "secret.txt").chmod(0o644)
        yield path


def test_full_stack_runs_as_an_agent_uid_in_its_own_world(workspace: Path) -> None:
    result = run(workspace, ["sh", "-c", "id -u; hostname; echo hello > note; cat note"])
    assert result.exit_code == 0, result.stderr
    uid, *rest = result.stdout.decode().split()
    assert in_range(int(uid)) and rest == ["sentinel-sandbox", "hello"]
    assert workspace.stat().st_uid == int(uid)
    assert result.layers == ("bwrap", "landlock", "seccomp", "cgroups", "netns", "workspace-fs")
    assert (workspace / "note").read_text() == "hello\n"


def test_bwrap_hides_host_files(workspace: Path, decoy_dir: Path) -> None:
    argv = ["cat", str(decoy_dir / "secret.txt")]
    assert run(workspace, argv, ["bwrap"]).exit_code != 0
    control = run(workspace, argv, [])
    assert control.exit_code == 0 and control.stdout == b"decoy secret\n"


def test_bwrap_hides_host_processes(workspace: Path) -> None:
    argv = [PY, "-c", "import os; print(sum(name.isdigit() for name in os.listdir('/proc')))"]
    inside = run(workspace, argv, ["bwrap"])
    assert int(inside.stdout) <= 3, inside.stdout
    assert int(run(workspace, argv, []).stdout) > 10


def test_bwrap_does_not_leak_the_launcher_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_CANARY_TOKEN", "leaked-value")
    argv = ["sh", "-c", "env; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'"]
    assert b"leaked-value" not in run(workspace, argv, ["bwrap"]).stdout
    leaky = run_once(POLICY.model_copy(update={"environment": POLICY.environment.model_copy(update={"allow": ["SENTINEL_CANARY_TOKEN"]})}),
                     argv, workspace=workspace, layers=[])  # fmt: skip
    assert b"leaked-value" in leaky.stdout  # control: the variable is there to leak


def test_landlock_blocks_writes_outside_the_workspace(workspace: Path, decoy_dir: Path) -> None:
    target = decoy_dir / "planted"
    argv = ["sh", "-c", f"echo pwned > {target}"]
    blocked = run(workspace, argv, ["landlock"])
    assert blocked.exit_code != 0 and not target.exists()
    assert run(workspace, argv, []).exit_code == 0 and target.read_text() == "pwned\n"


def test_landlock_blocks_exec_from_the_workspace(workspace: Path) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    tool = workspace / "tool"
    shutil.copy("/usr/bin/true", tool)
    tool.chmod(tool.stat().st_mode | stat.S_IXOTH | stat.S_IXGRP)
    blocked = run_once(NO_QUOTA, [str(tool)], workspace=workspace, layers=["landlock"])
    assert blocked.exit_code != 0
    assert b"Permission denied" in blocked.stderr
    assert run_once(NO_QUOTA, [str(tool)], workspace=workspace, layers=[]).exit_code == 0


LOADER = "/lib64/ld-linux-x86-64.so.2"
COPY_AND_LOAD = (
    f"cp /usr/bin/true {{dir}}/t && chmod 755 {{dir}}/t && {LOADER} {{dir}}/t && echo ran"
)


@pytest.mark.parametrize("directory", [".", "/tmp", "/dev/shm"])
def test_the_workspace_file_system_stops_a_loader_running_written_files(
    sandbox_base: Path, directory: str
) -> None:
    """Landlock's execute right covers execve, not ld.so mapping a file: noexec does."""
    argv = ["sh", "-c", COPY_AND_LOAD.format(dir=directory)]
    with_fs = run_once(POLICY, argv, workspace=sandbox_base / "a")
    assert with_fs.exit_code != 0 and b"ran" not in with_fs.stdout
    assert b"failed to map segment" in with_fs.stderr
    assert "workspace-fs" in with_fs.layers
    without = run_once(NO_QUOTA, argv, workspace=sandbox_base / "b")
    assert without.stdout.strip() == b"ran"  # the negative control: Landlock alone lets it run
    assert "workspace-fs" not in without.layers


def test_the_workspace_is_a_quota_file_system_and_tmp_counts_against_it(
    sandbox_base: Path,
) -> None:
    small = POLICY.model_copy(
        update={"resources": POLICY.resources.model_copy(update={"disk_mb": 32})}
    )
    fill = "dd if=/dev/zero of={} bs=1M count=64 2>&1; echo status $?"
    for target in ("big", "/tmp/big"):
        result = run_once(small, ["sh", "-c", fill.format(target)], workspace=sandbox_base / "w")
        assert b"No space left on device" in result.stdout, result.stdout
    image = sandbox_base / ".w.quota.img"
    assert image.stat().st_size == 32 << 20
    assert image.stat().st_blocks * 512 < 32 << 20  # sparse: holds what was written


def test_a_new_workspace_image_starts_small(sandbox_base: Path) -> None:
    """mke2fs writes no zeroed journal: a 1 GiB quota image starts well under 4 MiB, not ~33."""
    result = run_once(POLICY, ["true"], workspace=sandbox_base / "w")
    assert result.exit_code == 0, result.stderr
    image = sandbox_base / ".w.quota.img"
    assert image.stat().st_size == POLICY.resources.disk_mb << 20
    assert image.stat().st_blocks * 512 < 4 << 20, image.stat().st_blocks * 512


def test_discarding_a_workspace_removes_it_and_its_image_and_follows_no_link(
    sandbox_base: Path, decoy_dir: Path
) -> None:
    workspace = sandbox_base / "w"
    plant = f"ln -s {decoy_dir} escape; ln -s {decoy_dir}/secret.txt file; echo x > note"
    result = run_once(POLICY, ["sh", "-c", plant], workspace=workspace)
    assert result.exit_code == 0, result.stderr
    assert mounts_below(workspace) == [workspace]
    discard(workspace)
    assert not workspace.exists() and not (sandbox_base / ".w.quota.img").exists()
    assert mounts_below(workspace) == []
    assert (decoy_dir / "secret.txt").read_text() == "decoy secret\n"  # links not followed


def test_an_agent_cannot_move_git_aside_to_replace_its_hooks(workspace: Path) -> None:
    script = (
        "mv .git .git-moved; mkdir -p .git/hooks && echo evil > .git/hooks/pre-commit; "
        "ln -s /etc .shm 2>/dev/null; ls -d .git-moved 2>&1"
    )
    result = run(workspace, ["sh", "-c", script])
    assert b"cannot access" in result.stdout  # the rename was refused
    assert not (workspace / ".git-moved").exists()
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()


def test_root_never_follows_a_symlink_the_agent_planted(workspace: Path, decoy_dir: Path) -> None:
    """Without bwrap the agent can replace .git with a link; the next launch removes it."""
    run_once(NO_QUOTA, ["true"], workspace=workspace, layers=[])
    plant = f"rm -rf .git 2>/dev/null; ln -s {decoy_dir} .git; ls -l .git"
    run_once(NO_QUOTA, ["sh", "-c", plant], workspace=workspace, layers=[])
    run(workspace, ["true"])
    assert not (decoy_dir / "hooks").exists() and not (decoy_dir / "config").exists()
    assert (workspace / ".git").is_dir() and not (workspace / ".git").is_symlink()


def test_landlock_blocks_reads_outside_the_policy(workspace: Path, decoy_dir: Path) -> None:
    argv = ["cat", str(decoy_dir / "secret.txt")]
    assert run(workspace, argv, ["landlock"]).exit_code != 0
    assert run(workspace, argv, []).exit_code == 0


def test_seccomp_blocks_new_namespaces(workspace: Path) -> None:
    code = "import ctypes; libc = ctypes.CDLL(None, use_errno=True); print(libc.unshare(0x10000000), ctypes.get_errno())"
    blocked = run(workspace, [PY, "-c", code], ["seccomp"])
    assert blocked.stdout.split() == [b"-1", b"1"]  # EPERM
    assert run(workspace, [PY, "-c", code], []).stdout.split() == [b"0", b"0"]


def test_seccomp_blocks_ptrace_and_io_uring(workspace: Path) -> None:
    code = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        "r1 = libc.syscall(101, 0, 0, 0, 0); e1 = ctypes.get_errno(); "  # ptrace(PTRACE_TRACEME)
        "params = ctypes.create_string_buffer(120); "
        "r2 = libc.syscall(425, 1, params); e2 = ctypes.get_errno(); "  # io_uring_setup(1, &params)
        "print(r1, e1, int(r2 >= 0), e2)"
    )
    assert run(workspace, [PY, "-c", code], ["seccomp"]).stdout.split() == [b"-1", b"1", b"0", b"1"]
    # Without the filter both calls succeed for an unprivileged process.
    assert run(workspace, [PY, "-c", code], []).stdout.split()[:3] == [b"0", b"0", b"1"]


class _Listener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.sendall(b"host service\n")
            conn.close()


@pytest.fixture
def host_service() -> Iterator[int]:
    listener = _Listener()
    try:
        yield listener.port
    finally:
        listener.sock.close()


def test_netns_cuts_off_host_services(workspace: Path, host_service: int) -> None:
    code = f"import socket; s = socket.create_connection(('127.0.0.1', {host_service}), timeout=2); print(s.recv(64).decode().strip())"
    assert run(workspace, [PY, "-c", code], ["netns"]).exit_code != 0
    assert run(workspace, [PY, "-c", code], ["bwrap", "netns"]).exit_code != 0
    control = run(workspace, [PY, "-c", code], ["bwrap"])
    assert control.exit_code == 0 and control.stdout == b"host service\n"


def test_cgroup_memory_limit_kills_a_memory_bomb(workspace: Path) -> None:
    code = "x = bytearray(400 * 1024 * 1024); x[::4096] = b'x' * len(x[::4096]); print('allocated')"
    bomb = run(workspace, [PY, "-c", code], ["cgroups"])
    assert bomb.oom_killed and bomb.exit_code is None
    assert any(v.kind == "oom_kill" for v in bomb.violations)
    control = run(workspace, [PY, "-c", code], [])
    assert control.exit_code == 0 and control.stdout == b"allocated\n"


def test_cgroup_pids_limit_stops_a_fork_bomb(workspace: Path) -> None:
    script = "for i in $(seq 100); do sleep 0.3 & done; wait; echo done"
    bomb = run(workspace, ["sh", "-c", script], ["cgroups"])
    assert bomb.pids_limited
    assert any(v.kind == "pids_limit" for v in bomb.violations)
    control = run(workspace, ["sh", "-c", script], [])
    assert control.exit_code == 0 and not control.pids_limited


def test_timeout_and_output_flood_are_cut_short(workspace: Path) -> None:
    slow = run(workspace, ["sleep", "30"], timeout=0.5)
    assert slow.timed_out and slow.duration_s < 5
    flood = run(workspace, ["yes"])
    assert flood.truncated and len(flood.stdout) <= POLICY.resources.max_output_bytes


def test_unreachable_workspace_is_a_clear_error(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(SandboxError, match="not reachable by the sandbox uid 1900"):
        run(private / "ws", ["true"])


def test_missing_layer_refuses_to_run(workspace: Path, tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path / "host")
    (root / "usr/bin/bwrap").unlink()
    caps = detect(SimulatedHost(root))
    with pytest.raises(SandboxUnavailable, match="'bwrap' is unavailable"):
        run_once(POLICY, ["true"], workspace=workspace, capabilities=caps)
    assert not workspace.exists() or not any(workspace.iterdir())


def _own_cgroups(agent: str) -> set[Path]:
    """Every cgroup directory, in any hierarchy, of sandboxes of ``agent``."""
    roots = [Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").iterdir()]
    return {group for root in roots if root.is_dir() for group in root.glob(f"sentinel-{agent}-*")}


def test_nothing_is_left_behind(workspace: Path) -> None:
    agent = f"leftover{uuid.uuid4().hex[:8]}"  # only this test's groups are compared
    marker = f"{uuid.uuid4().int % 1000}.25"  # a unique sleep length to find the processes by
    result = run_once(
        POLICY,
        ["sh", "-c", f"sleep {marker} & sleep {marker} & echo started; wait"],
        workspace=workspace,
        agent_id=agent,
        timeout=0.5,
    )
    assert result.stdout == b"started\n"  # the sleepers were running when the timeout hit
    assert _own_cgroups(agent) == set()
    survivors = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline[:2] == [b"sleep", marker.encode()]:
                survivors.append(proc.name)
    assert survivors == []


def test_cgroup_cpu_quota_throttles_a_cpu_burn(workspace: Path) -> None:
    # Burns a fixed amount of CPU time (not wall time), so a loaded machine slows both runs
    # alike: 0.3 s of CPU at a 20 % quota needs >= 1.5 s of wall time whatever else runs.
    burn = [PY, "-c", "import time\nwhile time.process_time() < 0.3: pass"]
    limited_policy = POLICY.model_copy(
        update={"resources": POLICY.resources.model_copy(update={"cpu_percent": 20})}
    )
    limited = run_once(limited_policy, burn, workspace=workspace, layers=["cgroups"])
    assert limited.exit_code == 0, limited.stderr
    # The quota, not the load, set the pace: the group was throttled, and 0.3 s of CPU took
    # at least the wall time 20 % allows (the throttled time itself shrinks when other work
    # also holds the CPU, so it is only required to be there).
    assert limited.cpu_throttled_s > 0.1 and limited.duration_s > 1.2
    control = run_once(limited_policy, burn, workspace=workspace, layers=[])
    assert control.exit_code == 0 and control.cpu_throttled_s == 0 and control.cpu_s >= 0.3


@pytest.mark.parametrize("python_shim", [False, True], ids=["native-shim", "python-shim"])
def test_both_landlock_shims_decide_alike(
    workspace: Path, decoy_dir: Path, python_shim: bool
) -> None:
    script = (
        f"cat {decoy_dir / 'secret.txt'} > /dev/null 2>&1; echo read=$?; "
        f"(echo x > {decoy_dir / 'w'}) 2>/dev/null; echo write=$?; "
        "echo ok > mine && cat mine; "
        "cp /usr/bin/true ./t 2>/dev/null; ./t 2>/dev/null; echo exec=$?; "
        "ls /usr/bin > /dev/null; echo list=$?"
    )
    result = run_once(
        POLICY,
        ["sh", "-c", script],
        workspace=workspace,
        layers=["bwrap", "landlock"],
        python_shim=python_shim,
    )
    assert result.stdout.split() == [b"read=1", b"write=2", b"ok", b"exec=126", b"list=0"], (
        result.stderr
    )
    missing = run_once(
        POLICY,
        ["no-such-tool"],
        workspace=workspace,
        layers=["bwrap", "landlock"],
        python_shim=python_shim,
    )
    assert missing.exit_code == 127


def test_one_shot_runs_record_refused_system_calls(workspace: Path) -> None:
    code = "import ctypes; libc = ctypes.CDLL(None, use_errno=True); print(libc.unshare(0x10000000), ctypes.get_errno())"
    result = run(workspace, [PY, "-c", code])  # the full stack: the native shim answers and records
    assert result.stdout.split() == [b"-1", b"1"]
    assert [(v.layer, v.kind) for v in result.violations] == [("seccomp", "denied_syscall")]
    assert "unshare refused" in result.violations[0].detail
    assert run(workspace, ["sh", "-c", "exit 7"]).exit_code == 7  # the shim passes the status on


def test_git_works_in_a_workspace_and_its_hooks_stay_root_s(workspace: Path) -> None:
    script = (
        "echo x > a && git add a && git commit -qm first && git checkout -qb topic && "
        "git log --oneline | wc -l && git status --porcelain | wc -l; "
        "echo evil > .git/hooks/pre-commit 2>/dev/null || echo hooks-refused"
    )
    result = run(workspace, ["sh", "-c", script])
    assert result.stdout.split() == [b"1", b"0", b"hooks-refused"], result.stderr
