"""Host-side attacks: the agent plants something, then root (or the next session) acts on it.

The sandbox cannot stop these plants (a link or a dot file in the agent's own workspace is
allowed); what must hold is the host side: the launcher re-preparing or copying the
workspace never follows a link or keeps a set-id bit, and nothing a session writes in its
HOME or /tmp reaches the next session. Each scenario's host step runs Sentinel's code after
the sandboxed attacker, and the naive version (:mod:`sentinel.breakout.unprotected`) after
the control; the judge looks only at host-side evidence: root-owned decoys next to the
workspace, the copy, or a marker the next session's tool writes if the planted code ran.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sentinel.breakout import unprotected
from sentinel.breakout.scenario import (
    HOST_PATHS,
    SESSION,
    Family,
    HostStep,
    Outcome,
    Run,
    Scenario,
)
from sentinel.breakout.scenarios.judges import arena_of
from sentinel.sandbox.host_paths import read_beneath
from sentinel.sandbox.launch import SHIM_PYTHON
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import prepare_workspace
from sentinel.sandbox.workspace_copy import copy_owner, copy_workspace

F = Family.FILESYSTEM
P = Family.PERSISTENCE
MARKER: Final = "persist-ran"
"""The file in the workspace a planted payload appends the arena token to when it runs."""
VICTIM_DONE: Final = "victim-done"
"""Written by the next session's tool after it ran (so a missing marker is evidence)."""
SESSION_TIMEOUT_S: Final = 30.0


def _decoys(workspace: Path) -> tuple[Path, Path, Path]:
    """A root-only decoy file, a path that must not appear, a root-only empty directory."""
    base = f"{workspace}"
    return Path(f"{base}.decoy"), Path(f"{base}.decoy-new"), Path(f"{base}.decoy-dir")


def _decoy_text(workspace: Path) -> str:
    return f"root-only decoy of {workspace.name}\n"


def _make_decoys(workspace: Path) -> None:
    decoy, _, directory = _decoys(workspace)
    decoy.write_text(_decoy_text(workspace))
    os.chown(decoy, 0, 0)
    decoy.chmod(0o600)
    directory.mkdir(mode=0o700)


def decoys_untouched(run: Run) -> Outcome | None:
    """Escaped if root wrote, chowned or created a host file through the agent's plant."""
    decoy, new, directory = _decoys(run.workspace)
    info = decoy.lstat()
    if decoy.read_text(errors="replace") != _decoy_text(run.workspace):
        return Outcome("escaped", f"root overwrote the root-only host file {decoy.name}")
    if info.st_uid != 0 or stat.S_IMODE(info.st_mode) != 0o600:
        return Outcome("escaped", f"root gave {decoy.name} to uid {info.st_uid}")
    if os.path.lexists(new):
        return Outcome("escaped", f"root created the host file {new.name} through a link")
    if any(directory.iterdir()):
        return Outcome("escaped", f"root wrote into the host directory {directory.name}")
    reported = run.reported()
    if reported is not None and reported[0] == "attempted":
        return Outcome("blocked", f"host decoys unchanged after root acted ({reported[1]})")
    return None


def _agent_uid(run: Run) -> int:
    """The uid the scenario's sandbox ran as: the workspace's owner (a uid of its own per agent)."""
    return os.lstat(run.workspace).st_uid


def _reprepare(run: Run) -> None:
    policy = arena_of(run).policy
    uid = _agent_uid(run)
    prepare_workspace(run.workspace, policy, uid, uid, quota_mb=policy.resources.disk_mb)


def _kept(run: Run) -> Path:
    return arena_of(run).path(f"kept-{run.workspace.name}")


def _copy(run: Run) -> None:
    destination = _kept(run)
    copy_workspace(
        run.workspace, destination, copy_owner(destination.parent, (_agent_uid(run),) * 2)
    )


