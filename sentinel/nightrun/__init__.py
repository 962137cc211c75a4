"""The nightrun: each agent's day consolidated into memories the next shift remembers.

Consolidate a recorded run (resumable after a crash), then prove it by re-execution::

    from sentinel.nightrun import replay_nightrun, run_nightrun

    report = run_nightrun("run.db")
    assert replay_nightrun("run.db").equal
"""

from sentinel.nightrun.nightrun import NightrunReplay, NightrunReport, replay_nightrun, run_nightrun
from sentinel.nightrun.recall import latest_memories, with_memories

__all__ = [
    "NightrunReplay",
    "NightrunReport",
    "latest_memories",
    "replay_nightrun",
    "run_nightrun",
    "with_memories",
]
