"""Microsoft Teams adapter: botbuilder's CloudAdapter on the shared aiohttp app, at POST /api/messages.

Settings, with the Bot Framework's usual names (read once by app.py; empty values count as unset):

    MicrosoftAppId        the bot's Azure app id; unset: auth off, for the Bot Framework Emulator
    MicrosoftAppPassword  its client secret (MultiTenant and SingleTenant)
    MicrosoftAppType      MultiTenant (default), SingleTenant or UserAssignedMSI
    MicrosoftAppTenantId  the app's tenant (SingleTenant and UserAssignedMSI)

Everything that imports botbuilder or botframework lives in this package, so that moving to the
Microsoft 365 Agents SDK changes this package and nothing else.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication, ConfigurationServiceClientCredentialFactory
from botbuilder.schema import Activity
from botframework.connector.auth import ServiceClientCredentialsFactory

from adapters.teams.auth import TeamsAuthentication
from adapters.teams.bot import CoachBot, on_turn_error
from bot.errors import ConfigError

_LOGGER = logging.getLogger(__name__)

ROUTE = "/api/messages"
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}
ENV_NAMES = ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId")
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
    return f"{', '.join(present)} set without MicrosoftAppId: set MicrosoftAppId too, or unset them to run without authentication (Emulator only)"


def _unknown_app_type(value: str) -> str:
    return f"MicrosoftAppType={value!r} is not one of MultiTenant, SingleTenant, UserAssignedMSI"


def _missing_for_type(app_type: str, names: list[str]) -> str:
    return f"MicrosoftAppType={app_type} needs {' and '.join(names)}"


def _not_for_type(app_type: str, name: str, hint: str) -> str:
    return f"{name} is not used with MicrosoftAppType={app_type}: {hint}"


def teams_config(env: Mapping[str, str]) -> TeamsConfig | None:
    """The Teams settings in ``env``; Teams is always on, open (auth off) when no app id is set.

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
            raise ConfigError(_not_for_type(app_type, "MicrosoftAppTenantId", "set MicrosoftAppType=SingleTenant for a single-tenant app, or unset it"))
    elif app_type == "SingleTenant":
        missing = [name for name, value in (("MicrosoftAppPassword", password), ("MicrosoftAppTenantId", tenant)) if not value]
        if missing:
            raise ConfigError(_missing_for_type(app_type, missing))
    else:  # UserAssignedMSI: the managed identity needs no secret
        if not tenant:
            raise ConfigError(_missing_for_type(app_type, ["MicrosoftAppTenantId"]))
        if password:
            raise ConfigError(_not_for_type(app_type, "MicrosoftAppPassword", "a managed identity has no password; unset it"))
    return TeamsConfig(app_id=app_id, app_password=password, app_type=app_type, tenant_id=tenant)


# ---------------------------------------------------------------------- wiring


class _SdkSettings:
    """The attribute names the SDK's configuration classes read."""

    def __init__(self, config: TeamsConfig) -> None:
        self.APP_ID = config.app_id
        self.APP_PASSWORD = config.app_password
        self.APP_TYPE = config.app_type
        self.APP_TENANTID = config.tenant_id


def build_authentication(config: TeamsConfig, *, credentials_factory: ServiceClientCredentialsFactory | None = None) -> TeamsAuthentication:
    """The stock Bot Framework authentication for ``config``, wrapped to reuse clients and check tokens off-loop.

    Args:
        config: the app's credentials.
        credentials_factory: replaces the one built from ``config`` (tests give one that never calls Azure AD).
    """
    settings = _SdkSettings(config)
    credentials_factory = credentials_factory or ConfigurationServiceClientCredentialFactory(settings)
    inner = ConfigurationBotFrameworkAuthentication(settings, credentials_factory=credentials_factory)
    return TeamsAuthentication(inner=inner, credentials_factory=credentials_factory)


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def missing_fields(body: Any) -> list[str]:
    """The fields a Bot Framework activity must carry for a turn, that ``body`` lacks."""
    if not isinstance(body, dict):
        return ["(an activity object)"]

    def text(value: Any) -> bool:
        return isinstance(value, str) and value != ""

    def has_id(name: str) -> bool:
        part = body.get(name)
        return isinstance(part, dict) and text(part.get("id"))

    missing = [name for name in ("type", "serviceUrl") if not text(body.get(name))]
    missing += [f"{name}.id" for name in ("conversation", "from", "recipient") if not has_id(name)]
    if text(body.get("serviceUrl")) and not body["serviceUrl"].startswith(("https://", "http://")):
        missing.append("serviceUrl (an http(s) URL)")
    return missing


def mount_teams(web_app: web.Application, coach: Any, config: TeamsConfig, *, credentials_factory: ServiceClientCredentialsFactory | None = None) -> None:
    """Add POST /api/messages: token guard, then the CloudAdapter turn with the Coach behind ``CoachBot``.

    With an app id set, a request without a valid Bot Framework token gets 401 and is not processed,
    whatever is wrong with the token. Malformed requests get 4xx before any token check.

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
            return _problem(415, "expected Content-Type: application/json")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _problem(400, "the body is not JSON")
        missing = missing_fields(body)
        if missing:
            return _problem(400, "not a Bot Framework activity: missing " + ", ".join(missing))
        try:
            activity = Activity().deserialize(body)
        except Exception:
            return _problem(400, "not a Bot Framework activity")
        # Auth off: a token, if any, is not looked at (checking it would only mean fetching Microsoft's keys).
        auth_header = "" if config.open else request.headers.get("Authorization", "")
        try:
            authenticated = await authentication.authenticate_request(activity, auth_header)
        except Exception as error:  # the SDK raises PermissionError, jwt errors, IndexError, ... on bad tokens
            _LOGGER.info("Teams request rejected: %s", type(error).__name__)
            return _problem(401, "unauthorized")
        try:
            invoke_response = await adapter.process_activity(authenticated, activity, bot.on_turn)
        except Exception as error:  # the turn failed and so did the apology (the connector is down, say)
            _LOGGER.error("Teams turn could not complete: %s", type(error).__name__)
            return _problem(500, "the turn failed")
        if invoke_response:
            return web.json_response(serializer_helper(invoke_response.body), status=invoke_response.status)
        return web.Response(status=201)

    async def close(_app: web.Application) -> None:
        await authentication.close()

    web_app.router.add_post(ROUTE, messages)
    web_app[TEAMS_AUTH_KEY] = authentication
    web_app.on_cleanup.append(close)


__all__ = ["ROUTE", "TeamsConfig", "build_authentication", "mount_teams", "teams_config"]