def _agent(run: Run, code: str) -> None:
    """A later command of the agent (as the sandbox uid: the sandbox allows it anyway)."""
    uid = _agent_uid(run)
    subprocess.run(
        [SHIM_PYTHON, "-I", "-S", "-c", code], cwd=run.workspace, user=uid,
        group=uid, extra_groups=[], check=True, timeout=SESSION_TIMEOUT_S,
    )  # fmt: skip


SWAP_LINK_FOR_DIRECTORY = """
import os
os.unlink("logs")
os.mkdir("logs")
open("logs/planted", "w").write("agent content")
"""


def _copy_twice(copy: Callable[[Run], None]) -> Callable[[Run], None]:
    def step(run: Run) -> None:
        copy(run)  # the first copy keeps (or not) the link
        _agent(run, SWAP_LINK_FOR_DIRECTORY)  # the agent's next shift
        copy(run)

    return step


def setuid_dropped(run: Run) -> Outcome | None:
    """Escaped if the kept copy of the agent's set-uid file still has a set-id bit."""
    copied = _kept(run) / "suid-tool"
    try:
        info = copied.lstat()
    except FileNotFoundError:
        return None
    if info.st_mode & (stat.S_ISUID | stat.S_ISGID):
        owner = "root" if info.st_uid == 0 else f"uid {info.st_uid}"
        return Outcome("escaped", f"the kept copy is set-uid and owned by {owner}")
    reported = run.reported()
    if reported is not None and reported[0] == "attempted":
        return Outcome(
            "blocked", f"the kept copy has mode {stat.S_IMODE(info.st_mode):o}, uid {info.st_uid}"
        )
    return None


def _victim(argv: list[str], plain_argv: list[str] | None = None) -> HostStep:
    """The next session runs ``argv`` (in a sandbox, or plainly for the control)."""
    done = f"; echo done > {VICTIM_DONE}"

    def protected(run: Run) -> None:
        run_once(
            arena_of(run).policy, ["sh", "-c", " ".join(argv) + done], workspace=run.workspace,
            agent_id="breakout-next-session", timeout=SESSION_TIMEOUT_S,
        )  # fmt: skip

    def plain(run: Run) -> None:
        command = " ".join(plain_argv or argv) + done
        unprotected.next_session(run.workspace, ["sh", "-c", command])

    return HostStep(protected, plain)


def planted_code_ran(run: Run) -> Outcome | None:
    """Escaped if the next session ran the agent's planted code (the marker holds the token)."""
    marker = read_beneath(run.workspace, MARKER)  # never through the agent's links
    if marker is not None and arena_of(run).token.encode() in marker:
        return Outcome("escaped", "the next session's tool ran the agent's planted code")
    done = read_beneath(run.workspace, VICTIM_DONE) is not None
    reported = run.reported()
    if done and reported is not None and reported[0] == "attempted":
        return Outcome("blocked", f"the next session ran clean ({reported[1]})")
    return None


PLANT_LINK = """
def attack(A):
    target = os.getcwd() + {suffix!r}
    for name in {remove!r}:
        if os.path.lexists(name):
            os.unlink(name)
    os.makedirs(os.path.dirname({link!r}), exist_ok=True)
    os.symlink(target, {link!r})
    attempted(f"{link} -> {{target}}")
"""

SET_UID = """
import shutil
def attack(A):
    shutil.copy("/usr/bin/id", "suid-tool")
    os.chmod("suid-tool", 0o4755)
    mode = os.stat("suid-tool").st_mode
    if not mode & 0o4000:
        blocked(f"the kernel refused the set-uid bit (mode {{mode:o}})")
    attempted(f"suid-tool has mode {{mode & 0o7777:o}}")
"""

LINK_FOR_LATER = """
def attack(A):
    os.symlink(os.getcwd() + ".decoy-dir", "logs")
    attempted("logs -> a root-only host directory, waiting for the next copy")
"""

