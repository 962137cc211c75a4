"""The agent runtime: perception -> gateway -> action -> tool -> perception, tick by tick.

:func:`run` composes the office world (:mod:`sentinel.world`), the gateway
(:mod:`sentinel.gateway`), one warm sandbox per agent on duty (:mod:`sentinel.sandbox`) and
the audit trail (:mod:`sentinel.audit`); :func:`replay` re-executes a recorded run from its
inputs and answers and proves the final state hash equal.
"""

from __future__ import annotations

from sentinel.agents.options import SHIFTS, RunOptions
from sentinel.agents.replay import ReplayReport, replay
from sentinel.agents.runtime import RunSummary, run

__all__ = ["SHIFTS", "ReplayReport", "RunOptions", "RunSummary", "replay", "run"]
