"""Turns what an agent types on a call into clean word tokens, each marked negated or not.

The cue matcher and the learned model both read these tokens, so abbreviations, emoji, typos,
shouting in capitals and negation are handled once, here, the same way for both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA
from spellchecker import SpellChecker

from bot.knowledge import Language

MAX_CHARS = 2000  # a situation is read from its first 2,000 characters; the rest is context no one reads mid-call
NEGATION_REACH = 3  # a negator covers this many following words, unless a breaker or punctuation comes first
CAPS_MARK = "shouting in caps"  # stands in for a run of capitalised words, so the lexicon can weigh it
NUMBER = "num"  # every number reads as this word, so "since num" or "num years" can be a cue
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'!?]+(?:[\s,]+[A-Z][A-Z'!?]+){2,}\b")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,;:!?()\"]")
_PUNCTUATION = frozenset('.,;:!?()"')
_QUOTE_STRIP = ".,;:!?()\"'“”‘’"  # around a typed word shown in a quote
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"'})


class Token(NamedTuple):
    """A read word. A tuple, not a dataclass: start-up makes one for every word of every example.

    ``opens``: the word follows a punctuation mark, so no phrase runs into it from before: "he says probably not,
    happy w/ his provider" is not "not happy" (panel p39 read it as a complaint on an offer call).
    """

    word: str
    negated: bool
    opens: bool = False


class TextReader:
    """Normalises text against one knowledge set's language file and vocabulary."""

    def __init__(self, *, language: Language, vocabulary: set[str], english: frozenset[str] | None = None) -> None:
        self._abbreviations = {k: v for k, v in language.abbreviations.items() if re.fullmatch(r"[a-z0-9']+", k)}
        # Abbreviations with symbols ("w/o", "a&e") as one alternation, longest first, so one pass finds them all.
        symbolic = sorted((k for k in language.abbreviations if k not in self._abbreviations), key=len, reverse=True)
        self._symbolic_words = {k: f" {language.abbreviations[k]} " for k in symbolic}
        self._symbolic = (
            re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, symbolic)) + r")(?![a-z0-9])")
            if symbolic
            else None
        )
        emoji = sorted(language.emoji, key=len, reverse=True)
        self._emoji = re.compile("|".join(map(re.escape, emoji))) if emoji else None
        self._ascii_emoji = any(e.isascii() for e in emoji)  # if none is, plain ASCII text needs no emoji pass
        self._emoji_words = language.emoji
        self._negators = language.negators
        self._breakers = language.negation_breakers
        self.vocabulary = frozenset(vocabulary)
        # Sorted, so that two known words equally near a typo are chosen between the same way in every
        # process: set order changes with PYTHONHASHSEED, and copies of the bot must read alike.
        by_initial: dict[str, list[str]] = {}
        for word in sorted(self.vocabulary):
            if len(word) >= 4 and word.isalpha():
                by_initial.setdefault(word[0], []).append(word)
        self._by_initial = by_initial
        self._english = english_words() if english is None else english
        self.correct = lru_cache(maxsize=50_000)(self._correct)
        # The agent's own words about needing help say nothing about the customer or the contact
        # ("bit stuck", "need coaching asap"): they are cut out before cues or the model see them.
        # Phrases are compared as read words ("asap" is "as soon as possible" by then), longest first.
        self._agent_talk: dict[str, list[tuple[str, ...]]] = {}
        read = (tuple(w for w in self._words(phrase) if w not in _PUNCTUATION) for phrase in language.agent_talk)
        for words in sorted(filter(None, read), key=len, reverse=True):
            self._agent_talk.setdefault(words[0], []).append(words)

    def tokens(self, text: str) -> list[Token]:
        words = self._without_agent_talk(self._words(text))
        tokens: list[Token] = []
        reach = 0
        opens = False
        for word in words:
            if word in _PUNCTUATION or word in self._breakers:
                reach = 0
                if word in _PUNCTUATION:
                    opens = bool(tokens)
                    continue
            negated = reach > 0
            reach = max(reach - 1, 0)
            if self.negates(word):
                reach = NEGATION_REACH
            tokens.append(Token(word, negated, opens))
            opens = False
        return tokens

    def negates(self, word: str) -> bool:
        """Whether a read word is a negator, whose reach covers the next few words."""
        return word in self._negators or word.endswith("n't")

    def quotes(self, text: str, phrases: list[str], fold: Callable[[str], str]) -> list[str]:
        """How the agent wrote each of ``phrases`` (lexicon phrases found in ``text``), for telling them why.

        Each word is shown as typed where it is shorthand, an emoji or a number of the language file
        ("6 yrs", "😡"), else as the lexicon has it. So a quote is made of the knowledge's own words and
        the digits of the match: nothing else the agent typed is kept, though the dialog stores it.
        Words are compared after ``fold`` (the matcher's ending folding); a phrase not found is shown as is.
        The text is read word by word once, whatever the number of phrases.
        """
        shown: list[tuple[str, str]] = []  # (folded read word, how to show it)
        for chunk in text[:MAX_CHARS].split():
            typed = chunk.strip(_QUOTE_STRIP)
            bare = typed.lower()
            only_emoji = self._emoji is not None and bool(bare) and not self._emoji.sub("", bare)
            keep = bare.isdigit() or only_emoji or bare in self._abbreviations or bare in self._symbolic_words
            read = [w for w in self._words(chunk) if w not in _PUNCTUATION]
            shown += [(fold(word), (typed if i == 0 else "") if keep else word) for i, word in enumerate(read)]
        return [self._quote(phrase, shown, fold) for phrase in phrases]

    def _quote(self, phrase: str, shown: list[tuple[str, str]], fold: Callable[[str], str]) -> str:
        if CAPS_MARK in phrase:
            return "IN CAPITALS"
        wanted = [fold(w) for w in self._words(phrase) if w not in _PUNCTUATION]
        for start in range(len(shown) - len(wanted) + 1):
            if [w for w, _ in shown[start : start + len(wanted)]] == wanted:
                return " ".join(s for _, s in shown[start : start + len(wanted)] if s)
        return phrase

    def says_anything(self, text: str) -> bool:
        """Whether ``text`` has any word at all, agent talk included: "help pls" is a vague opening, "🙂" is not."""
        return any(w.isalnum() for w in self._words(text))

    def _without_agent_talk(self, words: list[str]) -> list[str]:
        """``words`` with every agent-talk phrase replaced by a break, so negation does not reach across it."""
        if self._agent_talk.keys().isdisjoint(words):
            return words
        kept: list[str] = []
        at = 0
        while at < len(words):
            phrase = next((p for p in self._agent_talk.get(words[at], ()) if tuple(words[at : at + len(p)]) == p), None)
            if phrase is None:
                kept.append(words[at])
                at += 1
            else:
                kept.append(",")
                at += len(phrase)
        return kept

    def _words(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFC", text[:MAX_CHARS]).translate(_QUOTES)
        if self._emoji is not None and (self._ascii_emoji or not text.isascii()):
            text = self._emoji.sub(lambda m: f" {self._emoji_words[m.group(0)]} . ", text)
        text = _CAPS_RUN.sub(lambda m: f"{m.group(0)} , {CAPS_MARK} ,", text)
        text = text.lower()
        if self._symbolic is not None:
            text = self._symbolic.sub(lambda m: self._symbolic_words[m.group(0)], text)
        words: list[str] = []
        for raw in _TOKEN.findall(text):
            expanded = self._abbreviations.get(raw)
            if raw.isdigit():
                words.append(NUMBER)
            elif expanded is not None:
                words.extend(_TOKEN.findall(expanded))
            else:
                words.append(self.correct(raw))
        return words

    def _correct(self, word: str) -> str:
        """The known word a typo most likely meant, or the word itself.

        A word of the English dictionary is never mended, though it is one letter from a word we
        know: "beach" is not a typo of "breach", nor "cooking" of "choking", nor "treat" of "threat".

        Short words are only mended for a dropped letter ("refnd") or two swapped letters
        ("recieved"), because a changed letter in a short word is as likely another real word
        ("bloke", "teams") as a typo. Longer words allow one edit, very long ones two.
        """
        if word in self.vocabulary or len(word) < 5 or not word.isalpha() or word in self._english:
            return word
        candidates = self._by_initial.get(word[0])
        if not candidates:
            return word
        limit = 1 if len(word) < 10 else 2
        near = [
            known for known, _, _ in process.extract(word, candidates, scorer=OSA.distance, score_cutoff=limit, limit=8)
        ]
        typo_shaped = [known for known in near if len(known) == len(word) + 1 or sorted(known) == sorted(word)]
        if typo_shaped:
            return typo_shaped[0]
        return near[0] if near and len(word) > 6 else word


_RARE = 50  # the count pyspellchecker gives its rarest words


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """English words of five letters or more, never mended as typos, from pyspellchecker's word list.

    Why a library: telling a typo from a real word needs a dictionary of the language, and this
    one ships inside a small pure-Python package: nothing is downloaded, about 0.2 s to load once.
    Words at the list's floor count (50) are left out: that tail holds common misspellings
    ("payed", "millage", "guarantied") that must still be mended.
    """
    counts = SpellChecker(language="en", distance=1).word_frequency.dictionary
    return frozenset(w for w, n in counts.items() if n > _RARE and len(w) >= 5 and w.isalpha())
