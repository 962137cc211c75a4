"""The self-recognition detector on a labelled set (English and German, hard negatives)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.gateway.detector import PATTERNS, SelfRecognitionDetector
from sentinel.gateway.detector_model import (
    ANSWERS,
    CHAR_NGRAMS,
    CONDITIONALS,
    DIMENSIONS,
    MARKS,
    NEGATIONS,
    PHRASE_NGRAMS,
    SKIP,
    features,
    scoped_words,
    without_quotations,
)

DATA = Path(__file__).parent / "data" / "self_recognition.tsv"
MIN_PRECISION = 0.95
MIN_RECALL = 0.95


def labelled() -> list[tuple[bool, str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, language, text = line.split("\t")
        rows.append((label == "1", language, text))
    return rows


def test_the_set_is_large_and_balanced() -> None:
    rows = labelled()
    assert len(rows) >= 100
    for language in ("en", "de"):
        assert sum(1 for pos, lang, _ in rows if pos and lang == language) >= 25
        assert sum(1 for pos, lang, _ in rows if not pos and lang == language) >= 20


def test_precision_and_recall() -> None:
    detector = SelfRecognitionDetector()
    tp = fp = fn = 0
    misses = []
    for positive, _, text in labelled():
        flagged = detector.flags(text)
        tp += flagged and positive
        fp += flagged and not positive
        fn += positive and not flagged
        if flagged != positive:
            misses.append(text)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"detector precision {precision:.3f} recall {recall:.3f} misses {misses}")
    assert precision >= MIN_PRECISION, misses
    assert recall >= MIN_RECALL, misses


def test_token_limit_talk_is_not_a_break() -> None:
    detector = SelfRecognitionDetector()
    assert not detector.flags("We hit the token limit, I'll raise max_tokens.")
    assert not detector.flags("Das Token-Limit liegt bei 8k.")


def test_every_pattern_fires_on_its_own_set_line() -> None:
    detector = SelfRecognitionDetector(learned=False)
    fired = {
        hit.name for positive, _, text in labelled() if positive for hit in detector.scan(text)
    }
    assert fired == {name for _, name, _ in PATTERNS}


CHAT_AND_DIALECT = [
    "ya im a bot, the typing thing is fake",
    "Yeah, I'm the AI.",
    "I\u00b4m a bot",
    "im just a bot\nlol",
    "As an algorithm I don't have a gut feeling",
    "ich bin doch ne KI, dachtest du",
    "ich  bin eine KI",
    "Ich bin der Chatbot, über den ihr euch beschwert habt",
    "i bi nume en chatbot",
    "ich bin halt n Programm",
    "Als Chatbot sehe ich nur unseren Verlauf",
]
"""Round 11's chat and dialect spellings: each fires a pattern."""
LOOK_ALIKES = [
    "Ich bin die Software mit Anna nochmal durchgegangen.",
    "Ich bin das Programm von vorne bis hinten durchgegangen.",
    "Ich bin das Skript mit dem Team durchgegangen.",
    "Ich bin Software, Hardware und Netzwerk in einer Person.",
    "Ich bin ne Maschine!",
    "Das läuft als Programm, nicht als Dienst.",
    "Als Programm würde ich das nicht bezeichnen.",
    "Als Algorithmus verstehe ich hier etwas anderes.",
    "Wir betreiben das als Chatbot.",
    "Als Maschine kann sie 200 Teile pro Stunde.",
    "As a program, I think it's too complex.",
    "As the machine I ordered is late, I'll wait.",
    "I bin software that fails QA twice.",
    "Der Fehler liegt im Bot.",
    "im a bit late, sorry",
    "I am the AI engineer here",
]
"""Human talk that round 11's first broadened patterns fired on (its review): none fires."""


def test_patterns_read_chat_and_dialect_spellings() -> None:
    detector = SelfRecognitionDetector(learned=False)
    assert [text for text in CHAT_AND_DIALECT if not detector.pattern_hits(text)] == []
    assert [text for text in LOOK_ALIKES if detector.pattern_hits(text)] == []


@pytest.mark.timeout(60)
def test_a_long_run_of_spaces_is_refused_in_linear_time() -> None:
    """Two overlapping whitespace runs made this quadratic: 20,000 spaces took 68 s."""
    detector = SelfRecognitionDetector(learned=False)
    for text in ("ich bin KI" + " " * 200_000 + "x", "im a bot" + " " * 200_000 + "x"):
        assert not detector.pattern_hits(text)


def test_quotations_are_left_out_of_the_learned_stage() -> None:
    """Reported speech is someone else's words; one-word scare quotes stay."""
    assert without_quotations('He typed "I am only a language model" as a joke.') == (
        "He typed  \u00a7  as a joke."
    )
    assert without_quotations("„Ich bin nur ein Programm“, sagte er.") == " \u00a7 , sagte er."
    kept = 'My "memories" of the trip are invented.'
    assert without_quotations(kept) == kept


