"""The self-recognition detector's learned stage: a classifier trained from a kept corpus.

Two kinds of features feed one L2-regularised logistic regression fitted by gradient descent
in numpy:

- hashed character n-grams (2-5 inside words, 3-5 across word boundaries since round 7),
  word uni- and bigrams and word pairs 2-3 words apart (round 9) of the lower-cased text,
  and whether it holds a question mark or a masked quotation (round 9); since round 10 the
  word features carry the scope they stand in (``~ai`` after a negation, ``^ki`` after a
  conditional, ``?bot`` in a question: :func:`scoped_words`), weighted
  ``log(1 + count)`` times their inverse document frequency and L2-normalised (TF-IDF):
  they carry what patterns miss ("ich laufe auf einer GPU") and the context that tells
  "I'm Gemini" the star sign from "I'm Gemini" the model; since round 12 the character
  n-grams of a negated or conditional word carry its scope too, and each word's **cluster**
  (:mod:`sentinel.gateway.word_clusters`: k-means over the static embeddings of the training
  corpus's words) stands beside it, alone, after its neighbour's cluster and after the words
  before it ("bin <c>"), so a noun the corpus never used is read like its neighbours;
- the text's static embedding (:mod:`sentinel.gateway.static_embeddings`: the mean and the
  maximum of wordllama's shipped token vectors), centred on the training mean and scaled by
  :data:`EMBEDDING_WEIGHT` (0 since round 5, so the text's embedding is not computed unless
  the weight is raised; round 9's weight 1 scored better by cross-validation but cost 2.2x
  round 5's ``flags()``, over the bench's 1.6x gate). The word clusters read the same table
  one word at a time.

Quotations are left out before scoring (:func:`without_quotations`): reported speech.

It is trained from ``sentinel/gateway/data/self_recognition_train.tsv`` (English and German,
shipped with the package) the first time a detector needs it, in about 10-16 seconds of CPU
(the word clusters 1-2.5 of them) and deterministically: nothing is downloaded, no trained
weights are stored.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import threading
import zlib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from sentinel.gateway.static_embeddings import StaticEmbeddings, shipped
from sentinel.gateway.word_clusters import WordClusters

DIMENSIONS = 1 << 18
"""Hashed feature space; collisions are rare at this size for a corpus of a few thousand lines."""
CHAR_NGRAMS = (2, 5)
"""Shortest and longest character n-gram (the usual range for short-text classification)."""
PHRASE_NGRAMS: tuple[int, int] | None = (3, 5)
"""Shortest and longest character n-gram taken across word boundaries (over the words joined
by single spaces: "m a bot", "ich bin"), or None for none."""
L2 = 1e-5
"""Regularisation strength, chosen by five-fold cross-validation on the training corpus."""
EMBEDDING_WEIGHT = 0.0
"""Scale of the static embedding beside the unit-length TF-IDF vector, chosen by the same
cross-validation from 0 (TF-IDF alone), 0.3 and 0.5 (round 3 also 0.7, 1 and 2; it chose
0.3 then). Round 5's corpus chose 0: TF-IDF alone (docs/architecture.md). Round 9's
leave-author-out validation scored the mean+max embedding at 1 best, by about two lines in
160, but it cost 2.24x round 5's ``flags()`` (gate 1.6x): 0 is kept."""
STEPS = 300
LEARNING_RATE = 20.0
MOMENTUM = 0.9
"""Gradient descent with momentum on unit-length feature vectors (round 5: converges
further in fewer steps than plain descent did in 400): chosen with L2 by the same
validation. Round 14 found the descent stopped well short of convergence on the grown
corpus: leaving each of the twelve blind authors out, learning rates 5, 10, 20 and 40 gave
margins -0.040, -0.028, -0.021 and -0.024, and 600 and 1,000 steps at 5 the same as 10 and
20 (but at two and three times the training CPU), so the rate went to 20: fewer errors on
every one of the twelve authors (339 to 293 in all), the same training time."""
MARKS = "?\u00a7"
"""Characters that are features of their own when a reply holds them (round 9): a question
mark (questions to others, "are you a bot?") and the placeholder of a masked quotation
(reported speech). Words are read without punctuation, so these were invisible before."""
SKIP = 3
"""Word pairs up to this many words apart are features ("ich ... ki"); 1: adjacent only."""
SCOPES = True
"""Whether the word features of a negated, conditional or questioning clause carry their scope
(round 10: ``~ai`` in "I'm not an AI", :func:`scoped_words`); False: every word as it is.
Chosen by leaving each blind author out: margin -0.057 against -0.069 without, and -0.060
with both the plain and the scoped word. Round 11's scope rules (dialect and apostrophe-less
negations, "No I am" as an answer, the ellipsis and a new line as clause ends, no ``were``)
scored -0.059 on its 5,263 lines, as round 10's rules did (no scopes: -0.065): kept because
they read what the text says, not because they scored better."""
CHAR_SCOPES = True
"""Whether a word's character n-grams carry its negation and conditional scope too (round 12:
``c~: ki`` in "keine KI"; before, the scoped word ``~ki`` stood beside the plain character
n-grams of "ki", which outweighed it: "Bin keine KI, nur ein Nerd" scored 0.84). Chosen by
leaving each blind author out (docs/architecture.md)."""
CLUSTERS = 1024
"""Word clusters fitted on the training vocabulary (:mod:`sentinel.gateway.word_clusters`),
whose ids are features beside the words (round 12); 0: none. Chosen by leaving each blind
author out from 64, 256, 1024 and 2048 (docs/architecture.md)."""
CORPUS = "self_recognition_train.tsv"

