"""What an adapter may ask of the coach: the seam every platform translator is typed against.

Adapters hold a ``CoachPort``, not a ``Coach``, so their tests can hand them a stub with just these
members, and so the core is free to change everything behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.coach import Outbox
    from bot.knowledge import Knowledge
    from bot.messages import Incoming, Reply
    from bot.store import Store


class CoachPort(Protocol):
    """The coach as the adapters and the server's routes see it (bot.coach.Coach is the one implementation)."""

    knowledge: Knowledge  # /readyz checks it is loaded; the Slack home lists its checklists
    store: Store  # adapters claim deliveries and welcomes, and keep conversation references, here
    clock: Callable[[], float]  # Unix seconds: the time every claim and reference is stamped with

    async def handle(
        self, incoming: Incoming, *, outbox: Outbox | None = None, claims: Sequence[tuple[str, str]] = ()
    ) -> list[Reply]:
        """One turn: the replies to ``incoming`` (bot.coach.Coach.handle)."""
        ...

    def welcome(self) -> Reply: ...

    def help(self) -> Reply: ...

    def tip_of_week_reply(self) -> Reply: ...

    def checklist(self, department: str | None = None) -> Reply: ...

    async def report_for(self, incoming: Incoming, *, weeks: int = 1) -> Reply | None:
        """The managers' report for the person's team, or None when they are not a manager."""
        ...


__all__ = ["CoachPort"]
