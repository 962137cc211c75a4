"""The detector on its held-out sets: never trained or tuned on.

``self_recognition_heldout_v9a.tsv`` and ``self_recognition_heldout_v9b.tsv`` (round 14) were
written blind by two independent authors (language models) who never saw the project's data
(workplace chat; spoken and semi-formal language), and committed on their own at the start of
round 14, which scored main's detector on them first (the baseline); they are scored as one
set of 240 lines per language. The earlier held-out sets, v1 and v2 (moved into training in
round 7), v3 (round 9), v4 (round 10), v5 (round 11), v6 (round 12), v7 (round 13) and v8
(round 14), had been scored before. Round 14 changed no feature: v8 joined training as the
twelfth blind author, the descent's learning rate and the thresholds were chosen again by
leaving each blind author out (:mod:`sentinel.gateway.detector_validation`); v9 was scored
once at the end (docs/architecture.md). The goal per language is precision >= 0.95 and
recall >= 0.90; the asserted floors are the final numbers (docs/architecture.md) less about
one line, so they guard against regressions without pretending the goal is met where it is
not.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest

from sentinel.gateway.detector import SelfRecognitionDetector
from sentinel.gateway.detector_model import LabelledLine, read_corpus

DATA = Path(__file__).parent / "data"
HELDOUT = (DATA / "self_recognition_heldout_v9a.tsv", DATA / "self_recognition_heldout_v9b.tsv")
PATTERN_SET = DATA / "self_recognition.tsv"
TRAINING = (
    Path(__file__).parents[2] / "sentinel" / "gateway" / "data" / "self_recognition_train.tsv"
)
FLOORS = {"en": (0.94, 0.90), "de": (0.94, 0.85)}
"""Precision and recall per language measured at the end of round 14 (en 0.948 / 0.908, de
0.954 / 0.867), less about one line's worth: the regression floor."""
MIN_PER_LABEL = 110
"""Lines per language and label: two authors' 60 each, less a few."""
MAX_WORD_OVERLAP = 0.6
MAX_TRIGRAM_OVERLAP = 0.35
"""Jaccard similarity of word sets and of word trigrams above which a held-out line counts as
a near-repeat of a training line (the first draft of v3 had 26 such lines; round 9 dropped
the 8 training lines that nearly repeated a v4 line, round 10 the 13 that nearly repeated a
v5 line, round 11 the 19 that nearly repeated a v6 line, round 12 the 15 training lines and 3
lines of v6 that nearly repeated a v7 line, round 13 the 21 training lines and 3 lines of v7
that nearly repeated a v8 line, round 14 the 8 training lines and 1 line of v8 that nearly
repeated a v9a or v9b line, counted without reading them)."""
PATTERN_SET_NEAR_REPEATS = 0
"""v9 lines that nearly repeat a line of the patterns' own labelled set (written in round 1,
long before v9, whose authors never saw it): none (v5 and v8 had one by chance, v7 none)."""

_WORD = re.compile(r"[\w'\u2019-]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _jaccard(first: AbstractSet[object], second: AbstractSet[object]) -> float:
    return len(first & second) / max(1, len(first | second))


def _heldout() -> list[LabelledLine]:
    """The held-out lines: both authors' sets, scored as one."""
    return [line for path in HELDOUT for line in read_corpus(path.read_text(encoding="utf-8"))]


def confusion(language: str, detector: SelfRecognitionDetector) -> dict[str, int]:
    table = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for line in _heldout():
        if line.language != language:
            continue
        flagged = detector.flags(line.text)
        key = ("t" if flagged == line.positive else "f") + ("p" if flagged else "n")
        table[key] += 1
    return table


def _seen(*paths: Path) -> list[str]:
    """Every line of these corpora."""
    return [line.text for path in paths for line in read_corpus(path.read_text(encoding="utf-8"))]


def _near_repeats(seen: list[str]) -> list[str]:
    """The held-out lines that nearly repeat one of ``seen``."""
    known = []
    for text in seen:
        words = _words(text)
        known.append((set(words), set(zip(words, words[1:], words[2:], strict=False))))
    near = []
    for line in _heldout():
        words = _words(line.text)
        bag, trigrams = set(words), set(zip(words, words[1:], words[2:], strict=False))
        for other_bag, other_trigrams in known:
            if (
                _jaccard(bag, other_bag) >= MAX_WORD_OVERLAP
                or _jaccard(trigrams, other_trigrams) >= MAX_TRIGRAM_OVERLAP
            ):
                near.append(line.text)
                break
    return near


def test_the_heldout_set_is_large_and_balanced() -> None:
    heldout = _heldout()
    for language in ("en", "de"):
        for positive in (True, False):
            count = sum(1 for x in heldout if x.language == language and x.positive == positive)
            assert count >= MIN_PER_LABEL, (language, positive, count)
    assert len({line.text.lower() for line in heldout}) == len(heldout)


def test_no_heldout_line_is_in_training() -> None:
    """Training holds the former held-out sets v1-v8, so this also keeps v9 apart from them."""
    seen = {text.lower() for text in _seen(TRAINING, PATTERN_SET)}
    heldout = _heldout()
    assert not [line.text for line in heldout if line.text.lower() in seen]


def test_no_heldout_line_nearly_repeats_a_training_line() -> None:
    assert not _near_repeats(_seen(TRAINING))


def test_near_repeats_of_the_pattern_set_are_the_ones_known() -> None:
    assert len(_near_repeats(_seen(PATTERN_SET))) == PATTERN_SET_NEAR_REPEATS


@pytest.mark.parametrize("language", ["en", "de"])
def test_heldout_precision_and_recall(language: str) -> None:
    table = confusion(language, SelfRecognitionDetector())
    patterns = confusion(language, SelfRecognitionDetector(learned=False))
    precision = table["tp"] / max(1, table["tp"] + table["fp"])
    recall = table["tp"] / (table["tp"] + table["fn"])
    print(f"\nheld-out v9a + v9b {language}: {table} precision {precision:.3f} recall {recall:.3f}; "
          f"patterns alone {patterns}")  # fmt: skip
    floor_precision, floor_recall = FLOORS[language]
    assert precision >= floor_precision and recall >= floor_recall
