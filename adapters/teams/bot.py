"""The Teams ``ActivityHandler``: activities in, ``Incoming`` to the Coach, its ``Reply`` objects out as cards.

Where each reply goes:

* A message gets its replies as new cards, in reply to it.
* A button pressed on a card (a message whose ``value`` is the button's data, ``replyToId`` the card's
  message) also changes that card in place, as the Slack adapter does: a question card is redrawn
  as answered (the question, the choice picked, no buttons) once the core has taken the answer (its
  reply is for everyone to see, not a private "that question is answered already"); an answer card
  is redrawn as the core redraws the answer (More, Right, Helped, a correction). The next question
  or anything else is a new card. A failed redraw costs a log line, never the reply. The question and
  label of an answered card come back in the submit, so from the client: they are only ever shown
  as text (escaped, shortened), on the card the button was on, after the core took the press.
* ``deliveryMode: expectReplies`` (the Agents Playground, Copilot, skills): the replies go back in
  the HTTP response (``adapters/teams/__init__.py``) and nothing is changed in place.
* An ``adaptiveCard/action`` invoke (Universal Actions, sent by newer Teams and Outlook clients) is
  answered as that contract says: the turn's first reply as the card that replaces the one pressed,
  or an error body; never a 5xx.

In channels and group chats the bot hears only @mentions, so what it says there says so: the
welcome, and every question card ("type your answer" holds only with the mention).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ChannelAccount, DeliveryModes

from adapters.manager_ids import teams_id
from adapters.teams.cards import (
    MAX_SUMMARY_CHARS,
    answered_card,
    answered_question,
    card_activity,
    card_response,
    error_response,
    shorten,
    submitted_choice,
    to_activity,
    to_card,
)
from bot.failures import APOLOGY as CORE_APOLOGY
from bot.failures import log_failure
from bot.messages import Incoming, Reply, Section, id_problem
from bot.ports import CoachPort
from bot.welcome import welcome_not_sent, welcome_once

_LOGGER = logging.getLogger(__name__)

PLATFORM = "teams"
TEAMS_CHANNEL = "msteams"  # the channel id of Microsoft Teams; the Emulator, Web Chat and Direct Line have their own
UNVERIFIED_SENDER = "from:"  # marks a person known only by the from.id their client chose; no AAD object id has a colon
INSTALLS = "teams-install"  # the store's conversation record (under this platform name) counting removals of the app
APOLOGY = f"{CORE_APOLOGY.title} {CORE_APOLOGY.text}"  # the core's apology, as the one line of text a failed turn gets
MAX_REMEMBERED = 10_000  # conversations whose stored reference is known to be current
APP_NAME = (
    "Frontline Coach"  # the app's short name (teams-app/manifest.json), for when an activity names the bot nowhere
)
CARD_ACTION = "adaptiveCard/action"
# The manifest's prompt starters that are commands, in the core's words; the others are situations as they stand.
PROMPT_STARTERS = {"checklist for my department": "checklist", "this week's tip": "tip"}
_AT_TAG = re.compile(r"</?at\b[^>]*>", re.IGNORECASE)


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
            text = props.get("text")
            texts.append(text if isinstance(text, str) else "")
    return texts


def without_mentions(text: str, mentions: list[str]) -> str:
    """``text`` with each mention's own text removed (the mention names the bot as the user saw it)."""
    for mention in mentions:
        if mention:
            text = text.replace(mention, " ")
    return " ".join(text.split())


def without_at_tags(text: str) -> str:
    """``<at>Name</at>`` (another person's mention) as the name alone: the core gets words, never Teams' markup."""
    return " ".join(_AT_TAG.sub("", text).split()) if "<" in text else text


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
        return teams_id(aad)  # as COACH_MANAGERS' entries are spelled (adapters/manager_ids.py)
    sender = activity.from_property
    return UNVERIFIED_SENDER + sender.id if sender and sender.id else ""


def is_bot_added(activity: Activity) -> bool:
    """The bot itself is among the members added: the app was installed in this conversation."""
    bot_id = activity.recipient.id if activity.recipient else None
    return any(member.id == bot_id for member in activity.members_added or [])


def bot_name(activity: Activity) -> str:
    """The bot's name as people here write it: from their @mention of it, else as Teams names it, else the app's."""
    for mention in bot_mentions(activity):
        name = mention.replace("<at>", "").replace("</at>", "").strip()
        if name:
            return name
    named = activity.recipient.name if activity.recipient else None
    return named.strip() if isinstance(named, str) and named.strip() else APP_NAME


