"""Judge a recorded run: drift, quality and fatigue per agent, recorded as audit events."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from sentinel.agents.backends import gateway_persona
from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.event_types import JudgeVerdict
from sentinel.config import load_company
from sentinel.errors import InvalidInputError
from sentinel.gateway.persona import Persona
from sentinel.judge.drift import DriftInput, judge_drift
from sentinel.judge.embedding import Vectorizer, vectorizer
from sentinel.judge.fatigue import judge_fatigue
from sentinel.judge.llm_judge import Calibration, LlmJudge, judge_breaks, judge_gateway
from sentinel.judge.messages import RunTrail, read_trail
from sentinel.judge.quality import judge_quality
from sentinel.judge.reference import reference_voice
from sentinel.judge.verdict import Explanation, Verdict

JUDGE_STREAM = "judge"
"""The stream verdict events are appended to."""


@dataclass
class JudgeReport:
    """The verdicts of one judging, with what was judged.

    Attributes:
        store: The store judged.
        vectorizer: The sentence vectors used (``wordllama-...`` or ``tfidf``).
        input_end: The trail judged ends before this position.
        verdicts: Every verdict, by agent then evaluation.
        wall_s: Seconds the judging took.
        recorded: Verdict events appended (0 when not recording or all were there).
    """

    store: str
    vectorizer: str
    input_end: int
    verdicts: list[Verdict] = field(default_factory=list)
    wall_s: float = 0.0
    recorded: int = 0
    calibration: Calibration | None = None
    """The LLM judge's calibration on the golden set (None when not asked)."""

    @property
    def failed(self) -> list[Verdict]:
        """The failed verdicts."""
        return [v for v in self.verdicts if v.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "store": self.store,
            "vectorizer": self.vectorizer,
            "input_end": self.input_end,
            "wall_s": round(self.wall_s, 3),
            "recorded": self.recorded,
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "failed": len(self.failed),
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def judge_messages(
    messages: Mapping[str, Sequence[str]],
    references: Mapping[str, Sequence[str] | None],
    vectors: Vectorizer,
) -> list[Verdict]:
    """Drift and fatigue verdicts of agents' messages against their references.

    All texts are embedded in one call (TF-IDF needs one vocabulary for the corpus).
    """
    # The products here are small (a hundred rows): OpenBLAS's threads cost more than they
    # save and spin against other processes (60 agents: 3.4 s threaded, 0.65 s on one
    # thread, on a loaded two-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _judge_messages(messages, references, vectors)


def _judge_messages(
    messages: Mapping[str, Sequence[str]],
    references: Mapping[str, Sequence[str] | None],
    vectors: Vectorizer,
) -> list[Verdict]:
    ids = sorted(messages)
    corpus: list[str] = []
    spans: dict[str, tuple[int, int, int]] = {}
    for agent_id in ids:
        reference = list(references.get(agent_id) or [])
        start = len(corpus)
        corpus += reference
        corpus += list(messages[agent_id])
        spans[agent_id] = (start, start + len(reference), len(corpus))
    matrix = vectors.vectors(corpus) if corpus else np.zeros((0, 1), dtype=np.float32)
    centroids = {}
    for agent_id in ids:
        start, middle, _ = spans[agent_id]
        if middle > start:
            centroid = matrix[start:middle].mean(axis=0)
            centroids[agent_id] = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
    verdicts = []
    for agent_id in ids:
        start, middle, end = spans[agent_id]
        if references.get(agent_id) is None:
            verdicts.append(
                Verdict(
                    agent_id,
                    "drift",
                    "insufficient_data",
                    0.0,
                    "none",
                    "no reference",
                    0.0,
                    None,
                    end - middle,
                    Explanation(
                        "no reference voice for this route (only the offline "
                        "provider can be asked without a network)"
                    ),
                )
            )
        else:
            item = DriftInput(
                agent_id,
                list(messages[agent_id]),
                corpus[start:middle],
                matrix[middle:end],
                matrix[start:middle],
            )
            others = {k: v for k, v in centroids.items() if k != agent_id}
            verdicts.append(judge_drift(item, vectors.name, others))
        verdicts.append(judge_fatigue(agent_id, list(messages[agent_id])))
    return verdicts


def _last_calibration(store: AuditStore) -> Calibration | None:
    """The LLM judge's last recorded calibration in ``store`` (to notice drift)."""
    last = None
    for event in store.read(stream=JUDGE_STREAM, type="judge.calibration"):
        last = event.payload
    return None if last is None else Calibration(**last)


def _personas(trail: RunTrail, config: Path | None) -> dict[str, Persona]:
    options = trail.started.get("options")
    folder = config
    if folder is None and isinstance(options, dict) and options.get("config"):
        folder = Path(str(options["config"]))
    if folder is None:
        raise InvalidInputError("the store records no company; pass --config")
    company = load_company(folder)
    return {p.identity.id: gateway_persona(p) for p in company.personas}


def verdict_event(verdict: Verdict, input_end: int, head: str, vectors: str) -> NewEvent:
    """The ``judge.verdict`` event of a verdict (idempotent per input, agent, evaluation)."""
    payload = JudgeVerdict(
        agent_id=verdict.agent_id,
        evaluation=verdict.evaluation,
        status=verdict.status,
        score=verdict.score,
        severity=verdict.severity,
        alert=verdict.alert,
        method=verdict.method,
        threshold=verdict.threshold,
        percentile=verdict.percentile,
        messages=verdict.messages,
        summary=verdict.explanation.summary,
        top_words=list(verdict.explanation.top_words),
        examples=list(verdict.explanation.examples),
        toward=verdict.explanation.toward,
        details=verdict.details,
        input_end=input_end,
        route=verdict.route,
        attributes=dict(verdict.otel_attributes()),
    )
    key = f"judge:{head[:32]}:{vectors}:{verdict.agent_id}:{verdict.evaluation}"
    return NewEvent.of(payload, stream=JUDGE_STREAM, idempotency_key=key)


def judge_store(
    path: Path | str,
    *,
    agent: str | None = None,
    embeddings: str = "auto",
    config: Path | None = None,
    record: bool = True,
    reference: Callable[[Persona], Sequence[str] | None] | None = None,
    llm: bool = True,
) -> JudgeReport:
    """Judge every agent of a recorded run (or one), and append the verdicts to its store.

    Args:
        path: The run's audit store.
        agent: Only this agent.
        embeddings: ``auto``, ``wordllama`` or ``tfidf``.
        config: The company directory (default: the one the run recorded).
        record: Append ``judge.verdict`` events (idempotent: judging the same trail again
            adds nothing).
        reference: A persona's reference voice (default: its route's answers to the
            calibration prompts, :func:`sentinel.judge.reference.reference_voice`).
        llm: Calibrate the LLM judge (:mod:`sentinel.judge.llm_judge`) on the golden set and,
            if it is calibrated, give each agent an ``llm`` verdict (persona breaks).

    Raises:
        InvalidInputError: No store, no such agent, or the company cannot be found.
    """
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no store at {path}")
    vectors = vectorizer(embeddings)
    with AuditStore(path, create=False) as store:
        trail = read_trail(store)
        personas = _personas(trail, config)
        ids = sorted(set(trail.agents) & set(personas))
        if agent is not None:
            if agent not in personas:
                raise InvalidInputError(f"no agent {agent!r} in the run's company")
            ids = [agent]
        options = trail.started.get("options")
        provider = (
            str(options.get("provider", "offline")) if isinstance(options, dict) else "offline"
        )
        messages = {
            a: [t for _, t in trail.agents[a].messages] if a in trail.agents else [] for a in ids
        }
        voice_of = reference or (lambda persona: reference_voice(persona, provider))
        references = {a: voice_of(personas[a]) for a in ids}
        verdicts = judge_messages(messages, references, vectors)
        with threadpool_limits(limits=1, user_api="blas"):  # see judge_messages
            for agent_id in ids:
                if agent_id in trail.agents:
                    verdicts.append(
                        judge_quality(agent_id, trail.agents[agent_id], vectors.vectors)
                    )
        calibration = None
        if llm:
            judge = LlmJudge(judge_gateway())
            calibration = judge.calibrate(previous=_last_calibration(store))
            verdicts += [judge_breaks(judge, calibration, a, messages[a]) for a in ids]
        verdicts = [dataclasses.replace(v, route=provider) for v in verdicts]
        verdicts.sort(key=lambda v: (v.agent_id, v.evaluation))
        report = JudgeReport(
            str(path), vectors.name, trail.head[0], verdicts, calibration=calibration
        )
        if record and verdicts:
            events = [
                verdict_event(v, trail.head[0], trail.head[1], vectors.name) for v in verdicts
            ]
            if calibration is not None:
                key = f"judge:{trail.head[1][:32]}:calibration:{calibration.answers_digest[:16]}"
                events.append(
                    NewEvent(
                        JUDGE_STREAM,
                        "judge.calibration",
                        calibration.to_dict(),
                        idempotency_key=key,
                    )
                )
            size = len(store)
            store.append_batch(events)
            report.recorded = len(store) - size
    report.wall_s = time.perf_counter() - started
    return report
