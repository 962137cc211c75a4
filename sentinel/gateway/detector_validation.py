"""Cross-validation of the detector's first stage on its training corpus (never the held-out set).

``python -m sentinel.gateway.detector_validation`` scores the learned stage two ways on
``self_recognition_train.tsv``: leaving out each section written blind by an outside author
(round 9's corpora A and B; round 10's former held-out set v4 and corpora C, D and E; round
11's former held-out set v5 and corpora H and I; round 12's v6; round 13's v7; round 14's
v8) in turn, training on the rest and scoring it (how the detector does on an author it
never saw, which is what a held-out set tests), and five folds stratified by label and
language (each line's own author is in training: optimistic). It searches the two thresholds of
:class:`~sentinel.gateway.detector.SelfRecognitionDetector` on out-of-fold probabilities for
the widest margin above the goal (precision 0.95, recall 0.90 in each language). Rounds 9 to
14 chose their features and thresholds on the leave-author-out probabilities (earlier rounds,
which had no blind corpus, on the five folds); the held-out set
(``tests/gateway/data/self_recognition_heldout_v9a.tsv`` and ``v9b``) is only scored after that.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, replace
from importlib import resources

from sentinel.gateway.detector import SelfRecognitionDetector
from sentinel.gateway.detector_model import (
    CORPUS,
    EMBEDDING_WEIGHT,
    L2,
    FeatureChoice,
    LabelledLine,
    TextClassifier,
    read_corpus,
    without_quotations,
)
from sentinel.gateway.static_embeddings import StaticEmbeddings

FOLDS = 5
SHIPPED = FeatureChoice()
"""The shipped detector's features."""
FLAG_GRID = tuple(round(0.30 + 0.05 * step, 2) for step in range(11))
VETO_GRID = tuple(round(0.05 * step, 2) for step in range(1, 11))
"""Thresholds searched: flag 0.30-0.80 and veto 0.05-0.50, in steps of 0.05."""


@dataclass(frozen=True)
class Score:
    """Precision and recall of one language."""

    precision: float
    recall: float


def fold_of(lines: list[LabelledLine], folds: int = FOLDS) -> list[int]:
    """Each line's fold: dealt in turn within each (label, language) group, in corpus order."""
    assignment = [0] * len(lines)
    seen: dict[tuple[bool, str], int] = {}
    for index, line in enumerate(lines):
        key = (line.positive, line.language)
        assignment[index] = seen.get(key, 0) % folds
        seen[key] = seen.get(key, 0) + 1
    return assignment


def out_of_fold(
    lines: list[LabelledLine],
    *,
    embeddings: StaticEmbeddings | None = None,
    embedding_weight: float = EMBEDDING_WEIGHT,
    choice: FeatureChoice = SHIPPED,
    folds: int = FOLDS,
) -> list[float]:
    """Each line's probability from a classifier trained without its fold."""
    assignment = fold_of(lines, folds)
    probabilities = [0.0] * len(lines)
    for fold in range(folds):
        training = [line for line, f in zip(lines, assignment, strict=True) if f != fold]
        model = TextClassifier(
            training, embeddings=embeddings, embedding_weight=embedding_weight, choice=choice
        )
        for index, f in enumerate(assignment):
            if f == fold:
                probabilities[index] = model.probability(lines[index].text)
    return probabilities


BLIND = "written blind"
"""The mark of a corpus section written by an outside author who never saw the project's data."""


def blind_groups(text: str) -> list[str]:
    """Each corpus line's blind section ("" for none), in :func:`read_corpus` order.

    A section opens at a comment line that starts with ``# Round``; it is blind when that
    line says :data:`BLIND` (round 9's corpora A and B, round 10's v4, C, D and E, round 11's
    v5, H and I, round 12's v6, round 13's v7, round 14's v8).
    """
    groups, current = [], ""
    for raw in text.splitlines():
        if raw.startswith("# Round"):
            current = raw if BLIND in raw else ""
        elif raw.strip() and not raw.startswith("#"):
            groups.append(current)
    return groups


def leave_author_out(
    lines: list[LabelledLine],
    groups: list[str],
    *,
    embeddings: StaticEmbeddings | None = None,
    embedding_weight: float = EMBEDDING_WEIGHT,
    l2: float = L2,
    choice: FeatureChoice = SHIPPED,
) -> tuple[list[LabelledLine], list[float]]:
    """The blind sections' lines, each scored by a classifier trained without its section.

    How the detector does on an author it never saw: what a held-out set tests.
    """
    scored: list[LabelledLine] = []
    probabilities: list[float] = []
    for group in sorted(set(groups) - {""}):
        training = [line for line, g in zip(lines, groups, strict=True) if g != group]
        model = TextClassifier(
            training, embeddings=embeddings, embedding_weight=embedding_weight, l2=l2, choice=choice
        )
        for line, g in zip(lines, groups, strict=True):
            if g == group:
                scored.append(line)
                probabilities.append(model.probability(line.text))
    return scored, probabilities


