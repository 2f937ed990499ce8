"""Teams around the weekly tips: a new post in a channel on the bot's own initiative.

The bot stores a conversation reference for every conversation it hears from (adapters/teams/bot.py).
A weekly post continues that conversation with ``CloudAdapter.continue_conversation`` (the bot's app
id; an empty one in open mode), as a new message: in a channel, the thread part of the conversation
id (``;messageid=…``) and the activity to reply to are dropped, so the tip starts its own thread.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference
from botframework.connector.auth import ServiceClientCredentialsFactory
from msrest.exceptions import HttpOperationError

from adapters.teams import TeamsConfig, build_authentication
from adapters.teams.bot import PLATFORM
from adapters.teams.cards import to_activity
from bot.messages import Reply
from bot.store import Store
from bot.weekly import PostRejected

_LOGGER = logging.getLogger(__name__)

THREAD_MARK = ";messageid="


class TeamsPoster:
    """The weekly tip as a card, through the Bot Framework connector.

    Args:
        config: the Teams settings (the app id to post as).
        store: where the conversation references are.
        credentials_factory: for tests only, as in ``mount_teams``.
    """

    def __init__(
        self, *, config: TeamsConfig, store: Store, credentials_factory: ServiceClientCredentialsFactory | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.authentication = build_authentication(config, credentials_factory=credentials_factory)
        self.adapter = CloudAdapter(self.authentication)  # no on_turn_error: a failed send reaches post()

    def channel_of(self, conversation: str) -> str:
        """``19:…@thread.skype;messageid=1571537152320`` (a channel thread) belongs to ``19:…@thread.skype``."""
        return conversation.split(THREAD_MARK, 1)[0]

    async def post(self, *, channel: str, conversation: str, reply: Reply) -> None:
        stored = await self.store.get_conversation(PLATFORM, conversation) or await self.store.get_conversation(
            PLATFORM, channel
        )
        if stored is None:
            raise PostRejected("Teams: no conversation reference stored for this channel")
        reference = ConversationReference().deserialize(stored)
        reference.conversation.id = channel
        reference.activity_id = None  # a new post, not a reply in the thread the subscription came from

        async def send(turn_context: TurnContext) -> None:
            # TurnContext.send_activity would address it as a reply to the continuation event; a weekly tip is a new
            # post.
            activity = TurnContext.apply_conversation_reference(
                to_activity(reply), TurnContext.get_conversation_reference(turn_context.activity)
            )
            activity.reply_to_id = None
            await turn_context.adapter.send_activities(turn_context, [activity])

        try:
            await self.adapter.continue_conversation(reference, send, self.config.app_id)
        except HttpOperationError as error:  # the connector answered, and said no
            response = error.response
            status = getattr(response, "status_code", None) or getattr(response, "status", None)
            raise PostRejected(f"Teams: connector answered {status}") from None

    async def close(self) -> None:
        await self.authentication.close()
