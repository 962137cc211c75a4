"""Privilege escapes: namespaces, mounts and the kernel's privileged interfaces."""

from __future__ import annotations

from pathlib import Path

from sentinel.breakout.scenario import UNPRIVILEGED_UID, Family, Scenario

V = Family.PRIVILEGE
UID = UNPRIVILEGED_UID

NO_MODULES = "this kernel has no loadable-module support (no /proc/modules)"
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000

SCENARIOS = [
    Scenario("priv-unshare-user", V, "create a user namespace (unshare CLONE_NEWUSER)",
             ("seccomp", "bwrap"), f"""
def attack(A):
    check(libc.unshare({CLONE_NEWUSER}), "unshare")
    escaped("created a new user namespace")
"""),
    Scenario("priv-unshare-tool", V, "become root in a new user namespace with unshare(1)",
             ("seccomp", "bwrap", "landlock"), """
import subprocess
def attack(A):
    done_ = subprocess.run(["unshare", "--user", "--map-root-user", "id", "-u"], capture_output=True)
    if done_.returncode == 0 and done_.stdout.strip() == b"0":
        escaped("unshare --map-root-user ran a command as root of a new user namespace")
    blocked(f"unshare failed: {done_.stderr.decode().strip()[:200]}")
"""),
    Scenario("priv-clone-newuser", V, "create a user namespace with clone(CLONE_NEWUSER)",
             ("seccomp", "bwrap"), f"""
def attack(A):
    pid = syscall(56, {CLONE_NEWUSER} | 17, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    escaped("clone(CLONE_NEWUSER) created a child in a new user namespace")
"""),
    Scenario("priv-clone3-newuser", V, "create a user namespace with clone3 (flags in memory)",
             ("seccomp", "bwrap"), f"""
def attack(A):
    args = (ctypes.c_uint64 * 11)({CLONE_NEWUSER}, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0)
    pid = syscall(435, ctypes.byref(args), 88)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    escaped("clone3(CLONE_NEWUSER) created a child in a new user namespace")
"""),
    Scenario("priv-unshare-mount", V, "mount a file system in a new mount namespace",
             ("seccomp", "bwrap", UID), f"""
def attack(A):
    check(libc.unshare({CLONE_NEWNS}), "unshare")
    check(libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None), "mount --make-rprivate /")
    os.makedirs("mnt", exist_ok=True)
    check(libc.mount(b"tmpfs", b"mnt", b"tmpfs", 0, None), "mount tmpfs")
    escaped("mounted a tmpfs in a new mount namespace")
"""),
    Scenario("priv-mount", V, "mount a file system in the current namespace",
             ("seccomp", "bwrap", UID), """
def attack(A):
    os.makedirs("mnt", exist_ok=True)
    check(libc.mount(b"tmpfs", b"mnt", b"tmpfs", 0, None), "mount tmpfs")
    check(libc.umount2(b"mnt", 2), "umount")
    escaped("mounted a tmpfs")
"""),
    Scenario("priv-setns-host", V, "join another process's network namespace (setns)",
             ("seccomp", "bwrap", UID), """
def attack(A):
    fd = os.open(f"/proc/{A['decoy']['pid']}/ns/net", os.O_RDONLY)
    check(libc.setns(fd, 0x40000000), "setns")
    escaped("joined the decoy agent's (the host's) network namespace")
"""),
    Scenario("priv-pivot-root", V, "reach pivot_root past its privilege check",
             ("seccomp", "bwrap", UID), """
def attack(A):
    permission_probe(155, b"/nonexistent-new-root", b"/nonexistent-old-root",
                     passed=(errno.EINVAL, errno.ENOENT, errno.EBUSY))
"""),
    Scenario("priv-bpf", V, "load an eBPF program", ("seccomp", UID), """
def attack(A):
    insns = struct.pack("<BBhi", 0xb7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    code = ctypes.create_string_buffer(insns)
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(struct.pack("<IIQQ", 1, 2, ctypes.addressof(code),
                                                   ctypes.addressof(license_)) + bytes(96))
    fd = syscall(321, 5, attr, 128)
    escaped(f"loaded an eBPF socket filter (fd {fd})")
"""),
    Scenario("priv-keyctl", V, "add a key to the kernel keyring", ("seccomp",), """
def attack(A):
    key = syscall(248, b"user", b"sentinel-breakout", b"x", 1, -2)
    escaped(f"added key {key} to the process keyring")
"""),
    Scenario("priv-perf-event", V, "open a perf event (kernel attack surface)", ("seccomp",), """
def attack(A):
    attr = bytearray(128)
    struct.pack_into("<IIQ", attr, 0, 1, 128, 1)  # PERF_TYPE_SOFTWARE, size, TASK_CLOCK
    struct.pack_into("<Q", attr, 40, 1 | 1 << 5 | 1 << 6)  # disabled, exclude_kernel, exclude_hv
    buffer = ctypes.create_string_buffer(bytes(attr))
    fd = syscall(298, buffer, 0, -1, -1, 0)
    escaped(f"opened a perf event (fd {fd})")
"""),
    Scenario("priv-userfaultfd", V, "create a userfaultfd (used to win kernel races)", ("seccomp",), """
def attack(A):
    fd = syscall(323, 0o2000000 | 1)  # O_CLOEXEC | UFFD_USER_MODE_ONLY
    escaped(f"created a userfaultfd (fd {fd})")
"""),
    Scenario("priv-io-uring", V, "set up an io_uring (a frequent kernel exploit path)", ("seccomp",), """
def attack(A):
    params = ctypes.create_string_buffer(120)
    fd = syscall(425, 8, params)
    escaped(f"set up an io_uring (fd {fd})")
"""),
    Scenario("priv-capabilities", V, "hold any capability", ("bwrap", UID), """
def attack(A):
    with open("/proc/self/status") as status:
        caps = {k: int(v, 16) for k, v in (l.split(":") for l in status if l.startswith("Cap"))}
    if caps["CapEff"] or caps["CapPrm"]:
        escaped(f"effective capabilities {caps['CapEff']:#x}")
    blocked("no effective or permitted capabilities")
"""),
    Scenario("priv-no-new-privs", V, "gain privileges through exec (no_new_privs unset)",
             ("seccomp", "bwrap", "landlock"), """
def attack(A):
    with open("/proc/self/status") as status:
        flag = next(l.split()[1] for l in status if l.startswith("NoNewPrivs"))
    if flag == "0":
        escaped("no_new_privs is off: setuid and file capabilities would apply")
    blocked("no_new_privs is set")
""", control="agent-uid"),
    Scenario("priv-kernel-module", V, "reach finit_module past its privilege check",
             ("seccomp", UID), """
def attack(A):
    permission_probe(313, -1, b"", 0)
""", precondition=lambda arena: None if Path("/proc/modules").exists() else NO_MODULES),
    Scenario("priv-32bit-abi", V, "call unshare through the 32-bit ABI (int 0x80) to dodge the filter",
             ("seccomp", "bwrap"), """
import mmap
def attack(A):
    code = bytes.fromhex("b836010000" "bb00000010" "cd80" "c3")  # eax=310 unshare, ebx=NEWUSER
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    result = ctypes.CFUNCTYPE(ctypes.c_int)(address)()
    if result == 0:
        escaped("the 32-bit unshare(CLONE_NEWUSER) succeeded")
    blocked(f"the 32-bit call returned {result}")
"""),
    Scenario("priv-sethostname", V, "set the host name", ("seccomp", UID), """
def attack(A):
    socket.sethostname(socket.gethostname())
    escaped("sethostname succeeded (set to its current value)")
"""),
    Scenario("priv-modify-ldt", V,
             "install a segment in the local descriptor table (modify_ldt: old kernel attack surface)",
             ("seccomp",), """
def attack(A):
    # struct user_desc: entry 0, base 0, limit 0xfffff, 32-bit, page-granular, usable
    entry = struct.pack("<IIII", 0, 0, 0xFFFFF, 0b1010001)
    syscall(154, 1, ctypes.create_string_buffer(entry), len(entry))
    table = ctypes.create_string_buffer(8 * 16)
    size = syscall(154, 0, table, len(table))
    if size > 0 and any(table.raw[:8]):
        escaped(f"wrote an LDT entry and read it back ({table.raw[:8].hex()})")
    blocked(f"the LDT reads back empty ({size} bytes)")
"""),
    Scenario("priv-aslr-off", V,
             "switch off address-space randomisation with personality(ADDR_NO_RANDOMIZE)",
             ("seccomp",), """
def attack(A):
    ADDR_NO_RANDOMIZE = 0x0040000
    libc.personality.restype = ctypes.c_int
    check(libc.personality(ctypes.c_ulong(ADDR_NO_RANDOMIZE)), "personality")
    current = libc.personality(ctypes.c_ulong(0xFFFFFFFF))
    if current & ADDR_NO_RANDOMIZE:
        escaped(f"personality is now {current:#x}: children run without ASLR")
    blocked(f"personality stayed {current:#x}")
"""),
]  # fmt: skip
