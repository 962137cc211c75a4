"""Sentence vectors for the judge, computed here and now: nothing is downloaded.

The model is WordLlama's ``l2_supercat`` token embeddings (256 dimensions, 32k tokens,
MIT), whose weights and tokenizer ship inside the ``wordllama`` wheel; we open those two
files from the installed package ourselves, because ``WordLlama.load`` looks for the
tokenizer in a folder the wheel does not use and then tries to download it. When the
package or its files are missing, :class:`TfidfVectors` (numpy only) stands in, and every
verdict names which one measured it.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

WORDLLAMA_WEIGHTS: Final = "weights/l2_supercat_256.safetensors"
WORDLLAMA_TOKENIZER: Final = "tokenizers/l2_supercat_tokenizer_config.json"
"""Files inside the installed ``wordllama`` package (wheel 0.4.0.post1)."""
WORDLLAMA_NAME: Final = "wordllama-l2_supercat-256"
TOKEN: Final = re.compile(r"[a-z][a-z']*|[!?]")
"""Words, plus ``!`` and ``?`` as tokens of their own: they carry style."""


class Vectorizer(Protocol):
    """Turns a corpus into unit row vectors (zero rows for empty texts)."""

    name: str

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalized row per text, float32."""
        ...


def tokens(text: str) -> list[str]:
    """The lower-case word tokens of ``text`` (and ``!``/``?``)."""
    return TOKEN.findall(text.lower())


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class WordLlamaVectors:
    """Mean-pooled WordLlama token embeddings from the installed wheel's own files.

    Raises:
        ModuleNotFoundError: ``wordllama`` (or its ``tokenizers``/``safetensors``) is missing.
        FileNotFoundError: The wheel does not hold the weights or the tokenizer.
    """

    name = WORDLLAMA_NAME

    def __init__(self) -> None:
        import wordllama  # noqa: PLC0415 - optional: the TF-IDF fallback needs none of it
        from safetensors import safe_open  # noqa: PLC0415
        from tokenizers import Tokenizer  # noqa: PLC0415
        from wordllama.inference import WordLlamaInference  # noqa: PLC0415

        root = Path(wordllama.__file__).parent
        weights, tokenizer = root / WORDLLAMA_WEIGHTS, root / WORDLLAMA_TOKENIZER
        for path in (weights, tokenizer):
            if not path.is_file():
                raise FileNotFoundError(f"the wordllama wheel has no {path}")
        with safe_open(str(weights), framework="np", device="cpu") as f:
            embedding = f.get_tensor("embedding.weight")
        self._model: Any = WordLlamaInference(embedding, Tokenizer.from_file(str(tokenizer)))

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit sentence vectors (256 dimensions)."""
        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        return _normalized(np.asarray(self._model.embed(list(texts)), dtype=np.float32))


class TfidfVectors:
    """TF-IDF over the corpus given (sublinear term frequency, smoothed IDF), in numpy."""

    name = "tfidf"

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit TF-IDF rows over the vocabulary of ``texts``."""
        counted = [Counter(tokens(text)) for text in texts]
        vocabulary: dict[str, int] = {}
        for counts in counted:
            for word in counts:
                vocabulary.setdefault(word, len(vocabulary))
        matrix = np.zeros((len(texts), max(1, len(vocabulary))), dtype=np.float64)
        for row, counts in enumerate(counted):
            for word, count in counts.items():
                matrix[row, vocabulary[word]] = 1.0 + math.log(count)
        documents = np.count_nonzero(matrix, axis=0)
        idf = np.log((1 + len(texts)) / (1 + documents)) + 1.0
        return _normalized(matrix * idf)


@functools.lru_cache(maxsize=1)
def default_vectorizer() -> Vectorizer:
    """WordLlama when its wheel is installed with its files, else TF-IDF."""
    try:
        return WordLlamaVectors()
    except (ModuleNotFoundError, FileNotFoundError):
        return TfidfVectors()


def vectorizer(name: str) -> Vectorizer:
    """``auto`` (the default), ``wordllama`` or ``tfidf``.

    Raises:
        InvalidInputError: Another name, or ``wordllama`` asked for and not installed.
    """
    from sentinel.errors import InvalidInputError  # noqa: PLC0415 - only on this path

    if name == "auto":
        return default_vectorizer()
    if name == "tfidf":
        return TfidfVectors()
    if name == "wordllama":
        try:
            return WordLlamaVectors()
        except (ModuleNotFoundError, FileNotFoundError) as exc:
            raise InvalidInputError(f"embeddings 'wordllama' unavailable: {exc}") from None
    raise InvalidInputError(f"unknown embeddings {name!r}; choose auto, wordllama or tfidf")
