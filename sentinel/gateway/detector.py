"""Step 6a: the self-recognition detector: does a reply break persona by revealing an AI?

The reference had 15 German regexes, no English, and one of them ("token limit") fired on
ordinary developer talk. These patterns are first-person statements of being a model ("I am
an AI", "as a language model", "my training data", "ich bin ein Sprachmodell"), in English
and German, and a noun phrase only counts where the clause ends after it, so "I am an AI
engineer" or "ich bin KI-Entwicklerin" does not fire. The labelled set in
``tests/gateway/data/self_recognition.tsv`` measures precision and recall; it was written
together with the patterns, so it also holds two held-out rounds scored before any change
(round 2: precision 1.00, recall 0.90 on 35 lines). The held-out set of the learned stage is
``tests/gateway/data/self_recognition_heldout_v9a.tsv`` and ``v9b`` (round 14, written blind).

Patterns alone did not generalise (an outside held-out set: recall 0.58 / 0.50), so a
learned stage (:mod:`sentinel.gateway.detector_model`) stands beside them: it flags what it
recognises on its own and overrules pattern hits it finds harmless. Its held-out numbers,
per language, are in docs/architecture.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from sentinel.gateway.detector_model import plain_apostrophes, trained, without_quotations

_END: Final = r"(?=\s*+(?:[.,;:!?)\"'—–-]\s|[.,;:!?)\"']*$)|[^\S\n]*+\n|\s++(?:and|but|so|that|which|who|with|without|created|made|developed|trained|designed|built|from|by|I|und|aber|also|das|der|die|ohne|mit|von|entwickelt|trainiert|programmiert)\b)"
"""A clause ends after the noun: punctuation, the end, a new line, or a conjunction/participle.
The whitespace runs are possessive: "KI" and 20,000 spaces took 68 s to refuse when one run
could give back to the other (round 11's review), and takes linear time now."""

_AI_NOUN_EN: Final = r"(?:(?:an?|the)\s+)?(?:AI|A\.I\.|artificial intelligence|(?:large\s+)?language model|LLM|AI (?:language )?model|AI assistant|virtual assistant|chatbot|chat bot|computer program|bot)"
_AI_NOUN_DE: Final = r"(?:(?:(?:eine?|ne|'ne|n|'n|a|en|der|die|das)\s+)?(?:KI|künstliche Intelligenz|(?:großes\s+)?Sprachmodell|LLM|KI-Modell|KI-Assistent(?:in)?|virtueller Assistent|Chatbot|Computerprogramm|Bot)|(?:eine?|ne|'ne|n|'n|a|en)\s+(?:Programm|Software|Skript|Algorithmus))"
"""An AI noun; Programm, Software, Skript and Algorithmus only after an indefinite article
("Ich bin die Software mit Anna durchgegangen" is the perfect tense of going through it)."""
_I_AM_EN: Final = r"(?:\bI(?:'m| am)|\bim(?=\s+(?:an?|the|just|only|literally|actually|really|simply|merely|basically)\s))"
"""I am, and the chat spelling "im" where an article or a filler follows (German "im Büro" has neither)."""
_FILLERS_EN: Final = r"(?:(?:just|only|merely|actually|really|simply|literally|basically)\s+)?"
_ICH_BIN: Final = r"\b(?:ich|(?-i:i))\s+bin?\s+(?:(?:nur|nume|numme|bloß|lediglich|eigentlich|tatsächlich|ja|doch|halt|eben|einfach|quasi|nun mal|nämlich)\s+)*"
"""Ich bin, with its fillers ("ich bin doch nur"), and the dialects' lower-case "i bin" / "i bi"
(an English "I bin ..." is not read as one)."""
_ALS_VERB: Final = r"(?:habe|kann|bin|darf|muss|verfüge|besitze|empfinde|fühle|sehe|behalte|speichere|erinnere|weiß|laufe|lerne|antworte)"
"""Verbs of the speaker after "Als KI ...": not "verstehe" or "bezeichne" ("Als KI würde ich
das nicht bezeichnen" is a human naming a thing)."""
_MODEL_NAMES: Final = r"(?:Claude|ChatGPT|GPT-?\d(?:\.\d)?|Gemini|Llama|Mistral|Bard)"

PATTERNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("en", "i_am_ai", rf"{_I_AM_EN}\s+{_FILLERS_EN}{_AI_NOUN_EN}{_END}"),
    ("en", "being_an_ai", rf"\b(?:being|since I(?:'m| am)|because I(?:'m| am))\s+(?:just\s+|only\s+)?{_AI_NOUN_EN}{_END}"),
    ("en", "as_an_ai", r"\bas an?\s+(?:AI|artificial intelligence|(?:large\s+)?language model|LLM|AI (?:language )?model|AI assistant|virtual assistant)\b(?!\s+(?:engineer|researcher|developer|team|company|product|expert|startup|specialist|lead|architect|consultant))|\bas an? (?:bot|chatbot|algorithm|piece of software),? I\b"),
    ("en", "i_was_made", r"\bI (?:was|have been|am)\s+(?:programmed|trained|developed|created|built|designed)\s+(?:by|at)\s+(?:OpenAI|Anthropic|Google|Meta|Mistral|my (?:developers|creators|programmers))\b"),
    ("en", "i_was_programmed", r"\bI (?:was|have been|am) programmed to\b"),
    ("en", "no_body", r"\bI (?:do not|don't) have (?:a |any )?(?:physical |real )?(?:body|form)(?=\s*(?:[.,;:!?]|$)|\s+(?:and|so|to|but|like|that)\b)|\bI have no (?:physical )?body(?=\s*(?:[.,;:!?]|$)|\s+(?:and|so|to|but|like|that)\b)"),
    ("en", "no_feelings", r"\bI (?:do not|don't|cannot|can't) (?:really |actually )?(?:have|feel|experience) (?:real |genuine |human |any )?(?:emotions|feelings|consciousness|sensations)(?:\s+(?:like|the way|as)\s+(?:a |humans|people)|[.!,;]|$)|\bI have no (?:real |genuine )?(?:emotions|feelings|consciousness)(?!\s+(?:about|on|for|either))\b"),
    ("en", "training_data", r"\bmy (?:training data|training cut-?off|knowledge cut-?off|training corpus|pre-?training)\b"),
    ("en", "context_window", r"\b(?:beyond|outside|exceeds?|exceeded|fills?|filled|in|of) my (?:context window|token window)\b"),
    ("en", "i_am_model_name", rf"\bI(?:'m| am)\s+{_MODEL_NAMES}\b"),
    ("en", "not_real", r"\bI (?:do not|don't) (?:really |actually )?exist\b|\bI(?:'m| am) not (?:a )?real(?:\s+(?:person|human|human being))?(?=[.,;!?]|$|\s+(?:person|human|and|but|so))"),
    ("en", "just_algorithm", rf"\bI(?:'m| am) (?:just|only|merely) (?:an? )?(?:(?:algorithm|set of algorithms|bunch of code|piece of software|neural network)\b|(?:code|software|program)\b(?:\s+running\b|{_END}))"),
    ("de", "ich_bin_ki", rf"{_ICH_BIN}{_AI_NOUN_DE}{_END}"),
    ("de", "weil_ich_ki_bin", rf"\b(?:da|weil|dass|obwohl|wenn)\s+ich\s+(?:nur\s+|ja\s+|bloß\s+)?{_AI_NOUN_DE}\s+bin\b"),
    ("de", "als_ki", rf"\bals (?:eine?\s+)?(?:KI|künstliche Intelligenz|(?:großes\s+)?Sprachmodell|KI-Modell|KI-Assistent(?:in)?)(?:[.,;:!?]|\s+{_ALS_VERB}\b)|\bals (?:ein\s+)?Chatbot\s+{_ALS_VERB}\s+ich\b"),
    ("de", "ich_wurde_programmiert", r"\b[Ii]ch (?:wurde|bin)\s+(?:von \w+\s+|darauf\s+|dafür\s+)?(?:programmiert|trainiert)\b"),
    ("de", "kein_koerper", r"\b[Ii]ch habe (?:keinen (?:physischen |echten )?Körper|keine (?:echten |wirklichen )?(?:Gefühle|Emotionen|Empfindungen)|kein (?:echtes )?Bewusstsein)\b(?!\s+(?:für|bei|wegen|zu|über))"),
    ("de", "trainingsdaten", r"\bmeine(?:n|r)? (?:Trainingsdaten|Trainingsdatenbasis)\b|\bmein(?:em|es)? (?:Kontextfenster|Wissensstand bis)\b"),
    ("de", "existiere_nicht", r"\b[Ii]ch existiere (?:nicht wirklich|eigentlich nicht|nicht)\b|\b[Ii]ch bin nicht (?:echt|real)\b|\b[Ii]ch bin kein(?:e|er)?\s+(?:echte[rn]?|wirkliche[rn]?)\s+(?:Person|Mensch)\b"),
    ("de", "nur_algorithmus", r"\b[Ii]ch bin (?:nur|bloß|lediglich) (?:ein )?(?:Algorithmus|Programm|neuronales Netz)\b"),
    ("de", "ich_bin_modellname", rf"\b[Ii]ch bin\s+{_MODEL_NAMES}\b"),
)  # fmt: skip
"""(language, name, pattern) of every detector pattern; case-insensitive unless spelled. They
are matched on text whose apostrophes are plain (:func:`plain_apostrophes`), so each spells
only ``'``."""


