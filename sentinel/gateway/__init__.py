"""The gateway: a governed path between agents and models, in seven steps.

From Python::

    from sentinel.gateway import Gateway

    gateway = Gateway(ledger_path=":memory:")
    answer = gateway.complete(
        {"model": "offline", "messages": [{"role": "user", "content": "Create hello.py"}]},
        api_key="sentinel-dev",
    )
    print(answer.decision, [action.content for action in answer.actions])

Over HTTP, ``sentinel-run gateway serve`` speaks the OpenAI chat-completions protocol.
"""

from sentinel.gateway.actions import Action, Rejection, extract_actions
from sentinel.gateway.breaker import BreakerState, CircuitBreaker
from sentinel.gateway.budget import BudgetLedger, Reservation
from sentinel.gateway.detector import SelfRecognitionDetector
from sentinel.gateway.fingerprint import Matcher, ReferenceMatcher, parse_fingerprint
from sentinel.gateway.guards import JudgeVerdict, ModelJudge, OutputGuards, pattern_judge
from sentinel.gateway.persona import DEMO_PERSONAS, Persona, Personality, load_personas
from sentinel.gateway.pipeline import Gateway, GatewayResponse
from sentinel.gateway.server import BackgroundServer, serve
from sentinel.gateway.settings import GatewaySettings, load_settings
from sentinel.gateway.synthesis import SynthesisEngine

__all__ = [
    "DEMO_PERSONAS",
    "Action",
    "BackgroundServer",
    "BreakerState",
    "BudgetLedger",
    "CircuitBreaker",
    "Gateway",
    "GatewayResponse",
    "GatewaySettings",
    "JudgeVerdict",
    "Matcher",
    "ModelJudge",
    "OutputGuards",
    "Persona",
    "Personality",
    "ReferenceMatcher",
    "Rejection",
    "Reservation",
    "SelfRecognitionDetector",
    "SynthesisEngine",
    "extract_actions",
    "load_personas",
    "load_settings",
    "parse_fingerprint",
    "pattern_judge",
    "serve",
]
