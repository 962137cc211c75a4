"""``sentinel-run``: the command line, a thin layer over the public library.

Every command calls public functions (which a notebook can call too), prints Rich tables
for people, and prints the same result as JSON with ``--json`` for machines. Errors from
:mod:`sentinel.errors` end a command with their message and exit status 2. A command's
module is imported only when it runs (see :mod:`sentinel.cli.lazy_group`), and
``sandbox exec`` does not import Typer at all (see :mod:`sentinel.cli.sandbox_exec`): the
application itself lives in :mod:`sentinel.cli.application`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from sentinel.cli.application import app

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the Typer application
    """The Typer application on first use (importing Typer costs a CLI start tens of ms)."""
    if name == "app":
        from sentinel.cli.application import app  # noqa: PLC0415 - the point: lazily

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``sentinel-run`` script.

    ``sandbox exec`` in a form :func:`sentinel.cli.sandbox_exec.parse` takes skips Typer, and
    so do ``audit prove`` and ``audit verify-proof`` (:mod:`sentinel.cli.audit_proofs`).
    SIGTERM and SIGHUP end either path through its cleanup (sandbox teardown, mount release).
    """
    from sentinel.sandbox.leftovers import exit_on_signals  # noqa: PLC0415 - stdlib only

    with exit_on_signals():
        if sys.argv[1:3] == ["sandbox", "exec"]:
            # pydantic looks up plugins through importlib.metadata's entry points on its first
            # model (~15 ms); a one-shot sandboxed command has no use for them, unless asked.
            os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
            from sentinel.cli.sandbox_exec import fast_main  # noqa: PLC0415 - the fast path

            status = fast_main(sys.argv[3:])
            if status is not None:
                exit_now(status)
        if sys.argv[1:2] == ["audit"] and sys.argv[2:3] in (["prove"], ["verify-proof"]):
            from sentinel.cli.audit_proofs import fast_main as proofs_main  # noqa: PLC0415

            status = proofs_main(sys.argv[2:])
            if status is not None:
                sys.exit(status)
        from sentinel.cli.application import app  # noqa: PLC0415 - everything else via Typer

        app()


FLUSH_FAILED_EXIT = 120
"""The status Python itself exits with when flushing stdout or stderr fails at exit."""


def exit_now(status: int) -> NoReturn:
    """End a finished one-shot command: flush, run the exit handlers, skip the teardown.

    The workspace's unmount is handed to a detached child holding the image's lock
    (:func:`~sentinel.sandbox.disk_quota.release_detached`: tens of ms off the caller's
    path). The other exit handlers (the scratch nodes' removal) run as they would at a
    normal exit, with SIGTERM and SIGHUP blocked so that nothing cuts them short; what
    is skipped is the interpreter's teardown of every module and object, which is pure
    CPU (13-20 ms on the loaded 2-core machine, for nothing: the process ends).
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        status = status or FLUSH_FAILED_EXIT
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
    from sentinel.errors import SandboxError  # noqa: PLC0415 - loaded already
    from sentinel.sandbox.disk_quota import release_detached  # noqa: PLC0415 - loaded already

    # The workspace's unmount finishes in a child that holds its lock (SIGTERM and SIGHUP
    # blocked there too); if that cannot start, the exit handler unmounts here.
    with contextlib.suppress(SandboxError, OSError):
        release_detached()
    atexit._run_exitfuncs()  # what a normal exit runs first (private, there since Python 2)
    os._exit(status)
