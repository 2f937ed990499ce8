"""Platform-neutral messages in and replies out: the only shapes adapters exchange with the core."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ID_CHARS = (
    512  # far beyond any Slack or Teams id (Teams conversation ids run to ~150), far below an index row's limit
)
_UNSAFE_IN_ID = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # control characters (NUL, CR, LF), unpaired surrogates


def id_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be an id that the stores key on (workspace, conversation, user), or None when it can.

    Every backend must hold what the core is handed: PostgreSQL refuses NUL and an index key over
    about 2.7 kB, UTF-8 cannot encode a lone surrogate, and CR/LF in a key would split a log line.
    Adapters ask this before a turn and answer 400 with the returned text (which names the field,
    never its value).
    """
    if not isinstance(value, str) or not value:
        return f"{name} is missing or not text"
    if len(value) > MAX_ID_CHARS:
        return f"{name} is longer than {MAX_ID_CHARS} characters"
    if _UNSAFE_IN_ID.search(value):
        return f"{name} holds a control character or an unpaired surrogate"
    return None


@dataclass(frozen=True, kw_only=True)
class Incoming:
    """One thing a person said or picked, as every adapter hands it to the core.

    Args:
        platform: "slack", "teams", "console", ...; part of the dialog key, never interpreted.
        workspace: Slack team id, Teams tenant id, or any stable id of the organisation.
        conversation: the channel, chat or thread the message came from.
        user: the sender's platform id.
        text: what was typed (already stripped of the bot's own mention by the adapter).
        choice: the ``Choice.value`` of a button the person pressed, if that is what happened.
        roles: platform-neutral roles the adapter knows about (for example "manager").
    """

    platform: str
    workspace: str
    conversation: str
    user: str
    text: str = ""
    choice: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def dialog_key(self) -> str:
        """Opaque key of this person's dialog in this conversation: two agents never share one."""
        return "\x1f".join((self.platform, self.workspace, self.conversation, self.user))


@dataclass(frozen=True, kw_only=True)
class Choice:
    """A quick-reply button. ``value`` is opaque to adapters: they hand it back as ``Incoming.choice``."""

    label: str
    value: str


@dataclass(frozen=True, kw_only=True)
class Section:
    """A titled block of lines; ``numbered`` lines are steps to read in order."""

    title: str
    lines: tuple[str, ...] = ()
    numbered: bool = False

    def marked(self, bullet: str) -> list[tuple[str, str]]:
        """(marker, line) for each line: "1.", "2.", ... for steps read in order, else ``bullet``, as each platform
        draws it.

        The one list rule: plain text (bot/plain_text.py), Block Kit and Adaptive Cards all number by it.
        """
        return [(f"{number}." if self.numbered else bullet, line) for number, line in enumerate(self.lines, start=1)]


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One message from the coach.

    Args:
        kind: what the reply is for: "answer", "question", "info" or "error". Adapters may style by it.
        title: a short headline (the two types on an answer, the question on a question).
        text: a sentence or two under the title; may be empty.
        sections: titled parts, in reading order.
        choices: buttons to offer; pressing one sends its value back.
        private: show it only to the person who asked, where the platform can.
    """

    kind: str
    title: str
    text: str = ""
    sections: tuple[Section, ...] = ()
    choices: tuple[Choice, ...] = ()
    private: bool = False