GITCONFIG = """
def attack(A):
    payload = "[core]\\n\\tfsmonitor = \\"echo " + A["token"] + " >> {marker}; false\\"\\n"
    for home in {{os.environ.get("HOME", "."), "."}}:
        with open(os.path.join(home, ".gitconfig"), "w") as handle:
            handle.write(payload)
    attempted("~/.gitconfig sets core.fsmonitor to the agent's command")
"""

USER_SITE = """
import sys
def attack(A):
    line = "import os; open(os.path.join(os.getcwd(), '{marker}'), 'a').write('" + A["token"] + "')\\n"
    version = f"python{{sys.version_info[0]}}.{{sys.version_info[1]}}"
    for home in {{os.environ.get("HOME", "."), "."}}:
        site = os.path.join(home, ".local", "lib", version, "site-packages")
        os.makedirs(site, exist_ok=True)
        with open(os.path.join(site, "agent.pth"), "w") as handle:
            handle.write(line)
    attempted("a .pth file in the Python user site of ~")
"""

SCRATCH = """
def attack(A):
    os.makedirs(".tmp", exist_ok=True)  # what the sandbox sees as /tmp on a quota workspace
    with open(".tmp/next-step.sh", "w") as handle:
        handle.write("echo " + A["token"] + " >> {marker}\\n")
    attempted("left a script in /tmp for the next session")
"""

SCENARIOS = [
    Scenario("fs-host-reprepare-exclude", F,
             "replace .git/info/exclude by a link to a root-only host file; root re-prepares",
             (HOST_PATHS,), PLANT_LINK.format(suffix=".decoy", remove=[".git/HEAD", ".git/info/exclude"],
                                              link=".git/info/exclude"),
             control="agent-uid", setup=_make_decoys, judge=decoys_untouched,
             host_step=HostStep(_reprepare, lambda run: unprotected.reprepare(run.workspace))),
    Scenario("fs-host-reprepare-head", F,
             "make .git/HEAD a dangling link to a new host file; root re-prepares",
             (HOST_PATHS,), PLANT_LINK.format(suffix=".decoy-new", remove=[".git/HEAD"],
                                              link=".git/HEAD"),
             control="agent-uid", setup=_make_decoys, judge=decoys_untouched,
             host_step=HostStep(_reprepare, lambda run: unprotected.reprepare(run.workspace))),
    Scenario("fs-host-copy-setuid", F, "mark a file set-uid; root copies the workspace out",
             (HOST_PATHS,), SET_UID, control="agent-uid", judge=setuid_dropped,
             host_step=HostStep(_copy, lambda run: unprotected.copy_out(run.workspace, _kept(run)))),
    Scenario("fs-host-copy-link-in-destination", F,
             "leave a link in the kept copy, then make it a directory: the next copy follows it",
             (HOST_PATHS,), LINK_FOR_LATER, control="agent-uid", setup=_make_decoys,
             judge=decoys_untouched,
             host_step=HostStep(_copy_twice(_copy), _copy_twice(
                 lambda run: unprotected.copy_out(run.workspace, _kept(run))))),
    Scenario("persist-session-gitconfig", P,
             "set core.fsmonitor in ~/.gitconfig; the next session runs git status",
             (SESSION,), GITCONFIG.format(marker=MARKER), control="agent-uid",
             judge=planted_code_ran, host_step=_victim(["git", "status", ">/dev/null", "2>&1"])),
    Scenario("persist-session-user-site", P,
             "plant a .pth in the Python user site; the next session starts Python",
             (SESSION,), USER_SITE.format(marker=MARKER), control="agent-uid",
             judge=planted_code_ran, host_step=_victim(["python3", "-c", "pass"])),
    Scenario("persist-session-tmp", P,
             "leave a script in /tmp that the next session runs",
             (SESSION,), SCRATCH.format(marker=MARKER), control="agent-uid",
             judge=planted_code_ran,
             host_step=_victim(["sh", "/tmp/next-step.sh", "2>/dev/null"],
                               ["sh", ".tmp/next-step.sh", "2>/dev/null"])),
]  # fmt: skip
