"""The detector's static embeddings (wordllama's shipped files) and its cross-validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentinel.errors import GatewayError
from sentinel.gateway.detector_model import LabelledLine, TextClassifier
from sentinel.gateway.detector_validation import best_thresholds, fold_of, scores
from sentinel.gateway.static_embeddings import DIMENSIONS, StaticEmbeddings, shipped


def test_the_wheel_ships_the_table_and_tokenizer() -> None:
    embeddings = shipped()
    assert embeddings.table.shape == (32000, DIMENSIONS)
    vector = embeddings.embed("I am only a simulation running on a server.")
    assert vector.shape == (DIMENSIONS,)
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert not embeddings.embed("").any()


def test_related_sentences_are_closer_than_unrelated_ones() -> None:
    embeddings = shipped()
    bot = embeddings.embed("I am a computer program.")
    software = embeddings.embed("I am a piece of software.")
    lunch = embeddings.embed("The canteen serves soup on Fridays.")
    assert float(bot @ software) > float(bot @ lunch)


def test_a_missing_model_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(GatewayError, match=r"l2_supercat_256\.safetensors"):
        StaticEmbeddings(tmp_path)


def test_the_embedding_features_let_the_classifier_learn_unseen_words() -> None:
    positives = ["I am a program.", "I am software.", "I am a bot.", "I am an algorithm."]
    negatives = ["I am a nurse.", "I am a teacher.", "I am a baker.", "I am a gardener."]
    lines = [LabelledLine(True, "en", t) for t in positives]
    lines += [LabelledLine(False, "en", t) for t in negatives]
    model = TextClassifier(lines, embeddings=shipped(), embedding_weight=1.0)
    assert model.probability("I am a program.") > model.probability("I am a nurse.")


def test_folds_are_stratified_and_thresholds_maximise_the_worst_score() -> None:
    lines = [LabelledLine(i % 2 == 0, "en" if i < 20 else "de", f"line {i}") for i in range(40)]
    assignment = fold_of(lines, 5)
    for fold in range(5):
        members = [line for line, f in zip(lines, assignment, strict=True) if f == fold]
        assert {(m.positive, m.language) for m in members} == {
            (True, "en"),
            (False, "en"),
            (True, "de"),
            (False, "de"),
        }
    probabilities = [0.9 if line.positive else 0.1 for line in lines]
    flag, _veto, result = best_thresholds(lines, probabilities, [False] * len(lines))
    assert 0.1 < flag <= 0.9
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in result.values())
    assert scores(lines, [True] * 40)["en"].precision == 0.5
