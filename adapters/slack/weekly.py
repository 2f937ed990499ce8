"""Slack around the weekly tips: posting on the bot's own initiative, and who is in the managers' user groups.

``SlackPoster`` posts a tip with chat.postMessage (a new message in the channel, not in the thread
the subscription came from). ``ManagerGroups`` answers which of the user groups named in
COACH_MANAGERS a person is in, with usergroups.users.list (scope ``usergroups:read``), asking Slack
at most once per group every ``ttl`` seconds; the core then decides who is a manager.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from bot.messages import Reply
from bot.weekly import PostRejected

_LOGGER = logging.getLogger(__name__)

GROUP_TTL = 300.0  # seconds a group's member list is trusted
GROUP_RETRY = 30.0  # seconds before asking again after Slack refused or could not be reached


class SlackPoster:
    """The weekly tip as a new channel message.

    Args:
        client: the Web API client (with the bot token and the retry handlers).
    """

    client: AsyncWebClient

    def __init__(self, *, client: AsyncWebClient) -> None:
        self.client = client

    def channel_of(self, conversation: str) -> str:
        """``C123:1700000000.000100`` (a thread, as translate names it) belongs to ``C123``."""
        return conversation.partition(":")[0]

    async def post(self, *, channel: str, conversation: str, reply: Reply) -> None:
        try:
            await self.client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **translate.to_message(reply)
            )
        except SlackApiError as error:  # Slack answered, and said no
            data = error.response.data
            raise PostRejected(
                f"Slack: {data.get('error') if isinstance(data, dict) else error.response.status_code}"
            ) from None


class ManagerGroups:
    """Membership of the configured Slack user groups, as roles ``slack:S…`` for ``Incoming.roles``.

    Args:
        client: the Web API client.
        groups: the user group ids (S…) from COACH_MANAGERS.
        ttl: seconds a member list is kept.
        clock: monotonic seconds (tests move it).
    """

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        groups: Iterable[str],
        ttl: float = GROUP_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.groups = tuple(sorted(groups))
        self.ttl = ttl
        self.clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = asyncio.Lock()

    async def roles_for(self, user: str) -> frozenset[str]:
        roles = set()
        for group in self.groups:
            if user in await self._members_of(group):
                roles.add(f"{translate.PLATFORM}:{group}")
        return frozenset(roles)

    async def _members_of(self, group: str) -> frozenset[str]:
        now = self.clock()
        cached = self._members.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._lock:  # one request per group when many turns arrive together
            cached = self._members.get(group)
            if cached is not None and cached[0] > self.clock():
                return cached[1]
            try:
                response = await self.client.usergroups_users_list(usergroup=group)
                members, keep = frozenset(response.get("users") or ()), self.ttl
            except Exception as error:  # missing scope, unknown group, Slack down: nobody gets the role for now
                data = error.response.data if isinstance(error, SlackApiError) else None
                detail = data.get("error") if isinstance(data, dict) else type(error).__name__
                _LOGGER.warning(
                    "could not list Slack user group %s (%s); its members are not managers until it can be read",
                    group,
                    detail,
                )
                members, keep = (cached[1] if cached is not None else frozenset()), GROUP_RETRY
            self._members[group] = (self.clock() + keep, members)
            return members
