"""Where each reply of a Slack turn goes, as plain payloads the outbox can keep, and how one is sent.

Why payloads: the turn and what it must send are stored together before Slack gets its 200
(adapters/outbox.py), so "where" has to be data, not a call in flight. Each payload is one Web API
call or one response_url post; ``send`` makes it and tells a refusal worth retrying from a hopeless one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.outbox import Permanent, RetryLater
from adapters.slack import translate
from bot.messages import Reply

RESPONSE_URL_SECONDS = 7.0  # one response_url post, inside the outbox lease's 8 s; the outbox retries a timeout later
# Web API errors that no retry will mend: the place is gone, the app is out of it, or the message is refused as made.
_HOPELESS = frozenset(
    "channel_not_found not_in_channel is_archived invalid_auth account_inactive token_revoked not_authed "
    "msg_too_long invalid_blocks invalid_blocks_format message_not_found cant_update_message user_not_found "
    "user_not_in_channel missing_scope no_permission restricted_action invalid_arguments".split()
)


def for_conversation(
    replies: Sequence[Reply], *, channel: str, user: str, thread_ts: str | None
) -> list[dict[str, Any]]:
    """A DM or a mention: each reply posted in order; a private one only to the person, where others could see it."""
    return [_post(reply, channel=channel, user=user, thread_ts=thread_ts) for reply in replies]


def for_command(replies: Sequence[Reply], *, response_url: str | None) -> list[dict[str, Any]]:
    """A slash command: replies only the caller sees, through the command's response_url."""
    if not response_url:
        return []
    return [
        {"kind": "respond", "url": response_url, "body": {**translate.to_message(r), "response_type": "ephemeral"}}
        for r in replies
    ]


def for_choice(replies: Sequence[Reply], body: Mapping[str, Any], *, user: str) -> list[dict[str, Any]]:
    """A button: the first reply replaces the message it was on; private or further replies go beside it."""
    channel, message_ts, thread_ts, ephemeral = translate.action_place(body)
    response_url = body.get("response_url")
    payloads = []
    for index, reply in enumerate(replies):
        if ephemeral and response_url:
            message = {**translate.to_message(reply), "replace_original": index == 0, "response_type": "ephemeral"}
            payloads.append({"kind": "respond", "url": response_url, "body": message})
        elif channel and message_ts and index == 0 and not reply.private:
            # The message replaced stays where it is, so it keeps saying how to type there (a channel thread).
            message = translate.to_message(reply, hint=translate.typing_hint(reply, channel))
            payloads.append({"kind": "update", "args": {"channel": channel, "ts": message_ts, **message}})
        else:
            payloads.append(_post(reply, channel=channel or user, user=user, thread_ts=thread_ts))
    return payloads


def _post(reply: Reply, *, channel: str, user: str, thread_ts: str | None) -> dict[str, Any]:
    message = translate.to_message(reply, hint=translate.typing_hint(reply, channel))
    if reply.private and not translate.is_direct_channel(channel):
        return {"kind": "ephemeral", "args": {"channel": channel, "user": user, "thread_ts": thread_ts, **message}}
    return {"kind": "post", "args": {"channel": channel, "thread_ts": thread_ts, **message}}


class Sender:
    """Sends one payload through the bot's Web API client (with slack_sdk's retry handlers) or a response_url."""

    def __init__(self, client: AsyncWebClient, retry_handlers: list[Any], *, logger: logging.Logger) -> None:
        """``logger`` for slack_sdk's webhook client: a response_url is a credential for 30 minutes, and that
        client logs the URL of each retry at INFO, so its logger must sit above that level."""
        self.client = client
        self.retry_handlers = retry_handlers
        self.logger = logger

    async def __call__(self, payload: dict[str, Any]) -> None:
        kind = payload.get("kind")
        try:
            if kind == "post":
                await self.client.chat_postMessage(**payload["args"])
            elif kind == "ephemeral":
                await self.client.chat_postEphemeral(**payload["args"])
            elif kind == "update":
                await self.client.chat_update(**payload["args"])
            elif kind == "respond":
                await self._respond(payload["url"], payload["body"])
            else:
                raise Permanent(f"unknown payload kind {kind!r}")
        except SlackApiError as error:
            response = error.response
            code = response.get("error") if response is not None else None
            if code in _HOPELESS:
                raise Permanent(code) from error
            if response is not None and response.status_code == 429:  # longer than the client waits in the call
                raise RetryLater(retry_after(response.headers)) from error
            raise

    async def _respond(self, url: str, body: dict[str, Any]) -> None:
        webhook = AsyncWebhookClient(
            url=url,
            session=self.client.session,
            timeout=int(RESPONSE_URL_SECONDS),
            retry_handlers=self.retry_handlers,
            logger=self.logger,
        )
        try:
            response = await asyncio.wait_for(
                webhook.send_dict(body), RESPONSE_URL_SECONDS
            )  # a network error: tried again later
        except aiohttp.InvalidURL as error:  # no retry will mend the address
            raise Permanent("response_url is not a usable address") from error
        if response.status_code == 429:
            raise RetryLater(retry_after(response.headers))
        if 400 <= response.status_code < 500:
            raise Permanent(f"response_url answered {response.status_code}")  # expired, used up, or refused as made
        if response.status_code != 200:
            raise ConnectionError(f"response_url answered {response.status_code}")


def retry_after_header(headers: Mapping[str, Any] | None) -> str | None:
    """A response's Retry-After as sent, or None. slack_sdk hands headers over as plain strings in a response and
    as lists of strings to a retry handler, so both are read."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            first = value[0] if isinstance(value, list | tuple) and value else value
            return str(first).strip()
    return None


def retry_after(headers: Mapping[str, Any] | None) -> float:
    """Seconds a 429's Retry-After asks for; 1 where it is missing or unreadable."""
    try:
        return max(0.0, float(retry_after_header(headers) or 1.0))
    except ValueError:
        return 1.0
