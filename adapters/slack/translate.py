"""Slack ↔ core translation: payloads to ``Incoming`` on the way in, ``Reply`` to Block Kit on the way out.

Nothing here talks to Slack or to the core; every function is pure, so it can be read top to bottom
and tested on the recorded payloads alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.messages import Incoming, Reply, Section
from bot.plain_text import plain_text
from bot.ports import CoachPort

_LOGGER = logging.getLogger(__name__)

PLATFORM = "slack"

# Slack's Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_MESSAGE_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_FALLBACK_TEXT = 3000

CHOICE_ACTION_PREFIX = "coach-choice-"
CHOICE_ACTION = re.compile(rf"^{CHOICE_ACTION_PREFIX}\d+$")

# What each slash command means in the core's words: "/checklist bakery" is "checklist bakery".
SLASH_COMMANDS = {"/coach": "", "/checklist": "checklist", "/tip": "tip"}
# Message subtypes that are a person writing; edits, deletions, joins and the like are not.
_HUMAN_SUBTYPES = {None, "file_share", "thread_broadcast"}
_ELLIPSIS = "…"
# In a channel the bot hears only messages that @mention it (app_mention); a DM it reads whole. The core's
# words ("Pick one or type your answer", "Describe what is going on") are the same everywhere, so where
# typing needs a mention the adapter says so, under the reply: a question card, and the replies that
# leave the next move to the person (help, a prompt to describe, a tip). Answers and errors stay as they are.
QUESTION_HINT = "In a channel, @mention me to type an answer; buttons work as they are."
CHANNEL_HINT = "In a channel I only read messages that @mention me; buttons work as they are."
_HINTS = {"question": QUESTION_HINT, "info": CHANNEL_HINT}
# One tap to start, in the bot's DM (assistant.threads.setSuggestedPrompts, and the manifest's agent_view):
# (what the button says, what it sends as the person's message). Slack shows at most four.
SUGGESTED_PROMPTS = (
    ("Customer is upset", "Customer is upset"),
    ("Something nobody has seen", "Something nobody has seen before"),
    ("Checklist for my department", "checklist"),
    ("This week's tip", "tip"),
)
SUGGESTED_PROMPTS_TITLE = "Start with one tap"
_BROADCASTS = re.compile(r"<![^>]*>")  # <!channel>, <!here|here>, <!everyone>, <!subteam^S0614TZR7|@leads>
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile("|".join(_ENTITIES))


# ---------------------------------------------------------------------------------------- predicates


def is_from_bot(event: Mapping[str, Any]) -> bool:
    """Any bot, ours or another app's: Bolt drops only our own, so other bots are caught here."""
    return bool(event.get("bot_id") or event.get("bot_profile")) or event.get("subtype") == "bot_message"


def is_human_message(event: Mapping[str, Any]) -> bool:
    """A person wrote something new (not an edit, a deletion, a join, or a bot post)."""
    return event.get("subtype") in _HUMAN_SUBTYPES and bool(event.get("user")) and not is_from_bot(event)


def is_direct_message(event: Mapping[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def is_direct_channel(channel: str) -> bool:
    """Slack's ids for direct-message channels start with D."""
    return channel.startswith("D")


def is_shared_channel(channel: str) -> bool:
    """A channel or a group conversation (C…, G…), where the bot hears only mentions; not a DM (D…) or a user
    (U…, W…)."""
    return channel.startswith(("C", "G"))


# ---------------------------------------------------------------------------------------- inbound


def conversation_of(channel: str, thread_ts: str | None) -> str:
    """A thread is its own conversation; a DM or a channel without a thread is the channel."""
    return f"{channel}:{thread_ts}" if thread_ts else channel


def unescape(text: str) -> str:
    """Slack's ``&amp;``, ``&lt;``, ``&gt;`` back to ``&``, ``<``, ``>``, in one pass: exactly once, as Slack
    escaped them.

    Slack escapes those three in what people type (message and slash-command text) so that the
    ``<...>`` it adds itself (mentions, channel links, URLs) stay apart. The core works on what was
    typed; ``escape`` puts the entities back once on the way out. ``&amp;lt;`` (someone typing
    ``&lt;``) becomes ``&lt;``, not ``<``.
    """
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(0)], text) if "&" in text else text


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove the ``<@BOT>`` tokens (with or without a ``|name``) that address the bot."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return " ".join(text.split())


