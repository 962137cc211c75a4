"""Step 5b: learned patterns — answers a model gave often enough for the same state.

Per (agent, fingerprint) the gateway keeps how often each distinct reply (by hash) came
back from a model. A pattern is promoted when its top reply has confidence >= 0.90 over
>= 50 samples; a promoted pattern answers, except that every 100th answer is a probe: a
real call whose reply is counted like any other. When the persona changes (its digest),
the pattern's confidence is halved until as many new samples have been seen as promotion
needs (SEED_NOTES, Gateway: promote / probe / decay).

Under the API control plane (``controlled``) the patterns only count: a pattern answers
once the plane promoted it (:meth:`LearnedPatterns.promote`, at the same thresholds, as a
verified and recorded decision), each probe's real reply is compared with the promoted one,
and the plane demotes a pattern whose probe disagreed (:meth:`LearnedPatterns.demote`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from sentinel.gateway.settings import LearnedSettings


@dataclass
class _Pattern:
    replies: Counter[str] = field(default_factory=Counter)
    texts: dict[str, str] = field(default_factory=dict)
    persona_digest: str = ""
    factor: float = 1.0
    since_change: int = 0
    answered: int = 0
    promoted: str | None = None
    """The reply hash the control plane promoted (controlled mode)."""
    probing: bool = False
    agreed: int = 0
    disagreed: int = 0


@dataclass(frozen=True)
class PatternStats:
    """One pattern as the API control plane observes it."""

    agent_id: str
    fingerprint: str
    samples: int
    confidence: float
    promoted: bool
    agreed: int
    disagreed: int


@dataclass(frozen=True)
class LearnedAnswer:
    """A promoted pattern's reply and its confidence."""

    text: str
    confidence: float
    samples: int


class LearnedPatterns:
    """In-memory learned patterns; thread-safe."""

    def __init__(self, settings: LearnedSettings) -> None:
        self.settings = settings
        self._patterns: OrderedDict[tuple[str, str], _Pattern] = OrderedDict()
        self._lock = threading.Lock()
        self.controlled = False
        """True: only patterns the API control plane promoted answer."""

    def _pattern(self, agent_id: str, fingerprint: str, persona_digest: str) -> _Pattern:
        key = (agent_id, fingerprint)
        pattern = self._patterns.get(key)
        if pattern is None:
            pattern = self._patterns[key] = _Pattern()
            if len(self._patterns) > self.settings.max_patterns:
                self._patterns.popitem(last=False)
        else:
            self._patterns.move_to_end(key)
        if not pattern.persona_digest:
            pattern.persona_digest = persona_digest
        elif pattern.persona_digest != persona_digest:
            pattern.persona_digest = persona_digest
            pattern.factor *= self.settings.persona_change_factor
            pattern.since_change = 0
        return pattern

    @staticmethod
    def _confidence(pattern: _Pattern) -> tuple[float, int, str | None]:
        total = sum(pattern.replies.values())
        if not total:
            return 0.0, 0, None
        top, count = pattern.replies.most_common(1)[0]
        return count / total * pattern.factor, total, top

    def lookup(self, agent_id: str, fingerprint: str, persona_digest: str) -> LearnedAnswer | None:
        """The promoted reply, or None (not promoted, or this answer is a probe)."""
        if not self.settings.enabled:
            return None
        with self._lock:
            pattern = self._pattern(agent_id, fingerprint, persona_digest)
            confidence, total, top = self._confidence(pattern)
            if self.controlled:
                top = pattern.promoted
            elif (
                top is None
                or total < self.settings.min_samples
                or confidence < self.settings.promote_confidence
            ):
                return None
            if top is None:
                return None
            pattern.answered += 1
            if pattern.answered % self.settings.probe_every == 0:
                pattern.probing = True
                return None  # a probe: the caller forwards and observes the real reply
            return LearnedAnswer(pattern.texts[top], confidence, total)

    def observe(self, agent_id: str, fingerprint: str, persona_digest: str, text: str) -> None:
        """Count a model's reply for this state."""
        if not self.settings.enabled:
            return
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            pattern = self._pattern(agent_id, fingerprint, persona_digest)
            if pattern.probing:
                pattern.probing = False
                if pattern.promoted is not None:
                    if digest == pattern.promoted:
                        pattern.agreed += 1
                    else:
                        pattern.disagreed += 1
            pattern.replies[digest] += 1
            pattern.texts.setdefault(digest, text)
            pattern.since_change += 1
            if pattern.factor < 1.0 and pattern.since_change >= self.settings.min_samples:
                pattern.factor = 1.0

    def confidence(self, agent_id: str, fingerprint: str) -> float:
        """The pattern's current confidence (0 when unknown)."""
        with self._lock:
            pattern = self._patterns.get((agent_id, fingerprint))
            return 0.0 if pattern is None else self._confidence(pattern)[0]

    def stats(self) -> list[PatternStats]:
        """Every pattern's samples, confidence, promotion and probe results."""
        with self._lock:
            rows = []
            for (agent_id, fingerprint), pattern in self._patterns.items():
                confidence, total, _ = self._confidence(pattern)
                rows.append(
                    PatternStats(
                        agent_id,
                        fingerprint,
                        total,
                        confidence,
                        promoted=pattern.promoted is not None,
                        agreed=pattern.agreed,
                        disagreed=pattern.disagreed,
                    )
                )
            return rows

    def promote(self, agent_id: str, fingerprint: str) -> str | None:
        """Let the pattern's top reply answer (the API plane decided); its hash, or None."""
        with self._lock:
            pattern = self._patterns.get((agent_id, fingerprint))
            if pattern is None or not pattern.replies:
                return None
            pattern.promoted = pattern.replies.most_common(1)[0][0]
            pattern.agreed = pattern.disagreed = 0
            return pattern.promoted

    def demote(self, agent_id: str, fingerprint: str) -> str | None:
        """Stop the pattern answering; the hash it answered with, or None."""
        with self._lock:
            pattern = self._patterns.get((agent_id, fingerprint))
            if pattern is None:
                return None
            previous, pattern.promoted = pattern.promoted, None
            return previous

    def restore(self, agent_id: str, fingerprint: str, promoted: str | None) -> None:
        """Set the promoted reply back (a rollback of the API plane)."""
        with self._lock:
            pattern = self._patterns.get((agent_id, fingerprint))
            if pattern is not None:
                pattern.promoted = promoted
