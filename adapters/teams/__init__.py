"""Microsoft Teams adapter: botbuilder's CloudAdapter on the shared aiohttp app, at POST /api/messages.

Settings, with the Bot Framework's usual names (read once at start-up; empty values count as unset):

    MicrosoftAppId        the bot's Azure app id; unset: auth off, for the Bot Framework Emulator
    MicrosoftAppPassword  its client secret (MultiTenant and SingleTenant)
    MicrosoftAppType      MultiTenant (default), SingleTenant or UserAssignedMSI
    MicrosoftAppTenantId  the app's tenant (SingleTenant and UserAssignedMSI)

Everything that imports botbuilder or botframework lives in this package, so that moving to the
Microsoft 365 Agents SDK changes this package and nothing else.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, ActivityTypes, ExpectedReplies
from botframework.connector.auth import ServiceClientCredentialsFactory

from adapters import bounded_json
from adapters.settings import TEAMS_VARIABLES
from adapters.teams.auth import TeamsAuthentication
from adapters.teams.bot import CoachBot, expects_replies, on_turn_error
from adapters.teams.checks import activity_problem, ids_problem, surrogate_problem, token_problem
from adapters.teams.openid import SigningKeysUnavailable
from adapters.teams.wire import CONNECTOR_MODELS, CardSerializer
from bot.errors import ConfigError
from bot.ports import CoachPort

_LOGGER = logging.getLogger(__name__)

ROUTE = "/api/messages"
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}
ENV_NAMES = TEAMS_VARIABLES  # named in adapters/settings.py, which decides without botbuilder whether to serve
TEAMS_AUTH_KEY = web.AppKey("teams_authentication", TeamsAuthentication)


@dataclass(frozen=True, kw_only=True)
class TeamsConfig:
    """Bot Framework credentials. ``open`` (no app id) means no token checks: local Emulator testing only."""

    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "MultiTenant"
    tenant_id: str = ""

    @property
    def open(self) -> bool:
        return not self.app_id


# ---------------------------------------------------------------------- error texts


def _needs_app_id(present: list[str]) -> str:
    return (
        f"{', '.join(present)} set without MicrosoftAppId: set MicrosoftAppId too, or unset them to run without "
        "authentication (Emulator only)"
    )


def _unknown_app_type(value: str) -> str:
    return f"MicrosoftAppType={value!r} is not one of MultiTenant, SingleTenant, UserAssignedMSI"


def _missing_for_type(app_type: str, names: list[str]) -> str:
    return f"MicrosoftAppType={app_type} needs {' and '.join(names)}"


def _not_for_type(app_type: str, name: str, hint: str) -> str:
    return f"{name} is not used with MicrosoftAppType={app_type}: {hint}"


def teams_config(env: Mapping[str, str]) -> TeamsConfig:
    """The Teams settings in ``env``; Teams is always on, open (auth off) when no app id is set.

    Open, the server listens on 127.0.0.1 unless HOST is set (adapters/server.py, ``listen_host``).

    Raises:
        ConfigError: a partial or contradictory set (a password without an app id, a SingleTenant app
            without its tenant, ...).
    """
    app_id = env.get("MicrosoftAppId", "").strip()
    password = env.get("MicrosoftAppPassword", "")
    tenant = env.get("MicrosoftAppTenantId", "").strip()
    raw_type = env.get("MicrosoftAppType", "").strip()
    if not app_id:
        present = [name for name in ENV_NAMES[1:] if env.get(name)]
        if present:
            raise ConfigError(_needs_app_id(present))
        return TeamsConfig()
    app_type = APP_TYPES.get((raw_type or "MultiTenant").lower())
    if app_type is None:
        raise ConfigError(_unknown_app_type(raw_type))
    if app_type == "MultiTenant":
        if not password:
            raise ConfigError(_missing_for_type(app_type, ["MicrosoftAppPassword"]))
        if tenant:
            raise ConfigError(
                _not_for_type(
                    app_type,
                    "MicrosoftAppTenantId",
                    "set MicrosoftAppType=SingleTenant for a single-tenant app, or unset it",
                )
            )
    elif app_type == "SingleTenant":
        missing = [
            name for name, value in (("MicrosoftAppPassword", password), ("MicrosoftAppTenantId", tenant)) if not value
        ]
        if missing:
            raise ConfigError(_missing_for_type(app_type, missing))
    else:  # UserAssignedMSI: the managed identity needs no secret
        if not tenant:
            raise ConfigError(_missing_for_type(app_type, ["MicrosoftAppTenantId"]))
        if password:
            raise ConfigError(
                _not_for_type(app_type, "MicrosoftAppPassword", "a managed identity has no password; unset it")
            )
    return TeamsConfig(app_id=app_id, app_password=password, app_type=app_type, tenant_id=tenant)


# ---------------------------------------------------------------------- wiring


class _SdkSettings:
    """The attribute names the SDK's configuration classes read."""

    def __init__(self, config: TeamsConfig) -> None:
        self.APP_ID = config.app_id
        self.APP_PASSWORD = config.app_password
        self.APP_TYPE = config.app_type
        self.APP_TENANTID = config.tenant_id


def build_authentication(
    config: TeamsConfig, *, credentials_factory: ServiceClientCredentialsFactory | None = None
) -> TeamsAuthentication:
    """The stock Bot Framework authentication for ``config``, wrapped to reuse clients and check tokens off-loop.

    Args:
        config: the app's credentials.
        credentials_factory: replaces the one built from ``config`` (tests give one that never calls Azure AD).
    """
    settings = _SdkSettings(config)
    credentials_factory = credentials_factory or ConfigurationServiceClientCredentialFactory(settings)
    inner = ConfigurationBotFrameworkAuthentication(settings, credentials_factory=credentials_factory)
    return TeamsAuthentication(inner=inner, credentials_factory=credentials_factory)