def without_broadcasts(text: str) -> str:
    """Slack's broadcast markup (``<!channel>``, ``<!here>``, a user group's ``<!subteam^…>``) taken out of what
    was typed.

    The core gets words, and nothing typed here can carry a broadcast into a channel (a manager's tip
    is posted to every subscribed channel). People's mentions (``<@U…>``) are passed on as written.
    """
    return _BROADCASTS.sub(" ", text) if "<!" in text else text


def event_to_incoming(event: Mapping[str, Any], *, team: str, bot_user_id: str | None) -> Incoming:
    """A DM or a mention. A mention outside a thread opens one under itself (its ``ts``)."""
    channel = event["channel"]
    thread_ts = event.get("thread_ts") or (None if is_direct_message(event) else event.get("ts"))
    return Incoming(
        platform=PLATFORM,
        workspace=team,
        conversation=conversation_of(channel, thread_ts),
        user=event["user"],
        # The mention is Slack's own markup, so it goes first; what is left is what the person typed.
        text=unescape(strip_mention(without_broadcasts(event.get("text") or ""), bot_user_id)),
    )


def reply_thread(event: Mapping[str, Any]) -> str | None:
    """Where the answer to ``event`` goes: its thread; a new thread under a channel mention; none in a DM."""
    return event.get("thread_ts") or (None if is_direct_message(event) else event.get("ts"))


def command_text(command: str, text: str) -> str:
    """``/coach`` with nothing after it is "help"; the other commands prefix their word."""
    word = SLASH_COMMANDS.get(command, "")
    text = " ".join(text.split())
    if not word:
        return text or "help"
    return f"{word} {text}".strip()


def command_to_incoming(command: Mapping[str, Any]) -> Incoming:
    return Incoming(
        platform=PLATFORM,
        workspace=command.get("team_id") or "",
        conversation=command.get("channel_id") or command.get("user_id") or "",
        user=command.get("user_id") or "",
        text=command_text(command.get("command") or "", unescape(without_broadcasts(command.get("text") or ""))),
    )


def action_place(body: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, bool]:
    """(channel, message ts, thread ts, ephemeral) of the message whose button was pressed.

    The channel is None for a button outside a message (the App Home view).
    """
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    message_ts = container.get("message_ts") or message.get("ts")
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    return channel, message_ts, thread_ts, bool(container.get("is_ephemeral"))


def action_to_incoming(body: Mapping[str, Any], action: Mapping[str, Any]) -> Incoming:
    user = body.get("user") or {}
    channel, _, thread_ts, _ = action_place(body)
    return Incoming(
        platform=PLATFORM,
        workspace=(body.get("team") or {}).get("id") or user.get("team_id") or "",
        conversation=conversation_of(channel, thread_ts) if channel else user.get("id", ""),
        user=user.get("id", ""),
        choice=action.get("value") or "",
    )


# ---------------------------------------------------------------------------------------- outbound


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn and plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, never inside an ``&amp;``-style entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + _ELLIPSIS


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _section_blocks(section: Section) -> list[dict[str, Any]]:
    """One section block per ≤3000 characters: long sections continue in the next block."""
    lines = [f"{marker} {escape(line)}" for marker, line in section.marked("•")]
    if section.title:
        lines.insert(0, f"*{escape(section.title)}*")
    blocks: list[dict[str, Any]] = []
    current = ""
    for line in lines:
        line = shorten(line, MAX_SECTION_TEXT)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_SECTION_TEXT:
            blocks.append(_mrkdwn(current))
            candidate = line
        current = candidate
    if current:
        blocks.append(_mrkdwn(current))
    return blocks


