"""The part every attacker program shares: helpers to call the kernel and report a verdict.

An attacker is a Python body defining ``attack(A)`` (``A``: the arena's facts as a dict),
run as ``/usr/bin/python3 -I -S -c PROGRAM ARENA_JSON`` inside the sandbox (or, for the
negative control, outside it). It ends by printing one line::

    SENTINEL-BREAKOUT {"result": "escaped" | "blocked" | "attempted" | "error", "evidence": ...}

``attempted`` means the program cannot see the outcome itself (a UDP datagram, a file
written outside): the host side decides from what it observed. ``inconclusive`` means the
run can prove nothing either way (e.g. the host could not read the file whose digest the
attacker compares). An ``OSError`` escaping from ``attack`` is classified by its errno:

- a *refusal* (EPERM, EACCES, EROFS, ...: a layer said no) counts as blocked;
- a *target absent* errno (ENOENT, ESRCH, ECONNREFUSED, ...) is reported as ``absent``
  with the path it concerned: absence inside a sandbox proves something only if the
  target exists outside it, which the host checks (or the negative control shows);
- any other exception is an error, so a broken attacker never passes as a blocked one.
"""

from __future__ import annotations

from typing import Final

VERDICT_MARKER: Final = "SENTINEL-BREAKOUT "

PRELUDE: Final = r'''
import ctypes, errno, json, os, socket, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
A = json.loads(sys.argv[1])
# What a layer answers when it refuses: permission, read-only, no such call or family (the
# seccomp filter's answers for clone3 and socket families), busy or cross-device (a mount
# point). Resource errors (EAGAIN, ENOSPC, EMFILE, ...) are not here: the resource
# scenarios catch the one they expect, so a stray one elsewhere is an error.
REFUSALS = {errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOSYS, errno.EAFNOSUPPORT,
            errno.EPROTONOSUPPORT, errno.EXDEV, errno.EBUSY}
# The target is not there (or nothing answers): a sandbox that hides it and a host that
# lacks it look the same from inside, so these are reported as "absent", never blocked.
ABSENT = {errno.ENOENT, errno.ENOTDIR, errno.ESRCH, errno.ENXIO, errno.ENODEV,
          errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT}
TARGET = [None]

class Verdict(BaseException):
    pass

def done(result, evidence, target=None):
    report = {"result": result, "evidence": str(evidence)[:400]}
    if target is not None:
        report["target"] = str(target)
    print("SENTINEL-BREAKOUT " + json.dumps(report), flush=True)
    raise Verdict()

def escaped(evidence): done("escaped", evidence)
def blocked(evidence): done("blocked", evidence)
def attempted(evidence): done("attempted", evidence)
def inconclusive(evidence): done("inconclusive", evidence)

def target(path):
    """Name the host path an attempt aims at (for errors that carry no file name)."""
    TARGET[0] = path

def host_digest(A, fact):
    """The host's digest of a file, or an inconclusive verdict when the host had none."""
    if not A.get(fact):
        inconclusive(f"the host could not read the file behind {fact}: nothing to compare")
    return A[fact]

def describe(exc):
    code = errno.errorcode.get(exc.errno, str(exc.errno))
    return f"{code} ({exc.strerror})"

def syscall(nr, *args):
    """A raw system call; raises OSError with the errno on failure."""
    result = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a
                                                for a in args])
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result

def check(result, what):
    """Raise OSError for a libc call that returned -1."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result

def permission_probe(nr, *args, passed=(errno.EINVAL, errno.EBADF, errno.EFAULT)):
    """Call with arguments the kernel rejects *after* its privilege check: an errno in
    ``passed`` proves the privileged code was reached; EPERM/EACCES means it was not."""
    try:
        syscall(nr, *args)
    except OSError as exc:
        if exc.errno in passed:
            escaped(f"syscall {nr} passed the privilege check (then {describe(exc)})")
        raise
    escaped(f"syscall {nr} succeeded")

def read_bytes(path, limit=65536):
    with open(path, "rb") as handle:
        return handle.read(limit)

def digest(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()

def fork_and_wait(child):
    """Run ``child()`` in a forked process; return its exit status code."""
    pid = os.fork()
    if pid == 0:
        try:
            code = child()
        except BaseException:
            code = 99
        os._exit(code or 0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
'''

EPILOGUE: Final = r"""
try:
    attack(A)
    done("error", "the attacker ended without a verdict")
except Verdict:
    pass
except TimeoutError:
    try:
        done("absent", "timed out: nothing answered", TARGET[0])
    except Verdict:
        pass
except OSError as exc:
    what = f"{type(exc).__name__}: {describe(exc)}: {exc.filename or ''}".rstrip(": ")
    try:
        if exc.errno in REFUSALS:
            blocked(what)
        elif exc.errno in ABSENT:
            done("absent", what, exc.filename if exc.filename is not None else TARGET[0])
        else:
            done("error", f"unexpected {describe(exc)}: {exc}")
    except Verdict:
        pass
except Exception as exc:
    try:
        done("error", f"{type(exc).__name__}: {exc}")
    except Verdict:
        pass
"""


def program(body: str) -> str:
    """The whole attacker program for a scenario body (which defines ``attack(A)``)."""
    return PRELUDE + "\n" + body.strip("\n") + "\n" + EPILOGUE
