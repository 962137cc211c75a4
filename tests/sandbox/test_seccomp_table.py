"""The seccomp filter against this kernel's whole x86_64 system-call table.

Every number is classified (denied, filtered, allowed with a reason, or unknown and answered
ENOSYS), the table is checked against the running kernel and this machine's headers, and
the compiled filter is run for real: each denied call must come back EPERM under it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from sentinel.sandbox.seccomp_filter import PERSONAS, build_filter
from sentinel.sandbox.syscall_table import (
    ALLOWED,
    ALLOWED_REASON,
    DENIED,
    FILTERED,
    TABLE_GAP,
    UNKNOWN_FROM,
    X86_64_TABLE,
)

HEADER: Final = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
ENTRY_POINTS: Final = {
    "stat": "newstat", "fstat": "newfstat", "lstat": "newlstat", "sendfile": "sendfile64",
    "uname": "newuname", "umount2": "umount",
}  # fmt: skip
"""Table names whose kernel entry point (``__x64_sys_<entry>``) is named differently."""
I386_ONLY: Final = re.compile(r"(16|time32|32)$|^(ia32_|old)")
"""Entry points of the 32-bit ABI (its own numbers; the filter kills that ABI outright)."""
I386_NAMES: Final = frozenset({
    "fadvise64_64", "fstat", "lstat", "stat", "uname", "gethostname", "llseek", "mmap_pgoff",
    "ni_syscall", "nice", "recv", "send", "sendfile", "sgetmask", "ssetmask", "signal",
    "sigpending", "sigprocmask", "sigsuspend", "socketcall", "statfs64", "fstatfs64", "stime",
    "sync_file_range2", "waitpid",
})  # fmt: skip
"""Entry points only the 32-bit table uses, or the shared stub for unimplemented calls."""
PROBE_TOP: Final = 1024
"""Numbers probed past the table (x32's 512-547 are plain unknown numbers without bit 30)."""

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the x86_64 table")


def test_every_call_of_the_table_is_classified_once_with_a_reason() -> None:
    allowed = [name for _, names in ALLOWED.values() for name in names]
    classified = [*DENIED, *FILTERED, *allowed]
    assert len(classified) == len(set(classified))  # no call in two classes
    assert set(classified) == set(X86_64_TABLE.values())
    assert all(reason.strip() for reason in (*DENIED.values(), *FILTERED.values()))
    assert all(reason.strip() for reason, _ in ALLOWED.values())
    assert set(ALLOWED_REASON) == set(allowed)
    # Every number below the x32 bit: a known call, or ENOSYS from the filter.
    assert max(X86_64_TABLE) + 1 == UNKNOWN_FROM
    assert set(range(UNKNOWN_FROM)) - set(X86_64_TABLE) == set(range(*TABLE_GAP))


@pytest.mark.parametrize(
    "name",
    ["modify_ldt", "statmount", "listmount", "lsm_set_self_attr", "cachestat", "memfd_secret",
     "process_mrelease", "pidfd_getfd", "name_to_handle_at", "open_tree_attr", "quotactl_fd",
     "process_madvise", "file_setattr", "move_pages", "clock_adjtime"],
)  # fmt: skip
def test_calls_added_or_reviewed_since_6_0_are_denied(name: str) -> None:
    assert name in DENIED


@pytest.mark.skipif(not HEADER.exists(), reason="no kernel headers on this machine")
def test_the_table_matches_this_machines_headers() -> None:
    defined = {
        int(number): name
        for name, number in re.findall(r"#define __NR_(\w+) (\d+)", HEADER.read_text())
    }
    assert defined  # the header was parsed at all
    assert {n: X86_64_TABLE.get(n) for n in defined} == defined


@pytest.mark.host
def test_this_kernel_has_no_call_outside_the_table() -> None:
    """kallsyms names every 64-bit entry point this kernel has; each must be in the table."""
    symbols = Path("/proc/kallsyms").read_text().splitlines()
    entries = {
        fields[2].removeprefix("__x64_sys_")
        for fields in map(str.split, symbols)
        if len(fields) >= 3 and fields[1] == "T" and fields[2].startswith("__x64_sys_")
    }
    assert len(entries) > 300  # the symbols are readable (root) and were found
    known = {ENTRY_POINTS.get(name, name) for name in X86_64_TABLE.values()}
    unknown = {e for e in entries - known if not I386_ONLY.search(e) and e not in I386_NAMES}
    assert unknown == set()


PROBE = """
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
if len(sys.argv) > 2:
    from sentinel.sandbox import kernel_api
    assert kernel_api.load_seccomp_program(bytes.fromhex(sys.argv[2])) == 0
answers = {}
for number in json.loads(sys.argv[1]):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), 0, 0, 0, 0, 0, 0)
    answers[number] = 0 if result != -1 else ctypes.get_errno()
print(json.dumps(answers))
"""


def _probe(numbers: list[int], program: bytes | None = None) -> dict[int, int]:
    """Call each number with zero arguments in a child; its errno (0: it succeeded)."""
    argv = [sys.executable, "-c", PROBE, json.dumps(numbers)]
    if program is not None:
        argv.append(program.hex())
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return {int(k): v for k, v in json.loads(done.stdout).items()}


def test_numbers_outside_the_table_are_not_calls_of_this_kernel() -> None:
    """Without any filter, the gap and everything past the table answer ENOSYS."""
    outside = [*range(*TABLE_GAP), *range(UNKNOWN_FROM, PROBE_TOP)]
    answers = _probe(outside)
    assert {n: e for n, e in answers.items() if e != errno.ENOSYS} == {}


def test_under_the_filter_every_denied_call_is_eperm_and_every_unknown_one_enosys() -> None:
    """Safe to call: the filter answers before the kernel runs any of them."""
    denied = sorted(n for n, name in X86_64_TABLE.items() if name in DENIED)
    unknown = [*range(*TABLE_GAP), *range(UNKNOWN_FROM, PROBE_TOP)]
    answers = _probe(denied + unknown, build_filter())
    assert {X86_64_TABLE[n]: answers[n] for n in denied if answers[n] != errno.EPERM} == {}
    assert {n: answers[n] for n in unknown if answers[n] != errno.ENOSYS} == {}


def test_a_policy_may_deny_any_call_of_the_table() -> None:
    getppid = next(n for n, name in X86_64_TABLE.items() if name == "getppid")
    assert _probe([getppid], build_filter(("getppid",))) == {getppid: errno.EPERM}
    assert _probe([getppid], build_filter()) == {getppid: 0}


PERSONALITY = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
from sentinel.sandbox import kernel_api
if len(sys.argv) > 2:
    assert kernel_api.load_seccomp_program(bytes.fromhex(sys.argv[2])) == 0
ctypes.set_errno(0)
result = libc.personality(ctypes.c_ulong(int(sys.argv[1])))
print(ctypes.get_errno() if result == -1 else 0)
"""
ADDR_NO_RANDOMIZE: Final = 0x0040000
READ_IMPLIES_EXEC: Final = 0x0400000


def _personality(persona: int, program: bytes | None) -> int:
    argv = [sys.executable, "-c", PERSONALITY, str(persona)]
    if program is not None:
        argv.append(program.hex())
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30)
    return int(done.stdout)


@pytest.mark.parametrize("persona", [ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC])
def test_personality_cannot_switch_off_aslr_or_make_reads_executable(persona: int) -> None:
    assert _personality(persona, None) == 0  # control: the kernel allows it unfiltered
    assert _personality(persona, build_filter()) == errno.EPERM


@pytest.mark.parametrize("persona", PERSONAS)
def test_personality_can_still_be_queried_and_set_to_the_harmless_personas(persona: int) -> None:
    assert _personality(persona, build_filter()) == 0


def test_the_filter_fits_classic_bpf() -> None:
    program = build_filter(tuple(name for name in X86_64_TABLE.values() if name != "seccomp"))
    assert len(program) % 8 == 0
    assert len(program) // 8 < 4096  # BPF_MAXINSNS
    assert ctypes.sizeof(ctypes.c_uint64) == 8
