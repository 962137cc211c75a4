"""Step 3b: prompt screens for secrets and injection markers, each with its own action.

``block`` refuses the request, ``redact`` replaces the match with ``[REDACTED:<name>]``
before anything leaves the gateway, ``flag`` lets it pass and records the hit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sentinel.gateway.settings import ScreenRule


@dataclass(frozen=True)
class ScreenHit:
    """One screen that matched: its name, kind, action and the message index."""

    name: str
    kind: str
    action: str
    message: int


class PromptScreens:
    """Compiled screens, applied in order to every message of a request."""

    def __init__(self, rules: Sequence[ScreenRule]) -> None:
        self.rules = [(rule, re.compile(rule.pattern, re.IGNORECASE)) for rule in rules]

    def apply(
        self, messages: list[tuple[str, str]]
    ) -> tuple[list[tuple[str, str]], list[ScreenHit]]:
        """Screen ``messages``; returns them (redacted where a rule says so) and the hits."""
        hits: list[ScreenHit] = []
        screened = []
        for index, (role, original) in enumerate(messages):
            text = original
            for rule, pattern in self.rules:
                if pattern.search(text) is None:
                    continue
                hits.append(ScreenHit(rule.name, rule.kind, rule.action, index))
                if rule.action == "redact":
                    text = pattern.sub(f"[REDACTED:{rule.name}]", text)
            screened.append((role, text))
        return screened, hits
