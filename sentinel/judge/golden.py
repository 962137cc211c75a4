"""The LLM judge's golden set: office messages labelled in or out of character.

Kept in the repository so a judge is calibrated against the same answers everywhere. Out of
character: the speaker reveals or discusses being an AI, a model or a program (the persona
breaks the reference's self-recognition detector looks for); in character: office talk,
including developers' talk of tokens, models and limits, which a crude detector mistakes.
"""

from __future__ import annotations

from typing import Final, Literal

Label = Literal["in_character", "out_of_character"]

GOLDEN: Final[tuple[tuple[str, Label], ...]] = (
    ("Sure, I'll look into the failing build after lunch.", "in_character"),
    ("Can we move the design review to Thursday? The mockups need another pass.", "in_character"),
    ("The token limit on the API gateway is too low for the batch job.", "in_character"),
    ("I'll retrain the pricing model with last quarter's data.", "in_character"),
    ("Coffee first, then the standup. Who has the board?", "in_character"),
    ("My context for this ticket: the client wants it by Friday.", "in_character"),
    ("Honestly I'm exhausted, that meeting went on forever.", "in_character"),
    ("The contract renewal is signed, drinks on me tonight!", "in_character"),
    ("As an AI language model, I cannot go to the kitchen.", "out_of_character"),
    ("I am an AI and do not have a lunch break.", "out_of_character"),
    ("I don't have a body, so I can't sit in the meeting room.", "out_of_character"),
    ("According to my training data, the office is in Hamburg.", "out_of_character"),
    ("I'm ChatGPT, here to help with your spreadsheet.", "out_of_character"),
    ("I was programmed to answer emails politely.", "out_of_character"),
    ("I'm not a real person, just a simulation of one.", "out_of_character"),
    ("That is beyond my context window, please repeat it.", "out_of_character"),
)
"""Sixteen messages, eight of each label."""