def _title_block(title: str) -> dict[str, Any]:
    """A header when the title fits one (150 characters), a bold section otherwise, so nothing is lost."""
    if len(title) <= MAX_HEADER_TEXT:
        return {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
    return _mrkdwn(shorten(f"*{escape(title)}*", MAX_SECTION_TEXT))


def _actions_blocks(reply: Reply) -> list[dict[str, Any]]:
    buttons = []
    for index, choice in enumerate(reply.choices):
        if len(choice.value) > MAX_BUTTON_VALUE:
            # An opaque value cannot be shortened; the button is left out rather than breaking the message.
            _LOGGER.warning(
                "choice %d left out: its value has %d characters (Slack allows %d)",
                index,
                len(choice.value),
                MAX_BUTTON_VALUE,
            )
            continue
        buttons.append(
            {
                "type": "button",
                "action_id": f"{CHOICE_ACTION_PREFIX}{index}",
                "text": {"type": "plain_text", "text": shorten(choice.label, MAX_BUTTON_TEXT) or "…", "emoji": True},
                "value": choice.value,
            }
        )
    return [
        {"type": "actions", "elements": buttons[start : start + MAX_ACTIONS_ELEMENTS]}
        for start in range(0, len(buttons), MAX_ACTIONS_ELEMENTS)
    ]


def _content_blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.title:
        blocks.append(_title_block(reply.title))
    if reply.text:
        blocks.append(_mrkdwn(shorten(escape(reply.text), MAX_SECTION_TEXT)))
    for section in reply.sections:
        blocks.extend(_section_blocks(section))
    return blocks


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(text)}]}


def typing_hint(reply: Reply, channel: str | None) -> str | None:
    """What to say under ``reply`` posted in ``channel`` about typing to the bot: nothing in a DM, which it reads whole.

    For replies to a mention and to buttons in a channel. A slash command's answers are left alone: the
    command's dialog is the channel itself, which a mention (a new thread) would not continue.
    """
    return _HINTS.get(reply.kind) if channel and is_shared_channel(channel) else None


def suggested_prompts() -> list[dict[str, str]]:
    """The DM's one-tap starters as assistant.threads.setSuggestedPrompts and the manifest take them."""
    return [{"title": title, "message": message} for title, message in SUGGESTED_PROMPTS]


def _fit(content: list[dict[str, Any]], actions: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Keep the buttons, cut content from the end, and say that something was left out."""
    if len(content) + len(actions) <= limit:
        return content + actions
    actions = actions[: max(0, limit - 2)]
    room = max(0, limit - len(actions) - 1)
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": "_Shortened to fit in Slack._"}]}
    return content[:room] + [note] + actions


def to_blocks(
    reply: Reply, *, buttons: bool = True, limit: int = MAX_MESSAGE_BLOCKS, hint: str | None = None
) -> list[dict[str, Any]]:
    """The reply as Block Kit: header, text, one section per part (numbered for scripts), ``hint`` in grey, then
    buttons.

    The hint goes with the buttons, so that cutting a long reply to fit never drops it.
    """
    tail = ([_context(hint)] if hint else []) + (_actions_blocks(reply) if buttons else [])
    return _fit(_content_blocks(reply), tail, limit)


def fallback_text(reply: Reply) -> str:
    """Plain text for notifications and clients without blocks."""
    return shorten(escape(plain_text(reply)), MAX_FALLBACK_TEXT)


def to_message(reply: Reply, *, hint: str | None = None) -> dict[str, Any]:
    """Arguments for chat.postMessage / chat.update / a response_url post: ``text`` and ``blocks`` (``hint``: see
    ``typing_hint``)."""
    return {"text": fallback_text(reply), "blocks": to_blocks(reply, hint=hint)}


def home_view(parts: Iterable[Reply]) -> dict[str, Any]:
    """The App Home tab: the given replies one under the other, without buttons, within 100 blocks."""
    content: list[dict[str, Any]] = []
    for part in parts:
        if content:
            content.append({"type": "divider"})
        content.extend(to_blocks(part, buttons=False, limit=MAX_HOME_BLOCKS))
    return {"type": "home", "blocks": _fit(content, [], MAX_HOME_BLOCKS)}


def home_parts(coach: CoachPort) -> Sequence[Reply]:
    """This week's tip, how to use the bot, then every department's checklist."""
    departments = getattr(getattr(coach, "knowledge", None), "departments", None)
    checklists = [coach.checklist(name) for name in departments] if departments else [coach.checklist(None)]
    return [coach.tip_of_week_reply(), coach.help(), *checklists]
