"""Renders a core ``Reply`` as an Adaptive Card (schema 1.5) and wraps it in a Bot Framework message.

Three rules hold for every card made here:

* **Text is shown as written.** Teams reads a TextBlock's text as Markdown, and the core's text
  carries what people typed (a manager's tip, the department echoed in "I have no checklist for …").
  ``literal`` escapes the Markdown that Teams acts on, and puts a zero-width space between ``]`` and
  ``(`` so that ``[click](https://…)`` is never a link with disguised text, even where a client
  ignores the backslashes.
* **One activity stays under Teams' 28 KB**, whatever the content: the card holds at most
  ``CARD_BUDGET`` bytes as sent (ASCII-escaped JSON, as msrest writes it); a longer reply loses lines
  from its end, and a note on the card says how many. The text goes out once: in the card. The
  activity's ``summary`` and the card's ``fallbackText`` are a short line for notifications and for
  clients without cards, not a second copy.
* **Question buttons say what they answer.** Each button of a question card carries the question and
  its own label in its data, so that the card can be redrawn as answered ("Answered: …", no buttons)
  from the submit alone, on any copy of the bot.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botbuilder.core import CardFactory
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams.wire import CardContent
from bot.messages import Choice, Reply, Section
from bot.plain_text import headline

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CHOICE_KEY = "coach_choice"  # the key of a button's submitted data that carries Choice.value
QUESTION_KEY = "coach_question"  # on a question card's buttons: the question, to redraw the card as answered
LABEL_KEY = "coach_label"  # on a question card's buttons: the button's own label
MAX_CARD_ACTIONS = 6  # Teams shows at most six actions in one row; more go into ActionSets in the body
MAX_BUTTONS = 30  # more than any reply of the core has; a card never grows without bound through its buttons
_HEADER_STYLE = {
    "answer": "accent",
    "question": "emphasis",
}  # everything else is neutral: a typo or an old button is no alarm

# Sizes. Teams refuses a bot message over about 28 KB; the envelope (ids, service URL, names) and the
# summary take up to ~5 KB of it, the card gets the rest, measured as msrest sends it (json.dumps, ASCII).
MAX_ACTIVITY_BYTES = 28 * 1024
CARD_BUDGET = 20_000
MAX_SUMMARY_CHARS = 160  # the notification line; 12 bytes a character at worst (an escaped emoji)
MAX_TITLE_CHARS = 300
MAX_TEXT_CHARS = 1_000  # the sentence under the title, and each line of a section
MAX_LABEL_CHARS = 100
_ELLIPSIS = "…"

# Markdown that Teams acts on in a TextBlock: emphasis, strike, code, links; and list, quote and
# heading markers at the start of a line.
_MARKDOWN = re.compile(r"([\\*~`\[\]]|(?<![^\W_])_|_(?![^\W_]))")  # "_" inside a word (New_York) is no emphasis
_LINE_MARKER = re.compile(r"^([ \t]*)([-+#](?=[ \t]|$)|>|\d{1,9}(?=[.)](?:[ \t]|$)))", re.MULTILINE)
_LINK_JOIN = "]("
_LINK_BROKEN = "]\u200b("  # a zero-width space: no Markdown reader takes "]\u200b(" for a link


# ---------------------------------------------------------------------- text


def literal(text: str) -> str:
    """``text`` as Teams Markdown that shows exactly ``text``: no link, emphasis or list from what was typed."""
    if _is_plain(text):
        return text  # most text, told in about a microsecond
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LINE_MARKER.sub(
        lambda m: f"{m.group(1)}\\{m.group(2)}" if not m.group(2).isdigit() else f"{m.group(1)}{m.group(2)}\\", text
    )
    return text.replace(_LINK_JOIN, _LINK_BROKEN)


def _is_plain(text: str) -> bool:
    """Nothing in ``text`` that Teams reads as Markdown; a line marker can only follow a line break, if any."""
    if _MARKDOWN.search(text) is not None:
        return False
    return (_LINE_MARKER.search(text) if "\n" in text else _LINE_MARKER.match(text)) is None


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + _ELLIPSIS


def summary(reply: Reply) -> str:
    """One short plain line for notifications and clients without cards: the title, then the text."""
    return shorten(headline(reply), MAX_SUMMARY_CHARS)


# ---------------------------------------------------------------------- cards


def to_card(reply: Reply) -> dict[str, Any]:
    """The Adaptive Card for ``reply``: a header (on an answer, the two types), its sections, its choices as buttons.

    Within ``CARD_BUDGET`` bytes: what does not fit is left off from the end, with a note that says so.
    """
    header = _header(reply)
    content = [part for section in reply.sections for part in _section(section)]
    buttons = [_button(reply, choice) for choice in reply.choices[:MAX_BUTTONS]]
    card = _assemble(reply, header, [element for element, _lines in content], buttons)
    if _size_bound(reply) <= CARD_BUDGET or _size(card) <= CARD_BUDGET:
        return card
    return _cap(reply, header, content, buttons)


def answered_card(question: str, label: str) -> dict[str, Any]:
    """A question card once answered: the question and the choice picked, with no buttons left to press."""
    body = [
        _container("emphasis", [_text(shorten(question, MAX_TITLE_CHARS), heading=True)]),
        {
            "type": "TextBlock",
            "text": literal(f"Answered: {shorten(label, MAX_LABEL_CHARS)}"),
            "weight": "Bolder",
            "spacing": "Small",
            "wrap": True,
        },
    ]
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": shorten(f"{question}\nAnswered: {label}", MAX_SUMMARY_CHARS),
        "body": body,
    }


def to_activity(reply: Reply) -> Activity:
    """A message activity carrying the card; ``summary`` is a short plain line for notifications.

    The text is not in ``text``: Teams shows a message's ``text`` above its card, which would print
    every reply twice.
    """
    return card_activity(to_card(reply), summary(reply))


def card_activity(card: dict[str, Any], summary_line: str) -> Activity:
    """A message activity with ``card`` as its one attachment and ``summary_line`` as its summary."""
    return Activity(
        type=ActivityTypes.message, summary=summary_line, attachments=[CardFactory.adaptive_card(CardContent(card))]
    )


def submitted_choice(value: Any) -> str | None:
    """The ``Choice.value`` in a card submit's ``value``; "" for a submit that is not one of our buttons."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get(CHOICE_KEY), str):
        return value[CHOICE_KEY]
    return ""


