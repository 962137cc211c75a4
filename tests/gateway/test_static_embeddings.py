"""The detector's static embeddings (wordllama's shipped files) and its cross-validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentinel.errors import GatewayError
from sentinel.gateway.detector_model import LabelledLine, TextClassifier
from sentinel.gateway.detector_validation import (
    best_thresholds,
    blind_groups,
    fold_of,
    leave_author_out,
    scores,
)
from sentinel.gateway.static_embeddings import DIMENSIONS, StaticEmbeddings, shipped


def test_the_wheel_ships_the_table_and_tokenizer() -> None:
    embeddings = shipped()
    assert embeddings.table.shape == (32000, DIMENSIONS)
    vector = embeddings.embed("I am only a simulation running on a server.")
    assert vector.shape == (DIMENSIONS,)
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert not embeddings.embed("").any()


def test_pooled_is_the_unit_mean_beside_the_maximum() -> None:
    embeddings = shipped()
    text = "I am only a simulation running on a server."
    vectors = embeddings.table[embeddings.token_ids(text)]
    both = np.concatenate([vectors.mean(axis=0), vectors.max(axis=0)])
    pooled = embeddings.pooled(text)
    assert pooled.shape == (2 * DIMENSIONS,)
    assert np.allclose(pooled, both / np.linalg.norm(both), atol=1e-6)
    assert not embeddings.pooled("").any()


def test_blind_sections_are_left_out_in_turn() -> None:
    corpus = "\n".join(
        [
            "# Round 2: own lines",
            *(f"{i % 2}\ten\town line {i}" for i in range(8)),
            "# Round 9: corpus A, written blind by an outside author",
            "1\ten\tI am a program on a server",
            "0\ten\tI wrote a program for the server",
            "# Round 9: corpus B, written blind by another",
            "1\tde\tich bin ein Programm",
            "# a plain comment does not open a section",
            "0\tde\tich schreibe ein Programm",
        ]
    )
    groups = blind_groups(corpus)
    assert groups[:8] == [""] * 8
    assert groups[8] == groups[9] != groups[10] == groups[11] != ""
    lines = [
        LabelledLine(raw.split("\t")[0] == "1", raw.split("\t")[1], raw.split("\t")[2])
        for raw in corpus.splitlines()
        if not raw.startswith("#")
    ]
    scored, probabilities = leave_author_out(lines, groups, embeddings=None)
    assert [line.text for line in scored] == [line.text for line in lines[8:]]
    assert all(0.0 < p < 1.0 for p in probabilities)


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
