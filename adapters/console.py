"""Terminal chat with the Coach: choices shown as numbered options; piped input is one message per line.

Leave with "quit", Ctrl-D or Ctrl-C. Replies wrap to the terminal's width, so the headline is
still on screen when the agent gets to the lines to say.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import sys
import textwrap
import threading
from typing import TextIO

from bot.coach import Coach
from bot.messages import Choice, Incoming, Reply
from bot.plain_text import body_lines

_QUIT = {"quit", "exit", "bye", ":q"}


def render(reply: Reply, *, width: int | None = None) -> str:
    """The reply as terminal text, with its choices numbered from 1, each line wrapped to ``width``
    with its continuation indented under its own text."""
    lines = "\n".join(body_lines(reply)).split("\n")
    lines += [f"  [{number}] {choice.label}" for number, choice in enumerate(reply.choices, start=1)]
    if width is None:
        return "\n".join(lines)
    return "\n".join(_wrap(line, width) for line in lines)


def _wrap(line: str, width: int) -> str:
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    marker = body.split(" ", 1)[0] if body[:1] in "-[" or body.split(" ", 1)[0].rstrip(".").isdigit() else ""
    hang = indent + " " * (len(marker) + 1 if marker else 0)
    return (
        textwrap.fill(body, width=max(width, 20), initial_indent=indent, subsequent_indent=hang, break_on_hyphens=False)
        or line
    )


def to_incoming(line: str, choices: list[Choice], *, user: str) -> Incoming:
    """A bare number picks that option of the last reply; anything else is text."""
    text = line.strip()
    choice = choices[int(text) - 1].value if text.isdigit() and 1 <= int(text) <= len(choices) else None
    return Incoming(
        platform="console",
        workspace="local",
        conversation="terminal",
        user=user,
        text="" if choice else text,
        choice=choice,
    )


async def run_console(coach: Coach, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Chat until end of input or "quit". Interactive when stdin is a terminal, scriptable when piped."""
    interactive = stdin.isatty()
    width = min(shutil.get_terminal_size().columns, 100) if interactive else None
    user = _user()
    choices: list[Choice] = []
    if interactive:
        print(
            render(coach.welcome(), width=width), "\n(type “quit”, or press Ctrl-D or Ctrl-C, to leave)\n", file=stdout
        )
    while True:
        if interactive:
            line = await _prompt("you> ")
            if line is None:
                print(file=stdout)
                return
        else:
            line = stdin.readline()
            if not line:
                return
        if line.strip().lower() in _QUIT:
            return
        if not interactive and not line.strip():
            continue
        replies = await coach.handle(to_incoming(line, choices, user=user))
        for reply in replies:
            print(("coach> " if interactive else "") + render(reply, width=width), file=stdout)
            print(file=stdout)
        with_choices = [r for r in replies if r.choices]
        choices = list(with_choices[-1].choices) if with_choices else []
        stdout.flush()


async def _prompt(prompt: str) -> str | None:
    """One line from the terminal, or None at Ctrl-D or Ctrl-C.

    ``input`` runs in a daemon thread of its own, not the loop's executor: on Ctrl-C the loop cancels
    this wait, and a blocked executor thread would keep the process from exiting until Enter.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        try:
            line: str | None = input(prompt)
        except (EOFError, KeyboardInterrupt):
            line = None

        def settle() -> None:
            if not answer.done():
                answer.set_result(line)

        loop.call_soon_threadsafe(settle)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    try:
        return await answer
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels the chat; leave as Ctrl-D does
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database in some containers; any stable name will do
        return "console-user"