def answered_question(value: Any) -> tuple[str, str] | None:
    """(question, label) from a question card's submit, to redraw that card as answered; None from any other card."""
    if not isinstance(value, dict):
        return None
    question, label = value.get(QUESTION_KEY), value.get(LABEL_KEY)
    if isinstance(question, str) and isinstance(label, str) and question and label:
        return question, label
    return None


# ---------------------------------------------------------------------- Universal Actions (adaptiveCard/action)


def card_response(card: dict[str, Any]) -> dict[str, Any]:
    """The body of an ``adaptiveCard/action`` invoke response that shows ``card`` in place of the one pressed."""
    return {"statusCode": 200, "type": CARD_TYPE, "value": CardContent(card)}


def error_response(status: int, code: str, message: str) -> dict[str, Any]:
    """The body of an ``adaptiveCard/action`` invoke response that reports an error, as the contract spells it."""
    return {
        "statusCode": status,
        "type": "application/vnd.microsoft.error",
        "value": {"code": code, "message": message},
    }


# ---------------------------------------------------------------------- parts


def _assemble(
    reply: Reply, header: dict[str, Any], content: list[dict[str, Any]], buttons: list[dict[str, Any]]
) -> dict[str, Any]:
    body = [header, *content]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": summary(reply),
        "body": body,
    }
    if len(buttons) <= MAX_CARD_ACTIONS:
        if buttons:
            card["actions"] = buttons
    else:
        for start in range(0, len(buttons), MAX_CARD_ACTIONS):
            body.append({"type": "ActionSet", "actions": buttons[start : start + MAX_CARD_ACTIONS]})
    return card


def _size(value: Any) -> int:
    """Bytes as msrest sends it: ``json.dumps`` with its defaults (ASCII, ", " and ": ")."""
    return len(json.dumps(value))


def _size_bound(reply: Reply) -> int:
    """An upper bound on the card's size, from the reply alone: most cards need no exact measure.

    On the wire a printable ASCII character takes at most 4 bytes (a backslash, escaped for Markdown
    and then for JSON); any other character at most 6 per UTF-16 unit (``\\u2019``; an emoji is two
    units, ``\\ud83d\\ude00``). Each element adds its JSON frame.
    """

    def cost(text: str) -> int:
        if text.isascii() and text.isprintable():
            return 4 * len(text)
        return 3 * len(text.encode("utf-16-le"))  # 6 bytes a UTF-16 unit, 2 bytes each

    total = _CARD_FRAME + cost(reply.title) + 2 * cost(reply.text)  # the text is in the summary too
    for section in reply.sections:
        total += _TITLE_FRAME + cost(section.title) + sum(_LINE_FRAME + cost(line) for line in section.lines)
    question = reply.kind == "question"
    for choice in reply.choices[:MAX_BUTTONS]:
        total += _BUTTON_FRAME + cost(choice.label) * (2 if question else 1) + cost(choice.value)
        if question:
            total += cost(reply.title[:MAX_TITLE_CHARS])
    return total