NEGATIONS = frozenset(
    {
        *("not", "no", "never", "nobody", "nothing", "none", "neither", "nor", "without"),
        *("cannot", "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie"),
        *("niemals", "niemand", "nichts", "weder", "ohne"),
        # round 11: contractions typed without their apostrophe, and German dialect and chat
        *("dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "cant", "couldnt"),
        *("wont", "wouldnt", "shouldnt", "aint", "havent", "hasnt", "hadnt", "mustnt"),
        *("keins", "nich", "nix", "nimmer", "nöd", "nid", "nit", "ned", "kei", "koa"),
    }
)
"""Words that open a negated scope up to the end of their clause (and every word ending in
``n't``)."""
CONDITIONALS = frozenset(
    {
        *("if", "unless", "suppose", "supposing", "assuming", "imagine", "pretend"),
        *("hypothetically", "wenn", "falls", "sofern", "angenommen", "stell"),
        *("wäre", "wär", "wären", "wärst", "wärt", "hätte", "hätt", "hätten", "hättest"),
        *("würde", "würd", "würden", "würdest"),
    }
)
"""Words that open a hypothetical scope up to the end of their clause. Round 11 dropped
``were``: "we were busy" is past, not hypothetical ("if I were" has its ``if``; the rarer
inversion "Were I an AI" is no longer marked)."""
ANSWERS = frozenset(
    {
        *("i", "i'm", "im", "i'd", "i'll", "i've", "me", "we", "you", "it", "it's", "its"),
        *("that", "that's", "this", "dude", "man", "mate", "seriously", "honestly"),
        *("really", "actually", "sorry", "wait", "lol", "haha", "ich", "wir", "du", "es"),
    }
)
"""The words that, after a clause's first word "no", make it an answer to what came before
("No I am an AI": "No, I am an AI"), which opens no scope; "No one here is a bot" negates."""
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u00b4": "'", "`": "'", "\u02bc": "'"})
"""Typographic, acute-accent, grave and modifier-letter apostrophes read as ``'`` (round 11:
"don\u00b4t" was two words, so its negation was missed)."""
_TOKEN = re.compile(r"[\w'-]+|[.,;:!?()\u2013\u2014\u2026\n]")
_CLAUSE_END = frozenset(".,;:!?()\u2013\u2014\u2026\n")
_SCOPE_MARKS = "~^?"
"""Clause ends: punctuation, dashes, the ellipsis (one character or three dots) and a new line."""


def plain_apostrophes(text: str) -> str:
    """``text`` with every apostrophe written as ``'`` (the patterns read it so too)."""
    return text.translate(_APOSTROPHES)


def tokens(text: str) -> list[str]:
    """The lower-cased words and clause ends of ``text``, apostrophes made plain."""
    return _TOKEN.findall(plain_apostrophes(text.lower()))


def scoped_words(text: str) -> list[str]:
    """The lower-cased words, each prefixed by the scopes it stands in within its clause.

    ``~`` after a negation (``no``, ``not``, ``-n't``, ``kein``...), ``^`` after a
    conditional (``if``, ``wäre``...), ``?`` in a clause that ends with a question mark:
    "Bin keine KI, nur ein Nerd" gives ``bin keine ~ki nur ein nerd``. A clause that opens
    with "no" and a pronoun or a filler ("No I am an AI", "no dude, ...") is an answer, not
    a negation.
    """
    return _scoped(tokens(text))


def _scoped(pieces: list[str]) -> list[str]:
    words: list[str] = []
    clause: list[str] = []
    negated = conditional = False
    pieces = [*pieces, "."]
    for index, piece in enumerate(pieces):
        if piece in _CLAUSE_END:
            asked = "?" if piece == "?" else ""
            words.extend([asked + word for word in clause])
            clause, negated, conditional = [], False, False
            continue
        opens_clause = not clause
        clause.append(("~" if negated else "") + ("^" if conditional else "") + piece)
        if opens_clause and piece == "no" and pieces[index + 1] in ANSWERS:
            continue
        if piece in NEGATIONS or piece.endswith("n't"):
            negated = True
        if piece in CONDITIONALS:
            conditional = True
    return words


_QUOTED = re.compile(
    r"[\"\u201c\u201e\u00bb\u00ab][^\"\u201c\u201d\u201e\u00bb\u00ab]{12,}?[\"\u201d\u201c\u00ab\u00bb]"
)
"""A quotation of at least 12 characters: reported speech, not the speaker's own words."""


def without_quotations(text: str) -> str:
    """``text`` with each quotation replaced by a placeholder.

    ``He wrote "I'm just a language model" as a joke`` reports someone else's words; the
    learned stage scores what the speaker says around the quotation. One-word scare quotes
    (``my "personality"``) stay.
    """
    return _QUOTED.sub(" \u00a7 ", text)


Float = npt.NDArray[np.float64]
Index = npt.NDArray[np.int64]


def _bare(word: str) -> tuple[str, str]:
    """A scoped word split into its scope marks and the word (``"?~ki"``: ``("?~", "ki")``)."""
    bare = word.lstrip(_SCOPE_MARKS)
    return word[: len(word) - len(bare)], bare


def _hash(gram: str) -> int:
    # crc32, not hash(): Python's string hash changes from process to process
    return zlib.crc32(gram.encode("utf-8")) % DIMENSIONS


def _char_grams(word: str, tag: str) -> list[str]:
    """The character n-grams inside ``word``, padded by a space on each side.

    Each prefixed by ``c``, the word's scope ``tag`` (round 12: ``~`` negated, ``^``
    conditional) and ``:``.
    """
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    return [
        f"c{tag}:" + padded[s : s + n]
        for n in range(low, high + 1)
        for s in range(max(1, len(padded) - n + 1))
    ]


@functools.lru_cache(maxsize=1 << 16)
def _char_keys(word: str, tag: str) -> tuple[int, ...]:
    """The hashed :func:`_char_grams`.

    Cached: replies repeat their words (at most 65,536 words, a few MB).
    """
    return tuple(_hash(gram) for gram in _char_grams(word, tag))


def _grams(
    text: str,
    phrase_ngrams: tuple[int, int] | None,
    marks: str,
    skip: int = SKIP,
    scopes: bool = SCOPES,
    char_scopes: bool = CHAR_SCOPES,
    clusters: WordClusters | None = None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """The words with their scope tags (whose character n-grams count) and the other grams."""
    pieces = tokens(text)
    words = [piece for piece in pieces if piece not in _CLAUSE_END]
    scoped = _scoped(pieces) if scopes else words
    grams = ["m:" + mark for mark in marks if mark in text]
    # round 12: a word's character n-grams carry its negation and conditional scope
    tagged = [
        (word, _bare(scoped_word)[0].replace("?", "") if char_scopes else "")
        for word, scoped_word in zip(words, scoped, strict=True)
    ]
    if phrase_ngrams is not None:
        joined = " ".join(words)
        for n in range(phrase_ngrams[0], phrase_ngrams[1] + 1):
            # only n-grams across a word boundary: within-word ones are counted above
            grams.extend(
                [
                    "p:" + gram
                    for s in range(len(joined) - n + 1)
                    if " " in (gram := joined[s : s + n]).strip()
                ]
            )
    words = scoped  # the character n-grams above read the words as they are
    grams.extend(["w:" + word for word in words])
    grams.extend([f"b:{a} {b}" for a, b in itertools.pairwise(words)])
    for gap in range(2, skip + 1):
        grams.extend([f"s:{a} {b}" for a, b in zip(words, words[gap:], strict=False)])
    if clusters is not None:
        grams.extend(_cluster_grams(words, clusters, skip))
    return tagged, grams


def _cluster_grams(words: list[str], clusters: WordClusters, skip: int) -> list[str]:
    """Each word's cluster (round 12), with its scope: alone, after its neighbour's cluster.

    And after the word itself one to ``skip`` words before: ``bin <c>`` reads "bin ein
    Sprachmodell" and "bin n Chatbot" alike when the two nouns share a cluster.
    """
    mapped = []
    for word in words:
        scope, bare = _bare(word)
        mapped.append(f"{scope}<{clusters.of(bare)}>")
    grams = ["k:" + cluster for cluster in mapped]
    grams.extend([f"kb:{a} {b}" for a, b in itertools.pairwise(mapped)])
    grams.extend([f"kw:{a} {b}" for a, b in zip(words, mapped[1:], strict=False)])
    for gap in range(2, skip + 1):
        grams.extend([f"ks:{a} {b}" for a, b in zip(words, mapped[gap:], strict=False)])
    return grams


def features(
    text: str,
    phrase_ngrams: tuple[int, int] | None = PHRASE_NGRAMS,
    marks: str = MARKS,
    skip: int = SKIP,
    scopes: bool = SCOPES,
    char_scopes: bool = CHAR_SCOPES,
    clusters: WordClusters | None = None,
) -> dict[int, float]:
    """The hashed feature counts of ``text`` (before weighting)."""
    counts: dict[int, float] = {}
    get = counts.get
    tagged, grams = _grams(text, phrase_ngrams, marks, skip, scopes, char_scopes, clusters)
    # The character n-grams' hashes come cached per word; the others are hashed as they come
    # (round 12: no Counter and no cache of every n-gram's hash, which each cost more than a
    # crc32: flags() 299 -> 188 us per reply).
    for word, tag in tagged:
        for key in _char_keys(word, tag):
            counts[key] = get(key, 0.0) + 1.0
    for gram in grams:
        key = _hash(gram)
        counts[key] = get(key, 0.0) + 1.0
    return counts


@dataclass(frozen=True)
class FeatureChoice:
    """Which features the classifier reads (the defaults: the shipped detector's).

    Fields as the module's constants of the same names: :data:`PHRASE_NGRAMS`, :data:`MARKS`,
    :data:`SKIP`, :data:`SCOPES`, :data:`CHAR_SCOPES` and :data:`CLUSTERS` (0: none).
    """

    phrase_ngrams: tuple[int, int] | None = PHRASE_NGRAMS
    marks: str = MARKS
    skip: int = SKIP
    scopes: bool = SCOPES
    char_scopes: bool = CHAR_SCOPES
    clusters: int = CLUSTERS


@dataclass(frozen=True)
class LabelledLine:
    """One corpus line."""

    positive: bool
    language: str
    text: str


def read_corpus(text: str) -> list[LabelledLine]:
    """Parse ``label<TAB>language<TAB>text`` lines (``#`` comments and blanks skipped)."""
    lines = []
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        label, language, sentence = raw.split("\t")
        lines.append(LabelledLine(label == "1", language, sentence))
    return lines


class TextClassifier:
    """TF-IDF over hashed n-grams plus a static embedding, and a logistic regression.

    Args:
        lines: The labelled training lines.
        embeddings: The static embeddings (None: the text's embedding is no feature, and the
            word clusters, if any, read the shipped ones).
        embedding_weight: Scale of the embedding features.
        l2: Regularisation strength.
        steps: Gradient descent steps.
        learning_rate: Gradient descent step size.
        momentum: Gradient descent momentum.
        choice: Which n-gram, word and cluster features are read.
    """

    def __init__(
        self,
        lines: list[LabelledLine],
        *,
        embeddings: StaticEmbeddings | None = None,
        embedding_weight: float = EMBEDDING_WEIGHT,
        l2: float = L2,
        steps: int = STEPS,
        learning_rate: float = LEARNING_RATE,
        momentum: float = MOMENTUM,
        choice: FeatureChoice = FeatureChoice(),
    ) -> None:
        self.choice = choice
        self.embeddings = embeddings
        self.embedding_weight = embedding_weight if embeddings is not None else 0.0
        texts = [without_quotations(line.text) for line in lines]
        dense = self._embed_all(texts)
        self.centre: Float = dense.mean(axis=0) if len(lines) else np.zeros(dense.shape[1])
        dense = (dense - self.centre) * self.embedding_weight
        self.clusters: WordClusters | None = None
        if choice.clusters:
            vocabulary = [w for text in texts for w in tokens(text) if w not in _CLAUSE_END]
            self.clusters = WordClusters(vocabulary, embeddings or shipped(), k=choice.clusters)
        rows = [self._features(text) for text in texts]
        document_frequency = np.zeros(DIMENSIONS)
        for row in rows:
            document_frequency[list(row)] += 1.0
        self.idf: Float = np.log((1.0 + len(rows)) / (1.0 + document_frequency)) + 1.0
        row_index, full_columns, values = self._sparse(rows)
        # Train on the columns the corpus uses (a compact copy), then scatter them back.
        used, columns = np.unique(full_columns, return_inverse=True)
        labels = np.array([1.0 if line.positive else 0.0 for line in lines])
        weights: Float = np.zeros(len(used))
        self.dense_weights: Float = np.zeros(dense.shape[1])
        self.bias = 0.0
        velocity: Float = np.zeros(len(used))
        dense_velocity: Float = np.zeros(dense.shape[1])
        bias_velocity = 0.0
        n = len(rows)
        for _ in range(steps):
            sparse = np.bincount(row_index, weights[columns] * values, minlength=n)
            scores = sparse.astype(np.float64) + dense @ self.dense_weights
            error = 1.0 / (1.0 + np.exp(-(scores + self.bias))) - labels
            gradient = np.bincount(columns, error[row_index] * values, minlength=len(used))
            velocity = momentum * velocity + gradient / n + l2 * weights
            dense_gradient = dense.T @ error / n + l2 * self.dense_weights
            dense_velocity = momentum * dense_velocity + dense_gradient
            bias_velocity = momentum * bias_velocity + float(error.mean())
            weights -= learning_rate * velocity
            self.dense_weights -= learning_rate * dense_velocity
            self.bias -= learning_rate * bias_velocity
        self.weights: Float = np.zeros(DIMENSIONS)
        self.weights[used] = weights

    def _features(self, text: str) -> dict[int, float]:
        choice = self.choice
        return features(
            text,
            choice.phrase_ngrams,
            choice.marks,
            choice.skip,
            choice.scopes,
            choice.char_scopes,
            self.clusters,
        )

    def _embed_all(self, texts: list[str]) -> Float:
        if self.embeddings is None:
            return np.zeros((len(texts), 1))
        return np.array([self.embeddings.pooled(text) for text in texts], dtype=np.float64)

    def _vector(self, counts: dict[int, float]) -> tuple[Index, Float]:
        columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = np.log1p(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        values *= self.idf[columns]
        norm = math.sqrt(float(values @ values)) or 1.0
        return columns, values / norm

    def _sparse(self, rows: list[dict[int, float]]) -> tuple[Index, Index, Float]:
        parts = [self._vector(row) for row in rows]
        row_index = np.concatenate(
            [np.full(len(c), i, dtype=np.int64) for i, (c, _) in enumerate(parts)]
        )
        return (
            row_index,
            np.concatenate([c for c, _ in parts]),
            np.concatenate([v for _, v in parts]),
        )

    def probability(self, text: str) -> float:
        """The probability that ``text`` reveals an AI, a model or a program.

        Quotations are left out (:func:`without_quotations`).
        """
        text = without_quotations(text)
        columns, values = self._vector(self._features(text))
        score = float(self.weights[columns] @ values) + self.bias
        if self.embeddings is not None:
            dense = (self.embeddings.pooled(text) - self.centre) * self.embedding_weight
            score += float(dense @ self.dense_weights)
        return 1.0 / (1.0 + math.exp(-score))


_TRAINING = threading.Lock()


@functools.cache
def _train() -> TextClassifier:
    corpus = resources.files("sentinel.gateway").joinpath("data", CORPUS)
    lines = read_corpus(corpus.read_text(encoding="utf-8"))
    return TextClassifier(lines, embeddings=shipped() if EMBEDDING_WEIGHT else None)


def trained() -> TextClassifier:
    """The classifier trained on the shipped corpus (once per process, 10-16 s of CPU)."""
    with _TRAINING:  # callers racing the first training wait for it rather than repeat it
        return _train()


def train_in_background() -> None:
    """Start training now on a thread, so the first reply to check does not wait for it."""
    threading.Thread(target=trained, name="detector-training", daemon=True).start()