def place_name(activity: Activity) -> str:
    return "channel" if activity.conversation and activity.conversation.conversation_type == "channel" else "group chat"


def expects_replies(activity: Activity) -> bool:
    """The caller takes the replies in the HTTP response (``deliveryMode: expectReplies``), not through the
    connector."""
    return activity.delivery_mode == DeliveryModes.expect_replies


def starter_text(text: str) -> str:
    """A prompt starter from the manifest in the core's words ("This week's tip" is "tip"); any other text as it is."""
    return PROMPT_STARTERS.get(text.lower().replace("\u2019", "'").rstrip(".!? "), text)


def to_incoming(activity: Activity) -> Incoming | None:
    """The core's ``Incoming`` for a message, or None when the message is not for the bot.

    A card submit carries the pressed button in ``value`` and no text; it counts wherever it comes
    from (a foreign card's submit is the choice "", which the core names as not its own). Typed
    text counts in a 1:1 chat, and in channels and group chats only when the bot is @mentioned; the
    mention is removed before the core sees the text.
    """
    choice = submitted_choice(activity.value)
    text = ""
    if choice is None:
        mentions = bot_mentions(activity)
        if is_group(activity) and not mentions:
            return None
        text = starter_text(without_at_tags(without_mentions(activity.text or "", mentions)))
    return Incoming(
        platform=PLATFORM,
        workspace=tenant_id(activity),
        conversation=activity.conversation.id,
        user=sender_id(activity),
        text=text,
        choice=choice,
    )


# ---------------------------------------------------------------------- what a reply says here


def for_place(reply: Reply, activity: Activity) -> Reply:
    """``reply`` as it must read where ``activity`` came from: in a channel or group chat, typing needs an @mention.

    A question's "type your answer" is true there only with the mention, so the question says so.
    """
    if reply.kind != "question" or not is_group(activity):
        return reply
    name = bot_name(activity)
    if "type your answer" in reply.text:
        return dataclasses.replace(
            reply, text=reply.text.replace("type your answer", f"type your answer after @{name}", 1)
        )
    return dataclasses.replace(reply, text=f"{reply.text} To type an answer here, start with @{name}.".strip())


def welcome_for_place(reply: Reply, activity: Activity) -> Reply:
    """The welcome; in a channel or group chat it first says that the bot hears only @mentions there."""
    if not is_group(activity):
        return reply
    name = bot_name(activity)
    here = Section(
        title=f"In this {place_name(activity)}",
        lines=(
            f"I only read messages that @mention me: type @{name}, then what is going on. The buttons on my cards "
            "work without a mention.",
        ),
    )
    return dataclasses.replace(reply, sections=(here, *reply.sections))


# ---------------------------------------------------------------------- the handler