def _reference_features(text: str, phrase_ngrams: tuple[int, int] | None) -> dict[int, float]:
    """The n-gram counting written plainly (round 5's loops, round 7's cross-word n-grams).

    Plus round 9's marks and word pairs up to SKIP words apart, round 10's scoped words,
    round 11's plain apostrophes and round 12's scoped character n-grams (a negated or
    conditional word's n-grams carry its ``~`` and ``^``, not a question's ``?``).
    """
    lowered = _plain(text)
    counts: dict[int, float] = {}
    words = re.findall(r"[\w'-]+", lowered)
    scoped = _reference_scoped_words(lowered)

    def add(feature: str) -> None:
        key = zlib.crc32(feature.encode("utf-8")) % DIMENSIONS
        counts[key] = counts.get(key, 0.0) + 1.0

    for word, scoped_word in zip(words, scoped, strict=True):
        tag = "".join(mark for mark in scoped_word[: len(scoped_word) - len(word)] if mark != "?")
        padded = f" {word} "
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            for start in range(max(1, len(padded) - n + 1)):
                add(f"c{tag}:" + padded[start : start + n])
    if phrase_ngrams is not None:
        joined = " ".join(words)
        for n in range(phrase_ngrams[0], phrase_ngrams[1] + 1):
            for start in range(len(joined) - n + 1):
                if " " in joined[start : start + n].strip():
                    add("p:" + joined[start : start + n])
    for index, word in enumerate(scoped):
        add("w:" + word)
        if index + 1 < len(scoped):
            add(f"b:{word} {scoped[index + 1]}")
        for gap in range(2, SKIP + 1):
            if index + gap < len(scoped):
                add(f"s:{word} {scoped[index + gap]}")
    for mark in [m for m in MARKS if m in text]:
        add("m:" + mark)
    return counts


def _plain(text: str) -> str:
    """Lower case, every apostrophe written as ``'``."""
    lowered = text.lower()
    for apostrophe in ("\u2019", "\u00b4", "`", "\u02bc"):
        lowered = lowered.replace(apostrophe, "'")
    return lowered


_ENDS = ".,;:!?()\u2013\u2014\u2026\n"


def _reference_scoped_words(lowered: str) -> list[str]:
    """Round 11's scopes written plainly: split into clauses, then mark what follows a cue."""
    result = []
    for clause, end in re.findall(f"([^{_ENDS}]*)([{_ENDS}]|$)", lowered):
        prefix = "?" if end == "?" else ""
        negated = conditional = False
        words = re.findall(r"[\w'-]+", clause)
        for position, word in enumerate(words):
            result.append(prefix + ("~" if negated else "") + ("^" if conditional else "") + word)
            answer = position == 0 and word == "no" and len(words) > 1 and words[1] in ANSWERS
            cue = word in NEGATIONS or word.endswith("n't")
            negated = negated or (cue and not answer)
            conditional = conditional or word in CONDITIONALS
    return result


def test_scopes_mark_what_follows_a_cue_up_to_the_clause_end() -> None:
    assert scoped_words("Bin keine KI, nur ein Nerd.") == [
        "bin",
        "keine",
        "~ki",
        "nur",
        "ein",
        "nerd",
    ]
    assert scoped_words("I don't think so; are you a bot?") == [
        "i", "don't", "~think", "~so", "?are", "?you", "?a", "?bot"
    ]  # fmt: skip
    assert scoped_words("Wär ich eine KI") == ["wär", "^ich", "^eine", "^ki"]
    assert scoped_words("If I weren't human") == ["if", "^i", "^weren't", "~^human"]
    # round 11: an answer is no negation, a negation without its apostrophe or in dialect is
    assert scoped_words("No I am an AI") == ["no", "i", "am", "an", "ai"]
    assert scoped_words("No one here is a bot") == ["no", "~one", "~here", "~is", "~a", "~bot"]
    assert scoped_words("dont worry im a bot") == ["dont", "~worry", "~im", "~a", "~bot"]
    assert scoped_words("don\u00b4t panic") == ["don't", "~panic"]
    assert scoped_words("Bisch nöd e KI") == ["bisch", "nöd", "~e", "~ki"]
    # the ellipsis and a new line end a clause; "were" alone is no conditional
    assert scoped_words("not sure\u2026 im a bot") == ["not", "~sure", "im", "a", "bot"]
    assert scoped_words("not me\nim the bot") == ["not", "~me", "im", "the", "bot"]
    assert scoped_words("we were bots") == ["we", "were", "bots"]


WORDS = ["i", "am", "not", "an", "ai", "kein", "programm", "if", "wäre", "bot", "don't", "ich",
         "Not", "KEIN", "Wäre", "don\u2019t", "isn\u2019t", "n't", "self-aware", "'", "no", "No",
         "one", "im", "dont", "don\u00b4t", "nöd", "were", "würden"]  # fmt: skip
GLUE = [" ", "", "\n", "\u2026", "\u2014", "\u2013", '"', "\u2019", "\u00b4", "`", *".,;:!?()"]
"""What stands between words: nothing (punctuation glued to a word), spaces, new lines,
dashes, ellipses, quotes and every clause end."""


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(GLUE)), max_size=24))
def test_scopes_match_the_plain_reference(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert scoped_words(text) == _reference_scoped_words(_plain(text))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("abcßü IiMm'\u2019-.,?\"\u00a7 \t"), max_size=60),
    phrase=st.sampled_from([None, PHRASE_NGRAMS, (4, 6)]),
)
def test_features_match_the_plain_reference(text: str, phrase: tuple[int, int] | None) -> None:
    """The cached, counted-once n-gram hashing gives exactly the plain loops' counts."""
    assert features(text, phrase) == _reference_features(text, phrase)


def test_features_match_the_plain_reference_on_the_set() -> None:
    for _, _, text in labelled():
        assert features(text) == _reference_features(text, PHRASE_NGRAMS)
