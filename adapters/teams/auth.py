"""Bot Framework authentication for Teams: token checks off the event loop, connector clients reused.

Two costs of the stock ``CloudAdapter`` are removed here through the SDK's own extension point, a
``BotFrameworkAuthentication`` that wraps the stock one:

* The stock authentication builds two msrest service clients on every turn (a ``ConnectorClient``
  to reply and a user-token client nobody here uses); building one costs about 3 ms of CPU, mostly in
  msrest's retry policy. ``CachingConnectorFactory`` keeps one ``ConnectorClient`` per app id, service
  URL and audience, built by the SDK's own factory, and the user-token client is built once per app id.
  A reused client also reuses its HTTP keep-alive connections and its MSAL token cache.
* The SDK checks tokens with blocking ``requests`` calls (the OpenID metadata, refreshed daily) inside
  ``async`` functions. ``TeamsAuthentication`` runs every check of a presented token in a worker thread
  with its own event loop, so a slow Microsoft endpoint never stalls other conversations.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient

_LOGGER = logging.getLogger(__name__)

MAX_CLIENTS = 64  # distinct service URLs in use at once; Teams uses a handful per region
CLOSE_GRACE = 30.0  # seconds an evicted client stays open for turns still using it
TOKEN_WARM_EVERY = 60.0  # seconds between off-loop refreshes of an outbound app token


async def close_client(client: Any) -> None:
    """Release an msrest client's HTTP session (msrest clients close through their async context exit)."""
    try:
        await client.__aexit__(None, None, None)
    except Exception as error:  # closing is best effort
        _LOGGER.debug("closing a connector client failed: %s", type(error).__name__)


class ClientCache:
    """A bounded LRU of connector clients, shared by the factories of one ``TeamsAuthentication``."""

    def __init__(self, *, max_clients: int = MAX_CLIENTS) -> None:
        self.max_clients = max_clients
        self._clients: OrderedDict[tuple[str, str, str], ConnectorClient] = OrderedDict()
        self._warmed: dict[int, float] = {}
        self._closing: set[asyncio.Task] = set()

    def get(self, key: tuple[str, str, str]) -> ConnectorClient | None:
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
        return client

    def put(self, key: tuple[str, str, str], client: ConnectorClient) -> None:
        self._clients[key] = client
        while len(self._clients) > self.max_clients:
            _, evicted = self._clients.popitem(last=False)
            self.close_later(evicted)

    def close_later(self, client: ConnectorClient, delay: float = CLOSE_GRACE) -> None:
        async def close() -> None:
            await asyncio.sleep(delay)
            await close_client(client)

        task = asyncio.get_running_loop().create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def warm_token(self, client: ConnectorClient) -> None:
        """Fetch or refresh the client's outbound token in a thread, so the send's own lookup hits the cache.

        msrest asks the credentials for a token synchronously on the event loop; MSAL answers from its
        cache, but a cold cache or a due refresh would be a blocking call to Azure AD. Doing it here
        first, off the loop, keeps that wait in a worker thread.
        """
        credentials = getattr(client.config, "credentials", None)
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
        clients = list(self._clients.values())
        self._clients.clear()
        for task in list(self._closing):
            task.cancel()
        for client in clients:
            await close_client(client)


class CachingConnectorFactory(ConnectorFactory):
    """The SDK's connector factory for one app id, asked once per (service URL, audience) instead of per turn.

    Args:
        app_id: the bot's app id these clients authenticate as ("" when auth is off).
        inner: the stock factory from ``BotFrameworkAuthentication.create_connector_factory``.
        cache: where the clients live.
    """

    def __init__(self, *, app_id: str, inner: ConnectorFactory, cache: ClientCache) -> None:
        self._app_id = app_id
        self._inner = inner
        self._cache = cache

    async def create(self, service_url: str, audience: str = None) -> ConnectorClient:
        key = (self._app_id, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            built = await self._inner.create(service_url, audience)
            client = self._cache.get(key)  # another turn may have built one meanwhile
            if client is None:
                self._cache.put(key, built)
                client = built
            else:
                self._cache.close_later(built, delay=0)
        await self._cache.warm_token(client)
        return client


def _in_fresh_loop(make: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(make())


class TeamsAuthentication(BotFrameworkAuthentication):
    """The stock authentication, with token checks in a worker thread and connector clients reused.

    Args:
        inner: the stock ``BotFrameworkAuthentication`` (built from the app id, password, type and tenant).
        credentials_factory: the same credentials factory ``inner`` uses; it says whether auth is off.
        max_clients: how many connector clients to keep.
    """

    def __init__(self, *, inner: BotFrameworkAuthentication, credentials_factory: ServiceClientCredentialsFactory, max_clients: int = MAX_CLIENTS) -> None:
        self._inner = inner
        self._credentials_factory = credentials_factory
        self._cache = ClientCache(max_clients=max_clients)
        self._factories: dict[str, CachingConnectorFactory] = {}
        self._user_token_clients: dict[str, UserTokenClient] = {}

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        """Check the token (raises on any failure; the route answers 401) and attach the caching factory."""
        if auth_header:
            # The SDK may fetch the OpenID metadata with blocking requests.get: keep that off this loop.
            result = await asyncio.to_thread(_in_fresh_loop, lambda: self._inner.authenticate_request(activity, auth_header))
        else:
            result = await self._inner.authenticate_request(activity, auth_header)
        result.connector_factory = self.create_connector_factory(result.claims_identity)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> AuthenticateRequestResult:
        return await asyncio.to_thread(_in_fresh_loop, lambda: self._inner.authenticate_streaming_request(auth_header, channel_id_header))

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        app_id = _app_id(claims_identity)
        factory = self._factories.get(app_id)
        if factory is None:
            inner = self._inner.create_connector_factory(claims_identity)
            factory = self._factories[app_id] = CachingConnectorFactory(app_id=app_id, inner=inner, cache=self._cache)
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
        return await asyncio.to_thread(_in_fresh_loop, lambda: self._inner.authenticate_channel_request(auth_header))

    async def close(self) -> None:
        """Close the kept HTTP sessions (on the web app's cleanup)."""
        await self._cache.close()


def _app_id(claims_identity: ClaimsIdentity | None) -> str:
    """The bot's app id in the claims, as the SDK reads it: ``aud`` from a channel, ``appid`` from the Emulator."""
    if claims_identity is None:
        return ""
    claims = claims_identity.claims or {}
    return claims.get("aud") or claims.get("appid") or ""
