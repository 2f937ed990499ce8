"""Terminal chat with the Coach: choices shown as numbered options; piped input is one message per line."""
from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TextIO

from bot.coach import Coach
from bot.messages import Choice, Incoming, Reply

_QUIT = {"quit", "exit", "bye", ":q"}


def render(reply: Reply) -> str:
    """The reply as terminal text, with its choices numbered from 1."""
    lines = [reply.as_text().split("\nOptions: ")[0]]
    for number, choice in enumerate(reply.choices, start=1):
        lines.append(f"  [{number}] {choice.label}")
    return "\n".join(lines)


def to_incoming(line: str, choices: list[Choice], *, user: str) -> Incoming:
    """A bare number picks that option of the last reply; anything else is text."""
    text = line.strip()
    choice = choices[int(text) - 1].value if text.isdigit() and 1 <= int(text) <= len(choices) else None
    return Incoming(platform="console", workspace="local", conversation="terminal", user=user, text="" if choice else text, choice=choice)


async def run_console(coach: Coach, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Chat until end of input or "quit". Interactive when stdin is a terminal, scriptable when piped."""
    interactive = stdin.isatty()
    user = _user()
    choices: list[Choice] = []
    if interactive:
        print(render(coach.welcome()), "\n(type “quit” to leave)\n", file=stdout)
    while True:
        if interactive:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except (EOFError, KeyboardInterrupt):
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
            print(("coach> " if interactive else "") + render(reply), file=stdout)
            print(file=stdout)
        with_choices = [r for r in replies if r.choices]
        choices = list(with_choices[-1].choices) if with_choices else []
        stdout.flush()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database in some containers; any stable name will do
        return "console-user"
