"""What a button sends back (``Choice.value``): written and read here only, so the two can never drift apart.

Adapters hand a value back untouched as ``Incoming.choice``; only the core reads it. Two shapes:

- ``d|<dialog>|...`` acts on one dialog: ``more``, ``<question>|<option>``, ``<question>|skip``,
  ``start-over`` and the feedback row (``right``, ``fix``, ``fix|<dimension>|<type>``, ``helped``,
  ``unhelpful``). Binding it to the dialog is what lets a button on an older card be told apart as stale.
- ``c|<command>|<argument words>`` runs a command at any time (``c|checklist|bakery``).

Anything else is another app's card, or a value nobody made.
"""

from __future__ import annotations

from dataclasses import dataclass

_DIALOG, _COMMAND, _JOIN = "d", "c", "|"

MORE = "more"
SKIP = "skip"  # the option part of a Skip button: d|<dialog>|<question>|skip
START_OVER = "start-over"  # d|<dialog>|start-over: bound to its dialog, so an old card's button clears nothing
# The feedback row under an answer: bot/report.py counts what they record.
RIGHT, FIX, HELPED, UNHELPFUL = "right", "fix", "helped", "unhelpful"


def for_dialog(dialog_id: str, *parts: str) -> str:
    """A button value bound to one dialog, so a button from an older dialog is recognised as stale."""
    return _JOIN.join((_DIALOG, dialog_id, *parts))


def for_command(*parts: str) -> str:
    """A button value that runs a command, valid at any time."""
    return _JOIN.join((_COMMAND, *parts))


@dataclass(frozen=True)
class Pressed:
    """A button value read back.

    Args:
        command: True for ``c|...`` (``target`` is the command's name), False for ``d|...`` (the dialog's id).
        target: the command or the dialog.
        rest: what follows: the command's argument words, or the action on the dialog (maybe none).
    """

    command: bool
    target: str
    rest: tuple[str, ...]


def read(value: str) -> Pressed | None:
    """The value's parts; None for a value this bot never makes."""
    kind, *parts = value.split(_JOIN)
    if kind not in (_DIALOG, _COMMAND) or not parts:
        return None
    return Pressed(command=kind == _COMMAND, target=parts[0], rest=tuple(parts[1:]))
