"""Word clusters: each word mapped to the nearest of k directions of its static embedding.

The learned stage of the self-recognition detector reads words it never saw in training
("I'm a chatbot", "bin n Sprachmodell", "i run on gpus"): a word's cluster, not the word
itself, carries what the training corpus taught about its neighbours. The clusters are fitted
by spherical k-means over the unit-length static embeddings
(:mod:`sentinel.gateway.static_embeddings`) of the training corpus's own words; no label is
read. Deterministic: the first centres are drawn with a fixed seed.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from sentinel.gateway.static_embeddings import StaticEmbeddings

Float = npt.NDArray[np.float32]

ITERATIONS = 25
"""Rounds of k-means (the assignment rarely moves after about 20 on a corpus's vocabulary)."""
CACHED_WORDS = 1 << 16
"""Words whose cluster is remembered: replies repeat their words."""


def _unit_rows(matrix: Float) -> Float:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def spherical_kmeans(
    vectors: Float, k: int, *, iterations: int = ITERATIONS, seed: int = 0
) -> Float:
    """``k`` unit-length centres of ``vectors`` (unit rows), by cosine similarity.

    A centre that loses all its members keeps its place. Fewer distinct vectors than ``k``:
    every vector is its own centre.
    """
    if len(vectors) <= k:
        return vectors.copy()
    rng = np.random.default_rng(seed)
    centres = vectors[rng.choice(len(vectors), k, replace=False)].copy()
    for _ in range(iterations):
        nearest = (vectors @ centres.T).argmax(axis=1)
        order = np.argsort(nearest, kind="stable")
        filled, starts = np.unique(nearest[order], return_index=True)
        # the members' sum of each filled cluster, in one pass over the sorted vectors
        centres[filled] = _unit_rows(np.add.reduceat(vectors[order], starts, axis=0))
    return centres


class WordClusters:
    """The k-means clusters of a vocabulary's static embeddings.

    Args:
        words: The vocabulary (lower-cased words; repeats are ignored).
        embeddings: The static token embeddings that place each word.
        k: The number of clusters.
        seed: The seed of the first centres.
    """

    def __init__(
        self, words: list[str], embeddings: StaticEmbeddings, *, k: int, seed: int = 0
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.embeddings = embeddings
        vocabulary = sorted(set(words))
        vectors = np.array([embeddings.embed(word) for word in vocabulary], dtype=np.float32)
        if not len(vectors):
            vectors = np.zeros((1, embeddings.table.shape[1]), dtype=np.float32)
        self.centres: Float = spherical_kmeans(vectors, k, seed=seed)
        self.of = functools.lru_cache(maxsize=CACHED_WORDS)(self._nearest)

    def _nearest(self, word: str) -> int:
        """The cluster of ``word``: its nearest centre (a word without tokens: cluster 0)."""
        return int((self.centres @ self.embeddings.embed(word)).argmax())
