"""Renders a core ``Reply`` as an Adaptive Card (schema 1.5) and wraps it in a Bot Framework message."""
from __future__ import annotations

from typing import Any

from botbuilder.core import CardFactory
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams.wire import CardContent
from bot.messages import Choice, Reply, Section

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CHOICE_KEY = "coach_choice"  # the key of a button's submitted data that carries Choice.value
MAX_CARD_ACTIONS = 6  # Teams shows at most six actions in one row; more go into ActionSets in the body
_HEADER_STYLE = {"answer": "accent", "question": "emphasis", "error": "attention"}


def to_card(reply: Reply) -> dict[str, Any]:
    """The Adaptive Card for ``reply``: a header (on an answer, the two types), its sections, its choices as buttons."""
    body: list[dict[str, Any]] = [_header(reply)]
    for section in reply.sections:
        body.extend(_section(section))
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": reply.as_text(),
        "body": body,
    }
    buttons = [_button(choice) for choice in reply.choices]
    if len(buttons) <= MAX_CARD_ACTIONS:
        if buttons:
            card["actions"] = buttons
    else:
        for start in range(0, len(buttons), MAX_CARD_ACTIONS):
            body.append({"type": "ActionSet", "actions": buttons[start : start + MAX_CARD_ACTIONS]})
    return card


def to_activity(reply: Reply) -> Activity:
    """A message activity carrying the card; ``summary`` is the plain-text fallback for clients without cards.

    The text goes in ``summary`` (and the card's ``fallbackText``) rather than in ``text``, because
    Teams shows a message's ``text`` above its card, which would print every reply twice.
    """
    return Activity(
        type=ActivityTypes.message,
        summary=reply.as_text(),
        attachments=[CardFactory.adaptive_card(CardContent(to_card(reply)))],
    )


def submitted_choice(value: Any) -> str | None:
    """The ``Choice.value`` in a card submit's ``value``; "" for a submit that is not one of our buttons."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get(CHOICE_KEY), str):
        return value[CHOICE_KEY]
    return ""


def _header(reply: Reply) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"type": "TextBlock", "text": reply.title, "style": "heading", "size": "Medium", "weight": "Bolder", "wrap": True}]
    if reply.text:
        items.append({"type": "TextBlock", "text": reply.text, "isSubtle": True, "spacing": "Small", "wrap": True})
    return {"type": "Container", "style": _HEADER_STYLE.get(reply.kind, "default"), "bleed": True, "items": items}


def _section(section: Section) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if section.title:
        blocks.append({"type": "TextBlock", "text": section.title, "weight": "Bolder", "spacing": "Medium", "wrap": True})
    for number, line in enumerate(section.lines, start=1):
        blocks.append(_line(f"{number}." if section.numbered else "•", line))
    return blocks


def _line(marker: str, text: str) -> dict[str, Any]:
    """One list line as two columns, so the marker is not parsed as Markdown and wrapped lines stay indented."""
    return {
        "type": "ColumnSet",
        "spacing": "Small",
        "columns": [
            {"type": "Column", "width": "auto", "items": [{"type": "TextBlock", "text": marker, "wrap": False}]},
            {"type": "Column", "width": "stretch", "items": [{"type": "TextBlock", "text": text, "wrap": True}]},
        ],
    }


def _button(choice: Choice) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": choice.label, "data": {CHOICE_KEY: choice.value}}