class CoachBot(ActivityHandler):
    """Translates between Teams and the Coach; knows nothing about coaching.

    Args:
        coach: the platform-neutral core (``handle``, ``welcome``, ``store``, ``clock``).
    """

    coach: CoachPort

    def __init__(self, *, coach: CoachPort) -> None:
        self.coach = coach
        self._references: dict[str, str] = {}

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        await self._remember(activity)
        incoming = to_incoming(activity)
        if incoming is None:
            return
        replies = [for_place(reply, activity) for reply in await self.coach.handle(incoming)]
        if not replies:
            return
        if incoming.choice is None or not activity.reply_to_id or expects_replies(activity):
            await turn_context.send_activities([to_activity(reply) for reply in replies])
            return
        await self._after_press(turn_context, replies)

    async def _after_press(self, turn_context: TurnContext, replies: list[Reply]) -> None:
        """A button on the card ``replyToId``: that card changed in place where the turn changed it, the rest as new
        cards."""
        activity = turn_context.activity
        first = replies[0]
        question = answered_question(activity.value)
        if (
            question is None and first.kind == "answer"
        ):  # the answer card's own row: the card is redrawn as the core redrew it
            if replies[1:]:
                await turn_context.send_activities([to_activity(reply) for reply in replies[1:]])
            if not await self._redraw(turn_context, to_activity(first)):
                await turn_context.send_activity(to_activity(first))  # the redraw failed: the answer must still be seen
            return
        await turn_context.send_activities([to_activity(reply) for reply in replies])
        if question is not None and not first.private:  # the core took the answer (a refusal is private)
            title, label = question
            await self._redraw(
                turn_context,
                card_activity(answered_card(title, label), shorten(f"{title}\nAnswered: {label}", MAX_SUMMARY_CHARS)),
            )

    async def _redraw(self, turn_context: TurnContext, replacement: Activity) -> bool:
        """Replace the card the button was on; False (and a log line) when the connector refuses or fails."""
        replacement.id = turn_context.activity.reply_to_id
        try:
            await turn_context.update_activity(replacement)
        except Exception as error:  # noqa: BLE001  msrest's HttpOperationError, a transport error: the card stays as it was
            _LOGGER.warning("Teams: the card pressed could not be updated (%s)", type(error).__name__)
            return False
        return True

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext) -> None:
        if is_bot_added(turn_context.activity):
            await self._welcome(turn_context)
        # a person joined: nothing to say

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        if turn_context.activity.action == "add":  # not "add-upgrade": a new version of an app already there
            await self._remember(turn_context.activity)
            await self._welcome(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        """The app was removed here: the next install is a new one, and gets its own welcome."""
        activity = turn_context.activity
        if activity.action != "remove":  # "remove-upgrade" is half of an upgrade
            return
        conversation = activity.conversation.id
        state = await self._installs(conversation)
        if activity.id and state.get("removal") == activity.id:
            return  # the same removal delivered again
        state = {"generation": state.get("generation", 0) + 1, "removal": activity.id}
        await self.coach.store.put_conversation(INSTALLS, conversation, state, self.coach.clock())

    async def _welcome(self, turn_context: TurnContext) -> None:
        """One welcome per install in each conversation, whichever of its two events (bot added, installation) comes."""
        conversation = turn_context.activity.conversation.id
        generation = (await self._installs(conversation)).get("generation", 0)
        key = conversation if generation == 0 else f"{conversation}#{generation}"
        welcome = await welcome_once(self.coach, PLATFORM, key)
        if welcome is not None:
            try:
                await turn_context.send_activity(to_activity(welcome_for_place(welcome, turn_context.activity)))
            except BaseException:
                try:
                    await welcome_not_sent(self.coach, PLATFORM, key)
                except Exception as error:  # noqa: BLE001  the store is down too: the send's error is the one to report
                    _LOGGER.warning("Teams: a welcome not sent stays claimed (%s)", type(error).__name__)
                raise

    async def _installs(self, conversation: str) -> dict[str, Any]:
        state = await self.coach.store.get_conversation(INSTALLS, conversation)
        if isinstance(state, dict) and isinstance(state.get("generation"), int):
            return state
        return {}

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """``adaptiveCard/action`` runs the button pressed; any other invoke is acknowledged, not acted on.

        The stock handler answers 501 to an invoke it does not know, 400 to an ``Action.Submit`` sent
        this way, and fails with a 500 on a malformed value.
        """
        if turn_context.activity.name != CARD_ACTION:
            _LOGGER.debug("Teams invoke acknowledged, not acted on")
            return InvokeResponse(status=HTTPStatus.OK)
        try:
            body = await self._card_action(turn_context)
        except Exception as error:  # the core or the connector failed: say so in the contract's words, not with a 5xx
            log_failure(_LOGGER, "Teams card action", error)
            body = error_response(500, "InternalError", APOLOGY)
        return InvokeResponse(status=HTTPStatus.OK, body=body)

    async def _card_action(self, turn_context: TurnContext) -> dict[str, Any]:
        """The Universal Actions contract: the turn's first reply as the new card, further replies as messages."""
        activity = turn_context.activity
        value = activity.value
        action = value.get("action") if isinstance(value, dict) else None
        if not isinstance(action, dict):
            return error_response(400, "BadRequest", "value.action is missing or not an object")
        if action.get("type") not in ("Action.Submit", "Action.Execute"):
            return error_response(400, "NotSupported", "only Action.Submit and Action.Execute are supported")
        data = action.get("data")
        choice = submitted_choice(data if data is not None else {})
        if choice and id_problem("coach_choice", choice):
            return error_response(400, "BadRequest", "action.data.coach_choice is not a choice of this bot")
        await self._remember(activity)
        incoming = Incoming(
            platform=PLATFORM,
            workspace=tenant_id(activity),
            conversation=activity.conversation.id,
            user=sender_id(activity),
            choice=choice,
        )
        replies = [for_place(reply, activity) for reply in await self.coach.handle(incoming)]
        if not replies:
            return error_response(400, "BadRequest", "this button was pressed before")
        if replies[1:]:
            await turn_context.send_activities([to_activity(reply) for reply in replies[1:]])
        return card_response(to_card(replies[0]))

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
    log_failure(_LOGGER, f"Teams turn on a {turn_context.activity.type} activity", error)
    if turn_context.activity.type == "message":
        await turn_context.send_activity(APOLOGY)