def _problem(status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _refused(status: int, reason: str) -> web.Response:
    """A client's mistake: one log line that names the field at fault (never its value), and the 4xx."""
    _LOGGER.info("Teams request refused (%d): %s", status, reason)
    return _problem(status, reason)


def _unauthorized(reason: str) -> web.Response:
    """401, whatever is wrong with the token; the reason goes to the log only."""
    _LOGGER.info("Teams request rejected (401): %s", reason)
    return _problem(401, "unauthorized")


def _token_refused(error: Exception) -> web.Response:
    """The answer to a failed token check: 503 while the signing keys can't be had, else 401."""
    if isinstance(error, SigningKeysUnavailable):
        return _problem(
            503, "the token cannot be checked now", headers={"Retry-After": str(max(1, math.ceil(error.retry_after)))}
        )
    return _unauthorized(type(error).__name__)  # the SDK raises PermissionError, jwt errors, IndexError, ...


def expected_replies(turn_context: TurnContext) -> dict[str, Any]:
    """The body of a 200 to ``deliveryMode: expectReplies``: the turn's activities, cards as JSON, as the connector
    would get them.

    The SDK builds this body with stock msrest, which writes a ``CardContent`` as its Python repr; the
    ``CardSerializer`` writes it as the card. The invoke response the SDK buffers among them is not a reply.
    """
    replies = [
        activity
        for activity in turn_context.buffered_reply_activities
        if activity.type != ActivityTypes.invoke_response
    ]
    return CardSerializer(CONNECTOR_MODELS).body(ExpectedReplies(activities=replies), "ExpectedReplies")


def _invoke_body(body: Any) -> Any:
    """An invoke response's body as JSON: a model through msrest, a plain dict (an adaptiveCard/action answer) as it
    is."""
    return body if isinstance(body, (dict, list)) else serializer_helper(body)


def mount_teams(
    web_app: web.Application,
    coach: CoachPort,
    config: TeamsConfig,
    *,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
) -> None:
    """Add POST /api/messages: token guard, then the CloudAdapter turn with the Coach behind ``CoachBot``.

    With an app id set, the token is checked before the body is read: a request without a valid Bot
    Framework token gets 401 and is not parsed, whatever is wrong with the token, and 503 (soon,
    with Retry-After) while Microsoft's signing keys cannot be fetched. Then the body, bounded in size
    and depth, and the shape and ids of the activity: 413 or 400 for what botbuilder or the stores
    could not take, with one log line naming the field. No client's mistake gets a 5xx.

    Args:
        web_app: the shared aiohttp application.
        coach: the Coach (``handle``, ``welcome``, ``store``, ``clock``).
        config: from ``teams_config``.
        credentials_factory: for tests only; see ``build_authentication``.
    """
    authentication = build_authentication(config, credentials_factory=credentials_factory)
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = on_turn_error
    bot = CoachBot(coach=coach)

    async def messages(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _refused(415, "expected Content-Type: application/json")
        # Auth off: a token, if any, is not looked at (checking it would only mean fetching Microsoft's keys).
        auth_header = "" if config.open else request.headers.get("Authorization", "")
        if not config.open:  # the token first: nobody without a valid one gets the body parsed
            problem = token_problem(auth_header)
            if problem:
                return _unauthorized(problem)
            try:
                await authentication.verify_token(auth_header)
            except Exception as error:
                return _token_refused(error)
        if (request.content_length or 0) > bounded_json.MAX_BYTES:
            return _refused(413, "the body is too large")
        try:
            raw = await request.read()
            body = bounded_json.loads(raw)
        except (web.HTTPRequestEntityTooLarge, bounded_json.TooLarge):  # over the web app's client_max_size, or ours
            return _refused(413, "the body is too large")
        except ValueError as error:  # not UTF-8, not JSON, nested too deep (the messages quote no content)
            return _refused(400, f"the body is not usable JSON: {error}")
        problem = activity_problem(body) or surrogate_problem(raw, body)
        if problem:
            return _refused(400, problem)
        try:
            activity = Activity().deserialize(body)
        except Exception:  # msrest: a timestamp that is not a date, an isGroup that is not a boolean, ...
            return _refused(400, "not a Bot Framework activity (a field of the wrong type)")
        problem = ids_problem(activity)
        if problem:
            return _refused(400, problem)
        try:  # the token again, now bound to this activity's service URL and channel
            authenticated = await authentication.authenticate_request(activity, auth_header)
        except Exception as error:
            return _token_refused(error)
        turns: list[TurnContext] = []

        async def turn(turn_context: TurnContext) -> None:
            turns.append(turn_context)
            await bot.on_turn(turn_context)

        try:
            invoke_response = await adapter.process_activity(authenticated, activity, turn)
        except Exception as error:  # the turn failed and so did the apology (the connector is down, say)
            _LOGGER.error("Teams turn could not complete: %s", type(error).__name__)
            return _problem(500, "the turn failed")
        if expects_replies(activity) and turns:
            return web.json_response(expected_replies(turns[0]), status=200)
        if invoke_response is None:
            return web.Response(status=201)
        if invoke_response.body is None:
            return web.Response(status=invoke_response.status)
        return web.json_response(_invoke_body(invoke_response.body), status=invoke_response.status)

    async def close(_app: web.Application) -> None:
        await authentication.close()

    web_app.router.add_post(ROUTE, messages)
    web_app[TEAMS_AUTH_KEY] = authentication
    web_app.on_cleanup.append(close)


__all__ = ["ROUTE", "TeamsConfig", "build_authentication", "mount_teams", "teams_config"]
