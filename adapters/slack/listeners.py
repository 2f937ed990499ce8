"""The Bolt app: listeners that store each turn, with what it must send, before Slack gets its answer.

Bolt runs with ``process_before_response=True``: Slack's HTTP answer (the ack) waits until the
listener returns, and the listener returns once the turn is stored, with its replies in the outbox
and the delivery's claim, in one transaction (bot/store). The replies are then posted in the
background (adapters/outbox.py), so a slow Web API never holds the ack, and a copy killed after the
ack leaves its replies for any other copy to send. What the store could not keep is never acked for
an event (Slack delivers it again), and is answered directly for a command or a button.

Nothing else may escape a listener: whatever fails in the turn is a log line and an apology
(``_safely``), never a withdrawn ack.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from adapters.manager_ids import slack_group_ids
from adapters.outbox import Deliverer
from adapters.slack import delivery, translate
from adapters.slack.weekly import ManagerGroups
from bot.errors import AlreadyClaimed, StoreUnavailable
from bot.failures import APOLOGY, STORE_APOLOGY, apologise, log_failure
from bot.messages import Incoming, Reply
from bot.ports import CoachPort
from bot.welcome import welcome_scope

_LOGGER = logging.getLogger(__name__)

EVENT_SCOPE = (
    "slack-event"  # the scope the server purges (adapters/server.py); message keys share it so they expire too
)
EVENT_KEEP = 24 * 3600.0  # seconds a claim in EVENT_SCOPE is kept: Slack retries within minutes, so a day is plenty
RATE_LIMIT_RETRIES = 3
WAIT_IN_CALL = 3.0  # seconds of Retry-After waited out inside a Web API call; a longer wait is the outbox's
WEEKLY_WAIT_IN_CALL = 60.0  # the weekly tip posts: a rate limit met there is waited out, not a channel put off
CONNECTION_RETRIES = 2
# slack_sdk's webhook client logs each retry with its URL at INFO unless its logger is above DEBUG, and a
# response_url is a credential for 30 minutes: its own logger, at WARNING, keeps the URL out of the log.
_WEBHOOK_LOGGER = logging.getLogger(f"{__name__}.response_url")
_WEBHOOK_LOGGER.setLevel(logging.WARNING)
PROMPTS_SECONDS = 2.0  # the longest the suggested prompts may hold the ack of app_home_opened (Slack waits 3 s)
COMMAND_KEY = "cmd:"  # claims of slash commands share EVENT_SCOPE, so the server purges them with the events
# Failures of the network or of the far side, not of this code: a warning line, no traceback.
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def command_replay_key(command: Mapping[str, Any], request: AsyncBoltRequest) -> str | None:
    """What makes a slash command the same command again: its trigger_id and what it says, else its signature.

    Slack never sends a command twice (it does not retry them) and gives each invocation its own
    trigger_id, so a second request with the same trigger_id is a replay of a captured one, still
    inside the five minutes its signature is valid. The signature covers the body, so a replay says
    exactly the same: the key holds a digest of the fields too, and two requests that share a
    trigger_id but say different things (recorded fixtures do) are two commands, not a replay.
    None in Socket Mode without a trigger_id: nothing to tell replays by there, and nobody can inject.
    """
    trigger = command.get("trigger_id")
    if trigger:
        said = json.dumps(command, sort_keys=True, ensure_ascii=True, default=str).encode()
        return f"{COMMAND_KEY}{trigger}:{hashlib.sha256(said).hexdigest()[:32]}"
    signature = request.headers.get("x-slack-signature", [""])[0]
    return f"{COMMAND_KEY}sig:{signature}" if signature else None


class ShortRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's rate-limit handler, waiting inside the call only for a Retry-After of ``wait_in_call`` seconds or
    less. A longer one reaches the caller: the outbox holds each send to its lease, so a long sleep would be cut short
    and the item retried before Slack's window had passed; it waits the Retry-After out between tries instead.

    Only a whole number of seconds is waited out here (slack_sdk reads the header with ``int``); any other value
    reaches the caller too, and the outbox reads it (``delivery.retry_after``).
    """

    def __init__(self, *, max_retry_count: int, wait_in_call: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.wait_in_call = wait_in_call

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        value = delivery.retry_after_header(response.headers)
        if value is None:
            return True  # slack_sdk then waits a second or two
        return value.isdigit() and int(value) <= self.wait_in_call


def retry_handlers(*, wait_in_call: float = WAIT_IN_CALL) -> list[AsyncRetryHandler]:
    """slack_sdk's own handlers: wait out short 429s (Retry-After) and retry dropped connections. The weekly tip
    poster, which no lease hurries, waits longer (``WEEKLY_WAIT_IN_CALL``)."""
    return [
        ShortRateLimitRetryHandler(max_retry_count=RATE_LIMIT_RETRIES, wait_in_call=wait_in_call),
        AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
    ]


_CLAIMED_WITH_THE_TURN = frozenset({"message", "app_mention"})


class DropRetries(AsyncMiddleware):
    """Global middleware on the ack path: an event already claimed (a retry, X-Slack-Retry-Num) is acked, nothing more.

    A class rather than a function middleware: Bolt then skips building keyword arguments for it,
    which is a measurable share of the ack path.

    Args:
        coach: its ``store`` holds the claims and its ``clock`` dates them.
    """

    coach: CoachPort

    def __init__(self, *, coach: CoachPort) -> None:
        self.coach = coach

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:  # noqa: A002
        event_id = req.body.get("event_id")
        event = req.body.get("event")
        if isinstance(event, dict) and event.get("type") in _CLAIMED_WITH_THE_TURN:
            return await next()  # its claim is made in the turn's own transaction (SlackTurns._converse)
        if event_id and not await self.coach.store.claim(EVENT_SCOPE, str(event_id), self.coach.clock()):
            _LOGGER.info(
                "event %s seen before (retry %s): acknowledged, not processed again",
                event_id,
                req.headers.get("x-slack-retry-num", ["-"])[0],
            )
            return BoltResponse(status=200, body="")
        return await next()


class SlackTurns:
    """Bolt listeners around one Coach. Each turns a Slack request into ``Incoming`` and posts the replies.

    Args:
        coach: the Coach; its ``store`` de-duplicates events and welcomes.
        client: the Web API client (with retry handlers) used for every post.
    """

    coach: CoachPort
    client: AsyncWebClient

    def __init__(self, *, coach: CoachPort, client: AsyncWebClient, deliverer: Deliverer | None = None) -> None:
        self.coach = coach
        self.client = client
        self.deliverer = deliverer or slack_deliverer(coach, client)
        managers = getattr(getattr(coach, "tips", None), "managers", None)
        # The managers' user groups from COACH_MANAGERS, looked up so that the core can check roles.
        groups = slack_group_ids(managers.ids(translate.PLATFORM)) if managers is not None else set()
        self.manager_groups = ManagerGroups(client=client, groups=groups) if groups else None

    # ----------------------------------------------------------- events (Bolt acks them once the listener returns)

    async def on_message(self, event: dict, body: dict, context: AsyncBoltContext) -> None:
        """Direct messages only: in channels the bot answers mentions, which come as ``app_mention``."""
        if translate.is_direct_message(event) and translate.is_human_message(event):
            await self._safely("message", self._converse(event, body.get("event_id"), context))

    async def on_mention(self, event: dict, body: dict, context: AsyncBoltContext) -> None:
        if translate.is_human_message(event):
            await self._safely("app_mention", self._converse(event, body.get("event_id"), context))

    async def _converse(self, event: Mapping[str, Any], event_id: Any, context: AsyncBoltContext) -> None:
        team = context.team_id or ""
        channel = event.get("channel")
        if not channel:
            return
        incoming = translate.event_to_incoming(event, team=team, bot_user_id=context.bot_user_id)
        thread_ts = translate.reply_thread(event)
        # A mention can arrive twice, as app_mention and as message: the message itself is claimed, with
        # the event id (a retry of this very delivery), in the turn's own transaction.
        claims = [(EVENT_SCOPE, f"msg:{team}:{channel}:{event.get('ts')}")]
        if event_id:
            claims.append((EVENT_SCOPE, str(event_id)))
        await self._run(
            incoming,
            lambda replies: delivery.for_conversation(
                replies, channel=channel, user=incoming.user, thread_ts=thread_ts
            ),
            claims,
            event=True,
        )

    async def on_home_opened(self, event: dict, context: AsyncBoltContext) -> None:
        await self._safely("app_home_opened", self._home_opened(event, context))

    async def _home_opened(self, event: Mapping[str, Any], context: AsyncBoltContext) -> None:
        """Home tab: publish tip, usage and checklists. Messages tab: a welcome, once per person ever, and the
        suggested prompts."""
        user = event.get("user")
        if not user:
            return
        if event.get("tab") == "home":
            parts = list(translate.home_parts(self.coach))
            report_for = getattr(self.coach, "report_for", None)
            if report_for is not None:  # a manager's home shows the team's week first
                person = Incoming(
                    platform=translate.PLATFORM, workspace=context.team_id or "", conversation="home", user=user
                )
                if self.manager_groups is not None:
                    person = replace(person, roles=await self.manager_groups.roles_for(user))
                report = await report_for(person)
                parts[:0] = [report] if report is not None else []
            await self.client.views_publish(user_id=user, view=translate.home_view(parts))
            return
        team, channel = context.team_id or "", event.get("channel")
        if not channel:
            return
        try:
            await self._welcome(team, user, channel)
        finally:
            await self._suggest_prompts(channel)

    async def _welcome(self, team: str, user: str, channel: str) -> None:
        """The welcome, once per person ever. It is claimed in the transaction that queues it in the outbox, so a
        copy that dies between the two, or a Slack that refuses the post, does not cost it: the outbox sends it
        later, on any copy. Sent before returning, so that it comes before the DM's prompts."""
        items = self.deliverer.items(
            delivery.for_conversation([self.coach.welcome()], channel=channel, user=user, thread_ts=None)
        )
        try:
            await self.coach.store.put_outbox(
                items, self.coach.clock(), claims=[(welcome_scope(translate.PLATFORM), f"{team}:{user}")]
            )
        except AlreadyClaimed as seen:  # welcomed before, by this copy or another
            meter = getattr(self.coach, "meter", None)
            if meter is not None:
                meter.dedupe_hits.labels(seen.scope).inc()
            return
        await self.deliverer.deliver_now(items)

    async def _suggest_prompts(self, channel: str) -> None:
        """The one-tap starters above the DM's composer, set each time the DM is opened, after any welcome.

        Slack's agent messaging experience (``agent_view`` in the manifest) tells an app that its DM was
        opened with ``app_home_opened`` on the messages tab, and takes the prompts for the whole DM: no
        ``thread_ts``, which would make the call fail silently. They are a convenience, so whatever goes
        wrong (no ``assistant:write`` scope on an app made from an older manifest, Slack slow or away) is
        one warning line, bounded in time, and the welcome and the DM work as before.
        """
        try:
            await asyncio.wait_for(
                self.client.assistant_threads_setSuggestedPrompts(
                    channel_id=channel, title=translate.SUGGESTED_PROMPTS_TITLE, prompts=translate.suggested_prompts()
                ),
                PROMPTS_SECONDS,
            )
        except SlackApiError as error:
            data = error.response.data
            _LOGGER.warning(
                "suggested prompts not set: Slack refused assistant.threads.setSuggestedPrompts (%s)",
                data.get("error") if isinstance(data, dict) else error.response.status_code,
            )
        except Exception as error:  # noqa: BLE001  a convenience: nothing about it may cost the welcome or the ack
            _LOGGER.warning(
                "suggested prompts not set: assistant.threads.setSuggestedPrompts failed (%s)", type(error).__name__
            )

    # ----------------------------------------------------- commands and buttons (acked once the turn is stored)

    async def on_command(self, ack: AsyncAck, command: dict, request: AsyncBoltRequest) -> None:
        """``/coach``, ``/checklist``, ``/tip``: replies only the caller sees, through the command's response_url.

        Every command is claimed by ``command_replay_key`` before it runs: ``tip add`` and the other
        manager words change the store outside any dialog, so the claim must come first, and a captured
        request replayed within Slack's five minutes is acked and does nothing more. (Slack never
        retries a command, so a copy dying right after the claim loses nothing Slack would resend.)
        """
        replay_key = command_replay_key(command, request)
        response_url = command.get("response_url")
        place = lambda replies: delivery.for_command(replies, response_url=response_url)  # noqa: E731
        try:
            first = replay_key is None or await self.coach.store.claim(EVENT_SCOPE, replay_key, self.coach.clock())
        except Exception as error:  # the store is down: say so, as a turn would, rather than act without the claim
            unavailable = isinstance(error, StoreUnavailable)
            (_LOGGER.warning if unavailable else _LOGGER.error)(
                "could not claim slash command %s (%s); answered with an apology",
                command.get("command"),
                type(error).__name__,
            )
            if (meter := getattr(self.coach, "meter", None)) is not None:
                meter.error(translate.PLATFORM, error)
            self.deliverer.send_unstored(place([STORE_APOLOGY if unavailable else APOLOGY]))
            await ack()
            return
        if first:
            await self._safely("slash command", self._run(translate.command_to_incoming(command), place, []))
        elif replay_key is not None:
            _LOGGER.info(
                "slash command %s seen before (same trigger_id): acknowledged, not run again", command.get("command")
            )
        await ack()

    async def on_choice(self, ack: AsyncAck, body: dict, action: dict) -> None:
        """A button: the first reply replaces the message it was on; private or further replies go beside it."""
        incoming = translate.action_to_incoming(body, action)
        await self._safely(
            "button", self._run(incoming, lambda replies: delivery.for_choice(replies, body, user=incoming.user), [])
        )
        await ack()

    @staticmethod
    async def ack_only(ack: AsyncAck) -> None:
        """Anything else Slack sends is acknowledged, so it is neither retried nor logged as unhandled."""
        await ack()

    async def _run(
        self,
        incoming: Incoming,
        place: Callable[[Sequence[Reply]], list[dict[str, Any]]],
        claims: list[tuple[str, str]],
        *,
        event: bool = False,
    ) -> None:
        """One turn, stored with where its replies go and its claims, then delivered in the background.

        A delivery seen before gets nothing. If the store could not keep the turn, an event raises
        (Bolt answers 500 and Slack delivers it again later); a command or a button, which Slack does
        not deliver again, gets its apology directly.
        """
        made: list[dict[str, Any]] = []

        def outbox(replies: list[Reply]) -> list[dict[str, Any]]:
            made[:] = self.deliverer.items(place(replies))
            return made

        try:
            if self.manager_groups is not None:
                incoming = replace(incoming, roles=incoming.roles | await self.manager_groups.roles_for(incoming.user))
            replies = await self.coach.handle(incoming, outbox=outbox, claims=claims)
        except Exception as error:
            self.deliverer.send_unstored(place([apologise(_LOGGER, "coach turn", error)]))
            return
        if not replies:
            return  # a delivery seen before: nothing was stored, nothing is sent
        if replies == [STORE_APOLOGY]:
            if event:
                raise StoreUnavailable("the turn could not be stored: not acknowledged, Slack delivers it again")
            self.deliverer.send_unstored(place(replies))
            return
        self.deliverer.deliver_soon(made)

    @staticmethod
    async def _safely(what: str, work: Awaitable[None]) -> None:
        """Run what a listener does after its ack; nothing escapes to Bolt (see the module's docstring).

        Slack refusing a call, or not answering, is a warning line; anything else is this code's fault
        and is logged with its frames, but without its message, which may quote what someone typed.
        """
        try:
            await work
        except StoreUnavailable:
            raise  # an event the store could not keep: Bolt answers 500, and Slack delivers it again later
        except SlackApiError as error:
            data = error.response.data
            _LOGGER.warning(
                "%s: Slack refused a Web API call (%s)",
                what,
                data.get("error") if isinstance(data, dict) else error.response.status_code,
            )
        except _TRANSPORT_ERRORS as error:
            _LOGGER.warning("%s: Slack could not be reached (%s)", what, type(error).__name__)
        except Exception as error:
            log_failure(_LOGGER, what, error)


def slack_deliverer(coach: CoachPort, client: AsyncWebClient) -> Deliverer:
    """The outbox deliverer for Slack payloads, on the bot's Web API client; ``start`` it with the server."""
    meter = getattr(coach, "meter", None)
    return Deliverer(
        store=coach.store,
        platform=translate.PLATFORM,
        send=delivery.Sender(client, retry_handlers(), logger=_WEBHOOK_LOGGER),
        clock=coach.clock,
        track=meter.track if meter is not None else None,
    )


def build_bolt_app(
    *, coach: CoachPort, client: AsyncWebClient, signing_secret: str, deliverer: Deliverer | None = None
) -> AsyncApp:
    """The AsyncApp with the de-duplication middleware and every listener; the catch-alls come last."""
    turns = SlackTurns(coach=coach, client=client, deliverer=deliverer)
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        name="frontline-coach",
        # Built-in middleware for AI-assistant threads and workflow custom functions, which this app does
        # not use: left out, they cost about a tenth of the ack path.
        attaching_conversation_kwargs_enabled=False,
        attaching_function_token_enabled=False,
    )
    app.use(DropRetries(coach=coach))
    app.event("message")(turns.on_message)
    app.event("app_mention")(turns.on_mention)
    app.event("app_home_opened")(turns.on_home_opened)
    app.command(re.compile(r"^/"))(turns.on_command)
    app.action(translate.CHOICE_ACTION)(turns.on_choice)
    anything = re.compile(".*")
    app.event(anything)(turns.ack_only)
    app.action(anything)(turns.ack_only)
    app.view(anything)(turns.ack_only)
    app.shortcut(anything)(turns.ack_only)
    app.options(anything)(turns.ack_only)
    return app


__all__: Sequence[str] = ("DropRetries", "SlackTurns", "build_bolt_app", "retry_handlers")
