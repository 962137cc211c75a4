"""Static token embeddings shipped inside the ``wordllama`` wheel, read with numpy.

The wheel carries its default model's files: ``weights/l2_supercat_256.safetensors`` (a
32,000 x 256 float16 token-embedding table distilled from large language models) and
``tokenizers/l2_supercat_tokenizer_config.json`` (the Llama 2 tokenizer it indexes). A text's
embedding is the mean of its tokens' vectors, as wordllama computes it. The files are
located without importing the ``wordllama`` package (whose import configures the root
logger) and nothing is ever downloaded: a missing file is an error, not a fetch.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from sentinel.errors import GatewayError

WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
"""The files of wordllama's default model, as laid out in its wheel (0.4)."""
TENSOR = "embedding.weight"
DIMENSIONS = 256

Float = npt.NDArray[np.float32]


def _package_directory() -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise GatewayError("the detector's learned stage needs the wordllama package")
    return Path(next(iter(spec.submodule_search_locations)))


class StaticEmbeddings:
    """A token-embedding table and its tokenizer.

    Args:
        directory: The ``wordllama`` package directory (default: the installed one).
    """

    def __init__(self, directory: Path | None = None) -> None:
        base = directory if directory is not None else _package_directory()
        try:
            table = load_file(str(base / WEIGHTS))[TENSOR]
        except (OSError, KeyError, SafetensorError) as error:
            raise GatewayError(f"cannot read {base / WEIGHTS}: {error}") from error
        try:
            self.tokenizer = Tokenizer.from_file(str(base / TOKENIZER))
        except Exception as error:  # tokenizers raises a bare Exception
            raise GatewayError(f"cannot read {base / TOKENIZER}: {error}") from error
        self.table: Float = np.ascontiguousarray(table, dtype=np.float32)

    def token_ids(self, text: str) -> list[int]:
        """The tokenizer's ids for ``text`` (no special tokens)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, text: str) -> Float:
        """The mean of ``text``'s token vectors, scaled to unit length (zeros for no tokens)."""
        ids = self.token_ids(text)
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        mean: Float = self.table[ids].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm else mean

    def pooled(self, text: str) -> Float:
        """The mean and the element-wise maximum of ``text``'s token vectors, side by side.

        Scaled to unit length (zeros for no tokens): the maximum keeps a single telling token
        ("transformer", "Sprachmodell") that the mean of a long reply dilutes.
        """
        ids = self.token_ids(text)
        if not ids:
            return np.zeros(2 * self.table.shape[1], dtype=np.float32)
        vectors = self.table[ids]
        both: Float = np.concatenate([vectors.mean(axis=0), vectors.max(axis=0)])
        norm = float(np.linalg.norm(both))
        return both / norm if norm else both


@functools.cache
def shipped() -> StaticEmbeddings:
    """The embeddings of the installed wordllama wheel (read once per process)."""
    return StaticEmbeddings()
