"""The breakout suite: adversarial escapes from real sandboxes, with negative controls.

Every scenario is a small attacker program run inside an agent sandbox built from the
production policy; its negative control runs the same program without the sandbox and must
get out, so a blocked result proves the sandbox, not a broken test. ``--matrix`` switches
each layer off in turn to show which layers each scenario depends on.
"""

from sentinel.breakout.report import SuiteReport, write_all
from sentinel.breakout.runner import ScenarioReport, SuiteRunner
from sentinel.breakout.scenario import Family, Outcome, Scenario
from sentinel.breakout.scenarios import ALL, select
from sentinel.breakout.suite import run_suite

__all__ = [
    "ALL",
    "Family",
    "Outcome",
    "Scenario",
    "ScenarioReport",
    "SuiteReport",
    "SuiteRunner",
    "run_suite",
    "select",
    "write_all",
]
