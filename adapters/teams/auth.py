"""Bot Framework authentication for Teams: token checks with a deadline on Microsoft's keys, connector clients reused.

Two costs and one risk of the stock ``CloudAdapter`` are removed here through the SDK's own extension
point, a ``BotFrameworkAuthentication`` that wraps the stock one:

* The stock authentication builds two msrest service clients on every turn (a ``ConnectorClient``
  to reply and a user-token client nobody here uses); building one costs about 3 ms of CPU, mostly in
  msrest's retry policy. ``CachingConnectorFactory`` keeps one ``ConnectorClient`` per app id, service
  URL and audience, and the user-token client is built once per app id. The kept clients send through
  one shared aiohttp session (keep-alive, no worker thread per send) instead of msrest's default of
  ``requests`` in the thread pool; a reused client also keeps its MSAL token cache.
* The SDK fetches the OpenID metadata and signing keys with blocking ``requests`` calls and no timeout.
  ``openid.OpenIdKeys`` takes their place (``install_key_cache``): one fetch at a time over aiohttp,
  within a few seconds, failing fast for a while after a failure. Nothing in a token check blocks any
  more, so the checks run on the event loop, with no thread and no event loop of their own per request.
* A token is checked in two steps so that the body is parsed only for a caller that holds a valid
  one: ``verify_token`` (signature, issuer, audience, expiry: all the header alone can tell) before
  the body is read, then ``authenticate_request`` with the activity (its service URL and channel).
  Both refuse a token without ``exp``, which the SDK would take as never expiring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiohttp
from botbuilder.schema import Activity
from botframework.connector import AsyncBfPipeline, BotFrameworkConnectorConfiguration
from botframework.connector.about import __version__ as SDK_VERSION
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient
from msrest.pipeline import AsyncHTTPSender, Request, Response, SansIOHTTPPolicy
from msrest.universal_http.aiohttp import AioHttpClientResponse

from adapters.teams.checks import has_expiry
from adapters.teams.openid import install_key_cache
from adapters.teams.wire import CardConnectorClient

_LOGGER = logging.getLogger(__name__)

MAX_CLIENTS = 64  # distinct service URLs in use at once; Teams uses a handful per region
TOKEN_WARM_EVERY = 60.0  # seconds between off-loop refreshes of an outbound app token
SEND_TIMEOUT = aiohttp.ClientTimeout(total=30)  # Teams answers in well under a second; never hang a turn
USER_AGENT = f"Microsoft-BotFramework/3.1 (BotBuilder Python/{SDK_VERSION}) FrontlineCoach"
ANONYMOUS_SKILL_APP_ID = "AnonymousSkill"


class BearerPolicy(SansIOHTTPPolicy):
    """The SDK's app credentials as an msrest policy: adds ``Authorization: Bearer`` when auth is on.

    ``AsyncBfPipeline`` uses credentials that are a policy as they are; any other credentials it
    wraps in a ``requests``-session policy, which an aiohttp sender cannot use.
    """

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    def on_request(self, request: Request, **kwargs: Any) -> None:
        app_id = getattr(self.credentials, "microsoft_app_id", None)
        if app_id and app_id != ANONYMOUS_SKILL_APP_ID:  # the same rule as AppCredentials.signed_session
            request.http_request.headers["Authorization"] = f"Bearer {self.credentials.get_access_token()}"


class AiohttpSender(AsyncHTTPSender):
    """An msrest pipeline sender over a shared aiohttp session (msrest's own one drops headers and body)."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._session = session

    async def __aenter__(self) -> AiohttpSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        return None  # the session belongs to the ClientCache

    async def send(self, request: Request, **kwargs: Any) -> Response:
        http = request.http_request
        raw = await self._session().request(http.method, http.url, headers=dict(http.headers), data=http.data)
        response = AioHttpClientResponse(http, raw)
        await response.load_body()
        return Response(request, response)


class ClientCache:
    """A bounded LRU of connector clients and the aiohttp session they share, for one ``TeamsAuthentication``."""

    def __init__(self, *, max_clients: int = MAX_CLIENTS) -> None:
        self.max_clients = max_clients
        self._clients: OrderedDict[tuple[str, str, str], ConnectorClient] = OrderedDict()
        self._warmed: dict[int, float] = {}
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The one aiohttp session every kept client sends through, made on first use inside the loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=SEND_TIMEOUT, connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300)
            )
        return self._session

    def get(self, key: tuple[str, str, str]) -> ConnectorClient | None:
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
        return client

    def put(self, key: tuple[str, str, str], client: ConnectorClient) -> None:
        self._clients[key] = client
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)  # nothing to close: the HTTP session is shared

    async def warm_token(self, client: ConnectorClient) -> None:
        """Fetch or refresh the client's outbound token in a thread, so the send's own lookup hits the cache.

        msrest asks the credentials for a token synchronously on the event loop; MSAL answers from its
        cache, but a cold cache or a due refresh would be a blocking call to Azure AD. Doing it here
        first, off the loop, keeps that wait in a worker thread.
        """
        credentials: Any = getattr(client.config.credentials, "credentials", None)  # the SDK is untyped
        if not getattr(credentials, "microsoft_app_id", None) or not hasattr(credentials, "get_access_token"):
            return  # auth off: nothing to fetch
        now = time.monotonic()
        if now - self._warmed.get(id(credentials), -TOKEN_WARM_EVERY) < TOKEN_WARM_EVERY:
            return
        self._warmed[id(credentials)] = now
        try:
            await asyncio.to_thread(credentials.get_access_token)
        except Exception as error:
            _LOGGER.warning("could not fetch the outbound Bot Framework token: %s", type(error).__name__)

    async def close(self) -> None:
        self._clients.clear()
        if self._session is not None:
            await self._session.close()


