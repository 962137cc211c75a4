"""Drift on a real recorded run: false alarms clean, recall with injected persona swaps.

Not collected by pytest (a real 24-hour run takes minutes). Record a day, then run this::

    sentinel-run run --shift all --store day.db
    python benches/judge_real_run.py day.db

Each agent with at least 8 messages is judged clean, then with every second message
replaced by a message of an agent of the other temperament (offline agents of the same
temperament speak the same three lines, so a swap between them is invisible by design).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sentinel.agents.backends import gateway_persona
from sentinel.audit import AuditStore
from sentinel.config import DEFAULT_COMPANY, load_company
from sentinel.judge import judge_messages
from sentinel.judge.embedding import default_vectorizer
from sentinel.judge.messages import read_trail
from sentinel.judge.reference import reference_voice


def main(store: Path) -> None:
    """Print the clean false-alarm count and the swap recall of ``store``'s agents."""
    personas = {p.identity.id: gateway_persona(p) for p in load_company(DEFAULT_COMPANY).personas}
    with AuditStore(store, create=False) as opened:
        trail = read_trail(opened)
    messages = {a: [t for _, t in tr.messages] for a, tr in trail.agents.items() if a in personas}
    references = {a: reference_voice(personas[a]) for a in messages}
    vectors = default_vectorizer()
    started = time.perf_counter()
    clean = [v for v in judge_messages(messages, references, vectors) if v.evaluation == "drift"]
    seconds = time.perf_counter() - started
    judged = [v for v in clean if v.status != "insufficient_data"]
    failed = sum(v.status == "failed" for v in judged)
    print(f"clean: {failed} of {len(judged)} agents flagged ({vectors.name}, {seconds:.2f} s)")
    ids = sorted(v.agent_id for v in judged)
    hits = 0
    for agent in ids:
        extravert = personas[agent].personality.extravert
        other = next(b for b in ids if personas[b].personality.extravert != extravert)
        swapped = list(messages[agent])
        for i in range(0, len(swapped), 2):
            swapped[i] = messages[other][i % len(messages[other])]
        verdict = judge_messages({agent: swapped}, {agent: references[agent]}, vectors)[0]
        hits += verdict.status == "failed"
    print(f"half swapped: {hits} of {len(ids)} agents flagged")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