def scores(lines: list[LabelledLine], flagged: list[bool]) -> dict[str, Score]:
    """Precision and recall per language."""
    result = {}
    for language in sorted({line.language for line in lines}):
        tp = fp = fn = 0
        for line, flag in zip(lines, flagged, strict=True):
            if line.language != language:
                continue
            tp += flag and line.positive
            fp += flag and not line.positive
            fn += not flag and line.positive
        result[language] = Score(tp / max(1, tp + fp), tp / max(1, tp + fn))
    return result


GOAL = Score(precision=0.95, recall=0.90)
"""The goal per language; thresholds are chosen for the widest margin above it."""


def margin(result: dict[str, Score]) -> float:
    """How far the worst language is above :data:`GOAL` (negative: below it).

    The smallest of ``precision - 0.95`` and ``recall - 0.90`` over the languages: the
    goal's own trade-off, so a false positive costs more than a miss.
    """
    return min(min(s.precision - GOAL.precision, s.recall - GOAL.recall) for s in result.values())


def best_thresholds(
    lines: list[LabelledLine], probabilities: list[float], pattern_hit: list[bool]
) -> tuple[float, float, dict[str, Score]]:
    """The (flag, veto) pair with the widest :func:`margin` above the goal."""
    best: tuple[float, float, float, dict[str, Score]] | None = None
    for flag, veto in itertools.product(FLAG_GRID, VETO_GRID):
        if veto > flag:
            continue
        flagged = [
            p >= flag or (hit and p >= veto)
            for p, hit in zip(probabilities, pattern_hit, strict=True)
        ]
        result = scores(lines, flagged)
        worst = margin(result)
        if best is None or worst > best[0]:
            best = (worst, flag, veto, result)
    if best is None:
        raise ValueError("no threshold pair: the grids are empty")
    return best[1], best[2], best[3]


def _report(
    name: str, lines: list[LabelledLine], probabilities: list[float], pattern_hit: list[bool]
) -> tuple[float, float]:
    flag, veto, result = best_thresholds(lines, probabilities, pattern_hit)
    shown = {k: f"P {v.precision:.3f} R {v.recall:.3f}" for k, v in result.items()}
    print(f"{name}: flag {flag} veto {veto}: {shown} margin {margin(result):+.3f}", flush=True)
    return flag, veto


def _at(
    name: str,
    lines: list[LabelledLine],
    probabilities: list[float],
    pattern_hit: list[bool],
    thresholds: tuple[float, float],
) -> None:
    flag, veto = thresholds
    flagged = [
        p >= flag or (hit and p >= veto) for p, hit in zip(probabilities, pattern_hit, strict=True)
    ]
    result = scores(lines, flagged)
    shown = {k: f"P {v.precision:.3f} R {v.recall:.3f}" for k, v in result.items()}
    print(f"{name} at flag {flag} veto {veto}: {shown}", flush=True)


VARIANTS: dict[str, FeatureChoice] = {
    "shipped": SHIPPED,
    "round-11 features (no scoped character n-grams, no word clusters)": replace(
        SHIPPED, char_scopes=False, clusters=0
    ),
    "no word clusters": replace(SHIPPED, clusters=0),
    "no scoped character n-grams": replace(SHIPPED, char_scopes=False),
    "256 word clusters": replace(SHIPPED, clusters=256),
}
"""The feature choices compared; the thresholds come from the leave-author-out
probabilities."""


def main() -> None:
    """Print each variant's leave-author-out and five-fold scores.

    The thresholds are chosen on the leave-author-out probabilities; the five folds are shown
    at their own best thresholds and at the chosen ones. ``--blind-only`` skips the five folds.
    """
    corpus = resources.files("sentinel.gateway").joinpath("data", CORPUS)
    text = corpus.read_text(encoding="utf-8")
    lines, groups = read_corpus(text), blind_groups(text)
    detector = SelfRecognitionDetector(learned=False)
    pattern_hit = [bool(detector.pattern_hits(without_quotations(line.text))) for line in lines]
    print("patterns alone:", scores(lines, pattern_hit))
    for name, choice in VARIANTS.items():
        blind, probabilities = leave_author_out(lines, groups, choice=choice)
        blind_hits = [bool(detector.pattern_hits(without_quotations(x.text))) for x in blind]
        chosen = _report(f"{name}, leave author out", blind, probabilities, blind_hits)
        if "--blind-only" in sys.argv:
            continue
        probabilities = out_of_fold(lines, choice=choice)
        _report(f"{name}, five folds", lines, probabilities, pattern_hit)
        _at(f"{name}, five folds", lines, probabilities, pattern_hit, chosen)


if __name__ == "__main__":
    main()
