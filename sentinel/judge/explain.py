"""Explanations: the words that set judged messages apart from a reference."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Final

from sentinel.judge.embedding import tokens

TOP_WORDS: Final = 5
STOPWORDS: Final = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "i'm",
        "i'll",
        "in",
        "is",
        "it",
        "it's",
        "me",
        "my",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "will",
        "with",
        "you",
        "your",
    ]
)
"""Function words that say nothing about a persona."""


def top_words(
    texts: Sequence[str], reference: Sequence[str], limit: int = TOP_WORDS
) -> tuple[str, ...]:
    """Words most over-represented in ``texts`` against ``reference`` (smoothed log-odds)."""
    seen = Counter(w for text in texts for w in tokens(text) if w not in STOPWORDS)
    base = Counter(w for text in reference for w in tokens(text) if w not in STOPWORDS)
    total_seen, total_base = sum(seen.values()) or 1, sum(base.values()) or 1
    vocabulary = len(seen.keys() | base.keys()) or 1

    def lift(word: str) -> float:
        p = (seen[word] + 0.5) / (total_seen + 0.5 * vocabulary)
        q = (base[word] + 0.5) / (total_base + 0.5 * vocabulary)
        return math.log(p / q)

    ranked = sorted(seen, key=lambda w: (-lift(w), w))
    return tuple(word for word in ranked[:limit] if lift(word) > 0)
