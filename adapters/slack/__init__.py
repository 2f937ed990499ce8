"""Slack adapter: settings from the environment, and the Bolt app mounted on the bot's aiohttp server.

The server (adapters/server.py) calls two things: ``slack_config(env)`` once at start-up (None when Slack is off,
ConfigError when half-configured) and ``mount_slack(web_app, coach, config)``, which adds POST /slack/events
(HTTP mode) and/or starts the Socket Mode client with the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.settings import SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from adapters.slack.listeners import WAIT_IN_CALL, build_bolt_app, retry_handlers, slack_deliverer
from adapters.slack.route import slack_route
from bot.errors import ConfigError
from bot.ports import CoachPort

_LOGGER = logging.getLogger(__name__)

# Settings, under Slack's usual names; the three that switch Slack on are named in adapters/settings.py.
BOT_TOKEN, SIGNING_SECRET, APP_TOKEN = SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN
API_URL = "SLACK_API_URL"  # Web API base URL; a proxy or a fake in tests
DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"

BOLT_APP = web.AppKey("slack_bolt_app", AsyncApp)


def _missing(names: list[str], mode: str) -> str:
    return f"Slack is half-configured: {mode} also needs {' and '.join(names)}"


def _neither_mode() -> str:
    return (
        f"Slack is half-configured: {BOT_TOKEN} is set but neither {SIGNING_SECRET} (HTTP, /slack/events) "
        f"nor {APP_TOKEN} (Socket Mode) is"
    )


def _wrong_prefix(name: str, prefix: str) -> str:
    return f"{name} should start with {prefix!r}; check that the right Slack token is in the right variable"


def _bad_url(value: str) -> str:
    return f"{API_URL} must be an http(s) URL, got {value!r}"


@dataclass(frozen=True, kw_only=True)
class SlackConfig:
    """Slack settings. HTTP mode when ``signing_secret`` is set, Socket Mode when ``app_token`` is; both may be."""

    bot_token: str = field(repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL

    @property
    def http(self) -> bool:
        return self.signing_secret is not None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


def slack_config(env: Mapping[str, str]) -> SlackConfig | None:
    """Slack settings from ``env`` (empty values already dropped), None when Slack is not configured at all.

    Raises:
        ConfigError: some but not all of what one mode needs is set; the message names what is missing.
    """
    bot_token, secret, app_token = env.get(BOT_TOKEN), env.get(SIGNING_SECRET), env.get(APP_TOKEN)
    if bot_token is None and secret is None and app_token is None:
        return None
    if bot_token is None:
        mode = "Socket Mode" if app_token else "HTTP mode"
        raise ConfigError(_missing([BOT_TOKEN], mode))
    if secret is None and app_token is None:
        raise ConfigError(_neither_mode())
    if not bot_token.startswith("xoxb-"):
        raise ConfigError(_wrong_prefix(BOT_TOKEN, "xoxb-"))
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError(_wrong_prefix(APP_TOKEN, "xapp-"))
    api_url = env.get(API_URL, DEFAULT_API_URL)
    if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).netloc:
        raise ConfigError(_bad_url(api_url))
    return SlackConfig(
        bot_token=bot_token, signing_secret=secret, app_token=app_token, api_url=api_url.rstrip("/") + "/"
    )


def web_client(config: SlackConfig, *, wait_in_call: float = WAIT_IN_CALL) -> AsyncWebClient:
    """The Web API client calls go through, with slack_sdk's rate-limit and connection retry handlers; a rate limit
    of up to ``wait_in_call`` seconds is waited out inside the call (``retry_handlers``)."""
    return AsyncWebClient(
        token=config.bot_token, base_url=config.api_url, retry_handlers=retry_handlers(wait_in_call=wait_in_call)
    )


def mount_slack(web_app: web.Application, coach: CoachPort, config: SlackConfig) -> None:
    """Add Slack to ``web_app``: POST /slack/events in HTTP mode, the Socket Mode client with the server's life.

    Args:
        web_app: the bot's aiohttp application (shared with Teams).
        coach: the Coach every turn goes to.
        config: from ``slack_config``.
    """
    client = web_client(config)
    deliverer = slack_deliverer(coach, client)
    bolt_app = build_bolt_app(
        coach=coach, client=client, signing_secret=config.signing_secret or "", deliverer=deliverer
    )
    web_app[BOLT_APP] = bolt_app

    # One HTTP session for every Web API call, so replies reuse connections instead of a new TLS handshake each.
    async def open_session(_: web.Application) -> None:
        client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
        deliverer.start()  # sends, among the rest, what a copy that died left in the outbox

    async def close_session(_: web.Application) -> None:
        await deliverer.close()
        if client.session is not None:
            await client.session.close()

    web_app.on_startup.append(open_session)
    if config.http:
        web_app.router.add_post(EVENTS_PATH, slack_route(bolt_app))
    if config.socket_mode:
        handlers: list[AsyncSocketModeHandler] = []
        app_token = config.app_token

        async def connect(_: web.Application) -> None:
            handler = AsyncSocketModeHandler(bolt_app, app_token=app_token)
            handlers.append(handler)
            await handler.connect_async()
            _LOGGER.info("Slack Socket Mode connected")

        async def close(_: web.Application) -> None:
            while handlers:
                await handlers.pop().close_async()

        web_app.on_startup.append(connect)
        web_app.on_cleanup.append(close)
    web_app.on_cleanup.append(close_session)
    _LOGGER.info(
        "Slack mounted (HTTP %s: %s, Socket Mode: %s)",
        EVENTS_PATH,
        "on" if config.http else "off",
        "on" if config.socket_mode else "off",
    )


__all__ = ["EVENTS_PATH", "SlackConfig", "mount_slack", "slack_config"]
