"""Word clusters: spherical k-means over static embeddings, and the features they give."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.gateway.detector_model import _cluster_grams, features
from sentinel.gateway.static_embeddings import shipped
from sentinel.gateway.word_clusters import WordClusters, spherical_kmeans


def _unit(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    unit: npt.NDArray[np.float32] = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(
        np.float32
    )
    return unit


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 60), k=st.integers(1, 12))
def test_kmeans_centres_are_unit_and_deterministic(seed: int, n: int, k: int) -> None:
    vectors = _unit(np.random.default_rng(seed).normal(size=(n, 8)))
    centres = spherical_kmeans(vectors, k, seed=3)
    assert centres.shape == (min(n, k), 8)
    assert np.allclose(np.linalg.norm(centres, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(centres, spherical_kmeans(vectors, k, seed=3))


def test_kmeans_separates_clear_groups() -> None:
    rng = np.random.default_rng(0)
    axes = np.eye(4, dtype=np.float32)
    vectors = _unit(np.repeat(axes, 25, axis=0) + rng.normal(0, 0.05, (100, 4)))
    centres = spherical_kmeans(vectors, 4, seed=1)
    nearest = (vectors @ centres.T).argmax(axis=1)
    # every group of 25 lands in one cluster, each in its own
    assert all(len(set(nearest[i : i + 25])) == 1 for i in range(0, 100, 25))
    assert len(set(nearest)) == 4


def test_a_word_goes_to_its_nearest_centre_and_the_choice_is_remembered() -> None:
    embeddings = shipped()
    words = ["bot", "chatbot", "programm", "kaffee", "coffee", "montag", "monday", "ich", "i"]
    clusters = WordClusters(words, embeddings, k=4)
    for word in [*words, "sprachmodell", "unseenword"]:
        similarity = clusters.centres @ embeddings.embed(word)
        assert clusters.of(word) == int(similarity.argmax())
    assert clusters.of.cache_info().hits == 0
    clusters.of("bot")
    assert clusters.of.cache_info().hits == 1


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        WordClusters(["a"], shipped(), k=0)


class _Fixed:
    """Clusters by a fixed table (unknown words: 9)."""

    def __init__(self, table: dict[str, int]) -> None:
        self.table = table

    def of(self, word: str) -> int:
        return self.table.get(word, 9)


def test_cluster_features_keep_the_scope_and_pair_words_with_clusters() -> None:
    words = ["ich", "bin", "keine", "~ki"]
    grams = _cluster_grams(words, _Fixed({"ich": 1, "bin": 2, "keine": 3, "ki": 4}), skip=2)  # type: ignore[arg-type]
    assert grams == [
        "k:<1>", "k:<2>", "k:<3>", "k:~<4>",
        "kb:<1> <2>", "kb:<2> <3>", "kb:<3> ~<4>",
        "kw:ich <2>", "kw:bin <3>", "kw:keine ~<4>",
        "ks:ich <3>", "ks:bin ~<4>",
    ]  # fmt: skip


def test_clusters_add_features_and_nothing_else_changes() -> None:
    text = "Bin keine KI, nur ein Nerd."
    plain = features(text)
    clustered = features(text, clusters=_Fixed({}))  # type: ignore[arg-type]
    assert set(plain) <= set(clustered)
    assert len(clustered) > len(plain)
