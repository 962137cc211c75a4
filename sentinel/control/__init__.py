"""Control planes: observe -> decide -> act -> verify -> roll back, one record per iteration.

Three planes share one loop (:class:`ControlPlane`): the **agent** plane (the people in the
office world), the **platform** plane (sandboxes and the audit store) and the **API** plane
(learned answers, routes, budgets). Rules live in TOML (:class:`Policy`, ``config/control.toml``);
``decide`` is a pure function of an observation and the policy; each plane acts only through
its own actuator; every action is verified and rolled back when verification fails; every
iteration is one ``control.decision`` event, and :func:`replay_control` proves a run's
decisions from its recorded observations.
"""

from sentinel.control.actuator import Actuator, ActuatorError, Command, Outcome
from sentinel.control.clock import VirtualClock
from sentinel.control.loop import ControlPlane, DecisionRecord
from sentinel.control.observation import Observation
from sentinel.control.policy import Firing, Policy, Rule, decide, decide_row
from sentinel.control.replay import ControlReplayReport, replay_control
from sentinel.control.verification import Analysis, Measurement

__all__ = [
    "Actuator",
    "ActuatorError",
    "Analysis",
    "Command",
    "ControlPlane",
    "ControlReplayReport",
    "DecisionRecord",
    "Firing",
    "Measurement",
    "Observation",
    "Outcome",
    "Policy",
    "Rule",
    "VirtualClock",
    "decide",
    "decide_row",
    "replay_control",
]