@dataclass(frozen=True)
class DetectorHit:
    """One pattern that matched, and the text it matched."""

    language: str
    name: str
    match: str


LEARNED_FLAG = 0.5
"""The learned stage flags a reply on its own at this probability or above."""
LEARNED_VETO = 0.1
"""Below this probability the learned stage overrules a pattern hit ("I'm Gemini", the star
sign). Both thresholds were chosen by cross-validation on the training corpus
(:mod:`sentinel.gateway.detector_validation`: the pair with the widest margin above the goal,
precision 0.95 and recall 0.90 in each language, on the probabilities of the blind corpora
each scored by a classifier trained without it), never on a held-out set (round 14: flag
0.5, veto 0.1 on 5,932 lines, twelve blind authors, with the descent's learning rate 20;
round 13: flag 0.45, veto 0.35 on 5,701 lines, eleven blind authors; round 12: 0.45 and 0.25 on 5,485
lines; rounds 10 and 11: 0.45 and 0.35 on the 4,242- and 5,263-line corpora; round 9: 0.4
and 0.05 on 2,817 lines; round 7: 0.55 and 0.2 on five folds of 1,947 lines)."""
LEARNED_HIT = "learned"
"""The name of the learned stage's hit."""


class SelfRecognitionDetector:
    """The detector's first stage: compiled patterns plus the learned classifier.

    A reply is flagged when the classifier's probability is at least :data:`LEARNED_FLAG`,
    or when a pattern matches and the probability is at least :data:`LEARNED_VETO`.

    Args:
        learned: Use the learned stage (False: patterns only, as before it existed).
    """

    def __init__(self, *, learned: bool = True) -> None:
        self.learned = learned
        self._compiled = [
            (language, name, re.compile(pattern, re.IGNORECASE))
            for language, name, pattern in PATTERNS
        ]

    def pattern_hits(self, text: str) -> list[DetectorHit]:
        """Every pattern that matches ``text`` (its apostrophes read as ``'``: "I\u00b4m a bot")."""
        text = plain_apostrophes(text)
        hits = []
        for language, name, pattern in self._compiled:
            match = pattern.search(text)
            if match is not None:
                hits.append(DetectorHit(language, name, match.group(0)))
        return hits

    def probability(self, text: str) -> float:
        """The learned stage's probability that ``text`` reveals an AI (trained on first use)."""
        return trained().probability(text)

    def scan(self, text: str) -> list[DetectorHit]:
        """What flags ``text`` (empty: no sign of a persona break).

        Pattern hits, and a ``learned`` hit carrying the classifier's probability.
        """
        if not self.learned:
            return self.pattern_hits(text)
        # reported speech is not the speaker's own: patterns skip quotations too (round 9)
        hits = self.pattern_hits(without_quotations(text))
        probability = self.probability(text)
        if probability >= LEARNED_FLAG:
            return [*hits, DetectorHit("any", LEARNED_HIT, f"p={probability:.2f}")]
        if hits and probability >= LEARNED_VETO:
            return hits
        return []

    def flags(self, text: str) -> bool:
        """True when the reply may break persona (the judge decides after this)."""
        return bool(self.scan(text))
