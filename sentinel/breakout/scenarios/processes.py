"""Process escapes: seeing, signalling, tracing and reading other processes of the host."""

from __future__ import annotations

import time

from sentinel.breakout.scenario import RUNNER, UNPRIVILEGED_UID, Family, Outcome, Run, Scenario

P = Family.PROCESSES
UID = UNPRIVILEGED_UID
SURVIVOR_DELAY_S = 1.5


def _survivor(run: Run) -> Outcome | None:
    """Escaped if the detached process wrote its file after the run ended."""
    time.sleep(SURVIVOR_DELAY_S + 1.0)
    marker = run.workspace / "survivor"
    if marker.exists():
        return Outcome("escaped", "a detached process outlived the run and wrote ./survivor")
    reported = run.reported()
    if reported is not None and reported[0] == "attempted":
        return Outcome("blocked", "the detached process died with the sandbox (no ./survivor)")
    return None


DECOY = 'A["decoy"]["pid"]'

SCENARIOS = [
    Scenario("proc-list-host", P, "find another agent's process among the host's pids",
             ("bwrap",), """
def attack(A):
    needle = ("decoy" + "-memory:").encode()  # split: the attacker's own argv must not match
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if needle in read_bytes(f"/proc/{name}/cmdline"):
                    escaped(f"saw the decoy agent process as pid {name}")
            except OSError:
                pass
    blocked("no host process visible")
"""),
    Scenario("proc-signal-host", P, "signal another agent's process (kill with signal 0)",
             ("bwrap", "landlock"), f"""
def attack(A):
    target("/proc/" + str({DECOY}))
    os.kill({DECOY}, 0)
    escaped("kill(decoy, 0) succeeded: the agent may signal it")
"""),
    Scenario("proc-ptrace-attach", P, "attach to another agent's process with ptrace",
             ("seccomp", "bwrap", "landlock"), f"""
def attack(A):
    check(libc.ptrace(0x4206, {DECOY}, 0, 0), "PTRACE_SEIZE")
    escaped("PTRACE_SEIZE on the decoy agent succeeded")
"""),
    Scenario("proc-ptrace-traceme", P, "use ptrace at all (PTRACE_TRACEME in a child)", ("seccomp",), """
def attack(A):
    code = fork_and_wait(lambda: 0 if libc.ptrace(0, 0, 0, 0) == 0 else 1)
    if code == 0:
        escaped("PTRACE_TRACEME succeeded")
    blocked("PTRACE_TRACEME refused")
"""),
    Scenario("proc-vm-readv", P, "read another agent's memory with process_vm_readv",
             ("seccomp", "bwrap", "landlock"), f"""
class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
def attack(A):
    pid = {DECOY}
    with open(f"/proc/{{pid}}/maps") as maps:
        start = next(int(line.split("-")[0], 16) for line in maps if " rw" in line)
    buffer = ctypes.create_string_buffer(64)
    local, remote = IoVec(ctypes.addressof(buffer), 64), IoVec(start, 64)
    read = syscall(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    escaped(f"read {{read}} bytes of the decoy agent's memory")
"""),
    Scenario("proc-vm-readv-child", P, "read a process's memory with process_vm_readv (own child)",
             ("seccomp",), """
import signal
class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
def attack(A):
    secret = ctypes.create_string_buffer(b"child-secret")
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    try:
        buffer = ctypes.create_string_buffer(16)
        local = IoVec(ctypes.addressof(buffer), 12)
        remote = IoVec(ctypes.addressof(secret), 12)
        syscall(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if buffer.value == b"child-secret":
        escaped("process_vm_readv read another process's memory")
    blocked("read something else")
"""),
    Scenario("proc-cmdline-leak", P, "read another agent's command line", ("bwrap",), f"""
def attack(A):
    pid, needle = {DECOY}, ("decoy" + "-memory:").encode()
    if needle in read_bytes(f"/proc/{{pid}}/cmdline"):
        escaped("read the decoy agent's command line, with its secret")
    blocked("the pid holds another process")
"""),
    Scenario("proc-environ-leak", P, "read another agent's environment", ("bwrap", "landlock"), f"""
def attack(A):
    pid, needle = {DECOY}, ("SENTINEL_DECOY_SECRET=" + A["token"]).encode()
    if needle in read_bytes(f"/proc/{{pid}}/environ"):
        escaped("read the decoy agent's environment, with its secret")
    blocked("the pid holds another process")
"""),
    Scenario("proc-supervisor-environ", P,
             "find the supervisor's environment (via /proc/self, /proc/1 or any readable environ)",
             (RUNNER,), """
def attack(A):
    needle = ("SENTINEL_BREAKOUT_CANARY=" + A["token"]).encode()
    for name in ["self", "1"] + [n for n in os.listdir("/proc") if n.isdigit()]:
        try:
            if needle in read_bytes(f"/proc/{name}/environ", 1 << 20):
                escaped(f"/proc/{name}/environ holds the supervisor's canary variable")
        except OSError:
            pass
    blocked("no environment visible holds the supervisor's variables")
"""),
    Scenario("proc-background-survives", P, "leave a detached process running after the command",
             ("cgroups", "bwrap"), f"""
def attack(A):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)  # a daemon lets go of the supervisor's pipes
        time.sleep({SURVIVOR_DELAY_S})
        with open("survivor", "w") as handle:
            handle.write(str(os.getpid()))
        os._exit(0)
    os.waitpid(pid, 0)
    attempted("left a detached process that writes ./survivor later")
""", judge=_survivor),
    Scenario("proc-pidfd-getfd", P, "steal an open file from another agent (pidfd_getfd)",
             ("seccomp", "bwrap", "landlock"), f"""
def attack(A):
    target("/proc/" + str({DECOY}))
    pidfd = syscall(434, {DECOY}, 0)
    fd = syscall(438, pidfd, A["decoy"]["notes_fd"], 0)
    os.lseek(fd, 0, 0)
    if A["token"].encode() in os.read(fd, 4096):
        escaped("took the decoy agent's open file and read its secret")
    blocked("the stolen descriptor held other data")
"""),
    Scenario("proc-sysv-shm", P, "read a host SysV shared-memory segment", ("bwrap",), """
def attack(A):
    libc.shmat.restype = ctypes.c_void_p
    shmid = check(libc.shmget(A["shm_key"], 0, 0), "shmget")
    address = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    if A["token"].encode() in ctypes.string_at(address, 64):
        escaped("read the host's shared-memory segment")
    blocked("the segment holds other data")
"""),
    Scenario("proc-dev-shm", P, "read a host file in /dev/shm", ("bwrap", "landlock"),
             """
def attack(A):
    if A["token"].encode() in read_bytes(A["dev_shm"]):
        escaped("read the host's /dev/shm file")
    blocked("different file")
"""),
]  # fmt: skip
