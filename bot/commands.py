"""Recognises the few command words that work the same on every platform, typos forgiven."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Whole-message commands: the message is the command and nothing else.
_WHOLE = {
    "help": ("help", "?", "commands", "what can you do", "how does this work", "menu"),
    "start-over": ("start over", "restart", "reset", "new situation", "clear", "cancel", "start again"),
    "skip": (
        "skip",
        "just tell me",
        "tell me",
        "idk",
        "i don't know",
        "dont know",
        "don't know",
        "not sure",
        "no idea",
        "best guess",
    ),
    "more": ("more", "tell me more", "full script", "details", "expand"),
}
# Leading-word commands: the rest of the message is the argument.
_LEADING = {"checklist": ("checklist", "checklists", "check list"), "tip": ("tip", "tips"), "report": ("report",)}
_MAX_LEADING_WORDS = {"checklist": 5, "report": 2}
_PHRASE_TO_NAME = {phrase: name for name, phrases in _WHOLE.items() for phrase in phrases}
_FUZZY_WORDS = {
    "help": "help",
    "checklist": "checklist",
    "checklists": "checklist",
    "skip": "skip",
    "more": "more",
    "restart": "start-over",
}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Command:
    name: str  # help, start-over, skip, more, checklist, tip, report, unknown
    argument: str = ""


def parse_command(text: str) -> Command | None:
    """The command in ``text``, or None when it is a situation or an answer."""
    raw = _SPACES.sub(" ", text.strip())
    if raw.startswith("/"):
        word, _, rest = raw[1:].partition(" ")
        found = parse_command(f"{word} {rest}".strip())
        return found or Command("unknown", word.lower())
    plain = raw.lower().rstrip(".!? ").replace("’", "'")
    if plain in _PHRASE_TO_NAME:
        return Command(_PHRASE_TO_NAME[plain])
    first, _, rest = plain.partition(" ")
    for name, leading in _LEADING.items():
        if (first in leading or (name == "checklist" and plain.startswith("check list"))) and len(
            plain.split()
        ) <= _MAX_LEADING_WORDS.get(name, 10_000):
            argument = (
                raw.split(" ", 2)[2]
                if plain.startswith("check list") and raw.count(" ") >= 2
                else raw.partition(" ")[2]
            )
            return Command(name, argument.strip())
    words = plain.split()
    if 1 <= len(words) <= 2 and len(words[0]) >= 4:
        match = process.extractOne(words[0], list(_FUZZY_WORDS), scorer=fuzz.ratio, score_cutoff=80)
        if match:
            name = _FUZZY_WORDS[match[0]]
            if name in ("checklist",):
                return Command(name, " ".join(raw.split()[1:]))
            if len(words) == 1:
                return Command(name)
    return None
