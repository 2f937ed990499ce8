"""A reply as plain text: the console shows it, and every platform's fallback and notification text is cut from it.

One rendering, so that what a person sees without cards (a terminal, a notification, a client that
cannot draw Block Kit or an Adaptive Card) says the same thing everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.messages import Reply

BULLET = "-"


def headline(reply: Reply) -> str:
    """The title, then the sentence under it: the one short line for notifications."""
    return "\n".join(part for part in (reply.title, reply.text) if part)


def body_lines(reply: Reply) -> list[str]:
    """Everything but the choices, a line each: title, text, then each section's title and its marked lines."""
    lines = [reply.title] if reply.title else []
    if reply.text:
        lines.append(reply.text)
    for section in reply.sections:
        lines.append(f"{section.title}:" if section.title else "")
        lines.extend(f"  {marker} {line}" for marker, line in section.marked(BULLET))
    return lines


def plain_text(reply: Reply) -> str:
    """The whole reply, its choices named on a last "Options:" line."""
    lines = body_lines(reply)
    if reply.choices:
        lines.append("Options: " + " | ".join(choice.label for choice in reply.choices))
    return "\n".join(lines)