def _cap(
    reply: Reply, header: dict[str, Any], content: list[tuple[dict[str, Any], int]], buttons: list[dict[str, Any]]
) -> dict[str, Any]:
    """The card with as much of the content as fits, in order, and a note naming what is left off.

    The header and the buttons come first. Only a pathological reply (hundreds of characters in
    each button, say) loses more: the question named in the buttons' data, then buttons from the
    end, then the header is cut shorter.
    """
    total_lines = sum(lines for _element, lines in content)
    total_buttons = len(buttons)

    def room_for(head: dict[str, Any], kept_buttons: list[dict[str, Any]]) -> int:
        note = _note(total_lines, total_lines, total_buttons, total_buttons)  # the longest the note can be
        return CARD_BUDGET - _size(_assemble(reply, head, [note], kept_buttons))

    room = room_for(header, buttons)
    if room < 0:
        buttons = [{**button, "data": {CHOICE_KEY: button["data"][CHOICE_KEY]}} for button in buttons]
        room = room_for(header, buttons)
    while room < 0 and buttons:
        buttons = buttons[:-1]
        room = room_for(header, buttons)
    if room < 0:
        header = _header(reply, title_limit=MAX_LABEL_CHARS, text_limit=2 * MAX_LABEL_CHARS)
        room = room_for(header, buttons)
    kept: list[dict[str, Any]] = []
    shown = 0
    for element, lines in content:
        cost = _size(element) + 2  # with its ", "
        if cost > room:
            break
        room -= cost
        kept.append(element)
        shown += lines
    return _assemble(
        reply,
        header,
        [*kept, _note(total_lines - shown, total_lines, total_buttons - len(buttons), total_buttons)],
        buttons,
    )


def _note(left_off: int, total: int, buttons_left_off: int = 0, buttons: int = 0) -> dict[str, Any]:
    text = f"Shortened to fit in one Teams message: {left_off} of {total} lines are not shown."
    if buttons_left_off:
        text += f" {buttons_left_off} of {buttons} buttons are left off."
    return {"type": "TextBlock", "text": text, "isSubtle": True, "size": "Small", "spacing": "Medium", "wrap": True}


def _container(style: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "Container", "style": style, "bleed": True, "items": items}


def _text(text: str, *, heading: bool = False) -> dict[str, Any]:
    if heading:
        return {
            "type": "TextBlock",
            "text": literal(text),
            "style": "heading",
            "size": "Medium",
            "weight": "Bolder",
            "wrap": True,
        }
    return {"type": "TextBlock", "text": literal(text), "wrap": True}


def _header(reply: Reply, *, title_limit: int = MAX_TITLE_CHARS, text_limit: int = MAX_TEXT_CHARS) -> dict[str, Any]:
    items: list[dict[str, Any]] = [_text(shorten(reply.title, title_limit), heading=True)]
    if reply.text:
        items.append(
            {
                "type": "TextBlock",
                "text": literal(shorten(reply.text, text_limit)),
                "isSubtle": True,
                "spacing": "Small",
                "wrap": True,
            }
        )
    return _container(_HEADER_STYLE.get(reply.kind, "default"), items)


def _section(section: Section) -> list[tuple[dict[str, Any], int]]:
    """The section's elements, each with the number of its lines (0 for the title)."""
    blocks: list[tuple[dict[str, Any], int]] = []
    if section.title:
        blocks.append(
            (
                {
                    "type": "TextBlock",
                    "text": literal(shorten(section.title, MAX_TITLE_CHARS)),
                    "weight": "Bolder",
                    "spacing": "Medium",
                    "wrap": True,
                },
                0,
            )
        )
    blocks.extend((_line(marker, line), 1) for marker, line in section.marked("•"))
    return blocks


def _line(marker: str, text: str) -> dict[str, Any]:
    """One list line as two columns, so the marker is not parsed as Markdown and wrapped lines stay indented."""
    return {
        "type": "ColumnSet",
        "spacing": "Small",
        "columns": [
            {"type": "Column", "width": "auto", "items": [{"type": "TextBlock", "text": marker, "wrap": False}]},
            {
                "type": "Column",
                "width": "stretch",
                "items": [{"type": "TextBlock", "text": literal(shorten(text, MAX_TEXT_CHARS)), "wrap": True}],
            },
        ],
    }


def _button(reply: Reply, choice: Choice) -> dict[str, Any]:
    """An Action.Submit (button titles are plain text, not Markdown); a question's buttons also name the question."""
    label = shorten(choice.label, MAX_LABEL_CHARS)
    data: dict[str, Any] = {CHOICE_KEY: choice.value}
    if reply.kind == "question":
        data[QUESTION_KEY] = shorten(reply.title, MAX_TITLE_CHARS)
        data[LABEL_KEY] = label
    return {"type": "Action.Submit", "title": label, "data": data}


# The JSON around the text of each element, measured once from the builders themselves.
_CARD_FRAME = (
    _size(_assemble(Reply(kind="answer", title="", text=""), _header(Reply(kind="answer", title="", text="x")), [], []))
    + 400
)  # and room for ActionSets
_TITLE_FRAME = _size(_section(Section(title="x"))[0][0]) + 2
_LINE_FRAME = _size(_line("999.", "")) + 2
_BUTTON_FRAME = _size(_button(Reply(kind="question", title=""), Choice(label="", value=""))) + 2