class CachingConnectorFactory(ConnectorFactory):
    """Connector clients for one app id, built once per (service URL, audience) instead of once per turn.

    Built as the SDK's own factory builds them (credentials from the credentials factory for the
    audience and login endpoint), but configured through ``BotFrameworkConnectorConfiguration`` with
    ``AsyncBfPipeline`` and an aiohttp sender, the hook the SDK's streaming connector uses.

    Args:
        app_id: the bot's app id these clients authenticate as ("" when auth is off).
        credentials_factory: makes the app credentials.
        oauth_scope: the default audience of outbound tokens (the Bot Framework's).
        login_endpoint: where tokens come from (Azure AD for the public cloud).
        cache: where the clients live.
    """

    def __init__(
        self,
        *,
        app_id: str,
        credentials_factory: ServiceClientCredentialsFactory,
        oauth_scope: str,
        login_endpoint: str,
        cache: ClientCache,
    ) -> None:
        self._app_id = app_id
        self._credentials_factory = credentials_factory
        self._oauth_scope = oauth_scope
        self._login_endpoint = login_endpoint
        self._cache = cache

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._app_id, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            built = await self._build(service_url, audience or self._oauth_scope)
            client = self._cache.get(key)  # another turn may have built one meanwhile
            if client is None:
                self._cache.put(key, built)
                client = built
        await self._cache.warm_token(client)
        return client

    async def _build(self, service_url: str, audience: str) -> ConnectorClient:
        credentials = await self._credentials_factory.create_credentials(
            self._app_id, audience, self._login_endpoint, True
        )
        config = BotFrameworkConnectorConfiguration(
            BearerPolicy(credentials),
            service_url,
            pipeline_type=AsyncBfPipeline,
            sender=AiohttpSender(self._cache.session),
        )
        client = CardConnectorClient(None, custom_configuration=config)
        client.config.add_user_agent(USER_AGENT)
        return client


class TeamsAuthentication(BotFrameworkAuthentication):
    """The stock authentication, with deadlines on the key fetches, a token check before the body, and connector
    clients reused.

    Args:
        inner: the stock ``BotFrameworkAuthentication`` (built from the app id, password, type and tenant).
        credentials_factory: the same credentials factory ``inner`` uses; it says whether auth is off.
        max_clients: how many connector clients to keep.
    """

    def __init__(
        self,
        *,
        inner: BotFrameworkAuthentication,
        credentials_factory: ServiceClientCredentialsFactory,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self._inner = inner
        self._credentials_factory = credentials_factory
        self._cache = ClientCache(max_clients=max_clients)
        self._factories: dict[str, CachingConnectorFactory] = {}
        self._user_token_clients: dict[str, UserTokenClient] = {}
        install_key_cache()

    async def verify_token(self, auth_header: str) -> None:
        """Check what the token alone can tell (signature, issuer, audience, expiry), before the body is read.

        Raises:
            PermissionError, jwt errors, ...: the token is not valid (the route answers 401).
            SigningKeysUnavailable: the signing keys cannot be had now (the route answers 503).
        """
        # An activity with no channel and no service URL binds the token to neither; authenticate_request checks both.
        result = await self._inner.authenticate_request(Activity(), auth_header)
        _require_expiry(result.claims_identity)

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        """Check the token for this activity (raises on any failure, as ``verify_token``) and attach the caching
        factory."""
        result = await self._inner.authenticate_request(activity, auth_header)
        if auth_header:
            _require_expiry(result.claims_identity)
        result.connector_factory = self.create_connector_factory(result.claims_identity)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_streaming_request(auth_header, channel_id_header)
        if auth_header:
            _require_expiry(result.claims_identity)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        app_id = _app_id(claims_identity)
        factory = self._factories.get(app_id)
        if factory is None:
            factory = self._factories[app_id] = CachingConnectorFactory(
                app_id=app_id,
                credentials_factory=self._credentials_factory,
                oauth_scope=self._inner.get_originating_audience(),
                login_endpoint=AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
                cache=self._cache,
            )
        return factory

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = _app_id(claims_identity)
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = self._user_token_clients[app_id] = await self._inner.create_user_token_client(claims_identity)
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        identity = await self._inner.authenticate_channel_request(auth_header)
        _require_expiry(identity)
        return identity

    async def close(self) -> None:
        """Close the kept HTTP sessions (on the web app's cleanup)."""
        await self._cache.close()


def _require_expiry(claims_identity: ClaimsIdentity | None) -> None:
    """PyJWT checks ``exp`` only when a token has one; a token without it would be good forever."""
    if claims_identity is None or not has_expiry(claims_identity.claims or {}):
        raise PermissionError("the token has no expiry (exp)")


def _app_id(claims_identity: ClaimsIdentity | None) -> str:
    """The bot's app id in the claims, as the SDK reads it: ``aud`` from a channel, ``appid`` from the Emulator."""
    if claims_identity is None:
        return ""
    claims = claims_identity.claims or {}
    return claims.get("aud") or claims.get("appid") or ""
