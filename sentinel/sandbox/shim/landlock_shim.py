"""Runs inside the sandbox: apply Landlock, then execute the agent's command.

Invoked as ``python3 -I -S landlock_shim.py SPEC_JSON`` after bubblewrap has built the
sandbox's mounts (Landlock would forbid them). Standard library only: it loads
``landlock.py`` from its own directory by path, not the Sentinel package. Exit status 126
means Landlock could not be applied (the command never ran: fail closed), 127 that the
command was not found.
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

SHIM_FAILED = 126
NOT_FOUND = 127


def main() -> None:
    """Apply the Landlock ruleset described by ``argv[1]``, then exec its command."""
    spec = json.loads(sys.argv[1])
    here = Path(__file__).resolve().parent
    module_spec = importlib.util.spec_from_file_location("sentinel_landlock", here / "landlock.py")
    landlock = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(landlock)  # type: ignore[union-attr]
    try:
        landlock.restrict(
            spec["read"], spec["write"], spec["exec"], spec["abi"], spec.get("connect_ports", ())
        )
    except OSError as exc:
        sys.stderr.write(
            f"sentinel: Landlock could not be applied ({exc}); the command was not run\n"
        )
        os._exit(SHIM_FAILED)
    os.chdir(spec["cwd"])
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, os.environ)  # noqa: S606 - exec is the shim's whole purpose
    except OSError as exc:
        sys.stderr.write(f"sentinel: cannot execute {argv[0]!r}: {exc.strerror}\n")
        os._exit(NOT_FOUND if isinstance(exc, FileNotFoundError) else SHIM_FAILED)


if __name__ == "__main__":
    main()
