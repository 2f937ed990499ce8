"""The Teams ``ActivityHandler``: activities in, ``Incoming`` to the Coach, its ``Reply`` objects out as cards."""
from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ChannelAccount

from adapters.teams.cards import submitted_choice, to_activity
from bot.messages import Incoming

_LOGGER = logging.getLogger(__name__)

PLATFORM = "teams"
TEAMS_CHANNEL = "msteams"  # the channel id of Microsoft Teams; the Emulator, Web Chat and Direct Line have their own
UNVERIFIED_SENDER = "from:"  # marks a person known only by the from.id their client chose; no AAD object id has a colon
WELCOME_SCOPE = "teams-welcome"
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
MAX_REMEMBERED = 10_000  # conversations whose stored reference is known to be current


# ---------------------------------------------------------------------- payload predicates


def is_group(activity: Activity) -> bool:
    """A channel or a group chat, where the bot only answers when @mentioned."""
    conversation = activity.conversation
    return bool(conversation and (conversation.is_group or conversation.conversation_type in ("channel", "groupChat")))


def bot_mentions(activity: Activity) -> list[str]:
    """The texts of the mentions of this bot (``recipient.id``), e.g. ``<at>My Combined</at>``."""
    bot_id = activity.recipient.id if activity.recipient else None
    texts = []
    for entity in activity.entities or []:
        props = getattr(entity, "additional_properties", None) or {}
        mentioned = props.get("mentioned")
        if str(entity.type).lower() == "mention" and isinstance(mentioned, dict) and mentioned.get("id") == bot_id:
            texts.append(props.get("text") if isinstance(props.get("text"), str) else "")
    return texts


def without_mentions(text: str, mentions: list[str]) -> str:
    """``text`` with each mention's own text removed (the mention names the bot as the user saw it)."""
    for mention in mentions:
        if mention:
            text = text.replace(mention, " ")
    return " ".join(text.split())


def tenant_id(activity: Activity) -> str:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        return tenant["id"]
    return (activity.conversation.tenant_id if activity.conversation else None) or ""


def verified_aad_id(activity: Activity) -> str | None:
    """The sender's Entra ID (AAD) object id, where Teams itself vouches for it; else None.

    Only the Teams channel fills ``from.aadObjectId`` from the signed-in account. Elsewhere (Web Chat,
    Direct Line, the Emulator) the client writes ``from`` itself, so nothing there names a person.
    """
    sender = activity.from_property
    if activity.channel_id != TEAMS_CHANNEL or sender is None or not sender.aad_object_id:
        return None
    return sender.aad_object_id


def sender_id(activity: Activity) -> str:
    """The person's key for the core: the verified AAD object id, else the channel's ``from.id`` marked as unverified.

    COACH_MANAGERS lists AAD object ids (``teams:<object id>``), so only a verified one can be a
    manager: a ``from.id`` equal to a manager's object id reads as ``from:<that id>``, which is nobody's.
    """
    aad = verified_aad_id(activity)
    if aad:
        return aad
    sender = activity.from_property
    return UNVERIFIED_SENDER + sender.id if sender and sender.id else ""


def is_bot_added(activity: Activity) -> bool:
    """The bot itself is among the members added: the app was installed in this conversation."""
    bot_id = activity.recipient.id if activity.recipient else None
    return any(member.id == bot_id for member in activity.members_added or [])


def to_incoming(activity: Activity) -> Incoming | None:
    """The core's ``Incoming`` for a message, or None when the message is not for the bot.

    A card submit carries the pressed button in ``value`` and no text; it counts wherever it comes
    from. Typed text counts in a 1:1 chat, and in channels and group chats only when the bot is
    @mentioned; the mention is removed before the core sees the text.
    """
    choice = submitted_choice(activity.value)
    text = ""
    if choice is None:
        mentions = bot_mentions(activity)
        if is_group(activity) and not mentions:
            return None
        text = without_mentions(activity.text or "", mentions)
    return Incoming(
        platform=PLATFORM,
        workspace=tenant_id(activity),
        conversation=activity.conversation.id,
        user=sender_id(activity),
        text=text,
        choice=choice,
    )


# ---------------------------------------------------------------------- the handler


class CoachBot(ActivityHandler):
    """Translates between Teams and the Coach; knows nothing about coaching.

    Args:
        coach: the platform-neutral core (``handle``, ``welcome``, ``store``, ``clock``).
    """

    coach: Any

    def __init__(self, *, coach: Any) -> None:
        self.coach = coach
        self._references: dict[str, str] = {}

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        await self._remember(activity)
        incoming = to_incoming(activity)
        if incoming is None:
            return
        replies = await self.coach.handle(incoming)
        if replies:
            await turn_context.send_activities([to_activity(reply) for reply in replies])

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not is_bot_added(activity):
            return  # a person joined: nothing to say
        if await self.coach.store.claim(WELCOME_SCOPE, activity.conversation.id, self.coach.clock()):
            await turn_context.send_activity(to_activity(self.coach.welcome()))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """No invoke is for this bot (its buttons are Action.Submit, which arrive as messages): acknowledged, not acted on.

        The stock handler answers 501 for an invoke it does not know, and fails with a 500 on an
        ``adaptiveCard/action`` whose ``value`` is malformed.
        """
        _LOGGER.debug("Teams invoke acknowledged, not acted on")
        return InvokeResponse(status=HTTPStatus.OK)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity)
        await super().on_conversation_update_activity(turn_context)

    async def _remember(self, activity: Activity) -> None:
        """Store the conversation reference (for proactive tips) when it is new or its service URL moved."""
        conversation = activity.conversation.id
        if self._references.get(conversation) == activity.service_url:
            return
        reference = TurnContext.get_conversation_reference(activity)
        # Teams writes "tenantId", which the SDK's model (it reads "tenantID") drops; proactive posts need it.
        reference.conversation.tenant_id = tenant_id(activity) or None
        reference = reference.serialize()
        await self.coach.store.put_conversation(PLATFORM, conversation, reference, self.coach.clock())
        if len(self._references) >= MAX_REMEMBERED:
            self._references.clear()
        self._references[conversation] = activity.service_url


async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """Log what failed (type and frames, never the message, which may quote the user) and apologise."""
    frames = " < ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(traceback.extract_tb(error.__traceback__)))
    _LOGGER.error("Teams turn failed on a %s activity: %s at %s", turn_context.activity.type, type(error).__name__, frames)
    if turn_context.activity.type == "message":
        await turn_context.send_activity(APOLOGY)
