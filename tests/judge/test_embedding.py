"""The sentence vectors: WordLlama from its wheel's own files, no network; TF-IDF fallback."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest

from sentinel.errors import InvalidInputError
from sentinel.judge import embedding
from sentinel.judge.embedding import TfidfVectors, WordLlamaVectors, vectorizer


def test_wordllama_loads_and_embeds_with_the_network_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    vectors = WordLlamaVectors().vectors(["the build is red again", "the tests pass", ""])
    assert vectors.shape == (3, 256)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[:2], 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.99


def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    v = WordLlamaVectors().vectors(
        ["the unit tests failed on the build server", "the build failed its tests", "I love pasta"]
    )
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])


def test_tfidf_rows_are_unit_and_share_one_vocabulary() -> None:
    v = TfidfVectors().vectors(["Deploy the cluster!", "deploy it", "lunch?"])
    assert v.shape[0] == 3
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert float(v[0] @ v[1]) > 0 and float(v[0] @ v[2]) == 0


def test_without_the_wheel_auto_falls_back_to_tfidf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)
    embedding.default_vectorizer.cache_clear()
    try:
        assert vectorizer("auto").name == "tfidf"
        with pytest.raises(InvalidInputError, match="wordllama"):
            vectorizer("wordllama")
    finally:
        embedding.default_vectorizer.cache_clear()


def test_an_unknown_vectorizer_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="bert"):
        vectorizer("bert")
