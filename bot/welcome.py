"""The welcome, said once: once per person (Slack's DM) or once per install (a Teams conversation).

Said once across every copy of the bot and every event that may bring it (Teams sends two for one
install), because the first to claim the key in the store is the only one that says it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.messages import Reply

if TYPE_CHECKING:
    from bot.ports import CoachPort


def welcome_scope(platform: str) -> str:
    """The store's claim scope of ``platform``'s welcomes ("slack-welcome", "teams-welcome")."""
    return f"{platform}-welcome"


async def welcome_once(coach: CoachPort, platform: str, key: str) -> Reply | None:
    """The coach's welcome the first time ``key`` (a person, an install: the adapter says which) is seen; None after.

    An adapter that sends it in the turn calls ``welcome_not_sent`` when the send fails: the claim alone must not
    stand for a welcome nobody got.
    """
    if await coach.store.claim(welcome_scope(platform), key, coach.clock()):
        return coach.welcome()
    return None


async def welcome_not_sent(coach: CoachPort, platform: str, key: str) -> None:
    """Give back the claim of a welcome whose send failed, so that a later event for ``key`` says it (Teams may deliver
    one again; its two events for one install mostly arrive together, and the second has then lost the claim
    already)."""
    await coach.store.release(welcome_scope(platform), key)
