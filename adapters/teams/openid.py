"""The Bot Framework's token signing keys: fetched from the OpenID metadata with a deadline, never hanging a request.

The SDK keeps one ``_OpenIdMetadata`` per metadata URL in ``JwtTokenExtractor.metadataCache`` and
refreshes it with ``requests.get`` and no timeout: an endpoint that accepts the connection and never
answers holds every token check (and the worker running it) for good. ``install_key_cache`` puts
``OpenIdKeys`` in that cache instead, the SDK's own lookup point, so every token check of every kind
(channel, emulator, government, skill) reads its keys from here:

* one fetch at a time per URL, over aiohttp on the running loop, metadata and key set together within
  ``FETCH_TIMEOUT`` seconds; every check waiting for it gets the same result;
* after a failed fetch, checks that need keys get ``SigningKeysUnavailable`` at once (the route answers
  503 with Retry-After) until ``RETRY_AFTER`` seconds have passed, rather than each waiting again;
* keys already held are used while a due daily refresh runs in the background, and kept when it fails;
* keys are parsed once per fetch, not once per token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from botframework.connector.auth import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

from adapters import bounded_json
from bot.errors import CoachError

_LOGGER = logging.getLogger(__name__)

FETCH_TIMEOUT = 5.0  # seconds for the metadata and the key set together; Microsoft answers in well under one
RETRY_AFTER = 10.0  # seconds after a failed fetch before the next try; meanwhile checks fail fast
REFRESH_EVERY = timedelta(days=1).total_seconds()  # as the SDK: keys older than a day are refreshed
UNKNOWN_KEY_REFRESH = timedelta(hours=1).total_seconds()  # as the SDK: an unknown key id refetches at most hourly
MAX_DOCUMENT_BYTES = 256 * 1024  # the metadata and key set are a few kB


class SigningKeysUnavailable(CoachError):
    """The signing keys could not be fetched in time, so no token can be checked; the route answers 503.

    Args:
        retry_after: seconds until the next fetch will be tried.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SigningKey:
    """One key of the set, with the attribute names the SDK's ``JwtTokenExtractor`` reads."""

    public_key: Any
    endorsements: list[str] = field(default_factory=list)


class OpenIdKeys:
    """A stand-in for the SDK's ``_OpenIdMetadata`` (``await get(key_id)``) with a deadline on every fetch.

    Args:
        url: the OpenID metadata document (its ``jwks_uri`` names the key set).
        timeout: seconds a fetch may take, both documents together.
        retry_after: seconds to wait after a failed fetch before trying again.
        clock: monotonic seconds (tests may pass their own).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = FETCH_TIMEOUT,
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retry_after = retry_after
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = -math.inf
        self._failed_at = -math.inf
        self._fetch: asyncio.Task | None = None

    async def get(self, key_id: str | None) -> SigningKey:
        """The key that signed a token.

        Raises:
            PermissionError: no key has that id (the route answers 401).
            SigningKeysUnavailable: the keys are needed and cannot be had now.
        """
        now = self._clock()
        if not self._keys or (key_id not in self._keys and now - self._fetched_at >= UNKNOWN_KEY_REFRESH):
            await self._refreshed(now)
        elif now - self._fetched_at >= REFRESH_EVERY and now - self._failed_at >= self.retry_after:
            self._start_fetch()  # the held keys serve meanwhile
        key = self._keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            raise PermissionError("the token is signed by a key that is not in the Bot Framework's key set")
        return key

    async def _refreshed(self, now: float) -> None:
        waited = now - self._failed_at
        if waited < self.retry_after and (self._fetch is None or self._fetch.done()):
            raise SigningKeysUnavailable(
                "the last fetch of the signing keys failed", retry_after=self.retry_after - waited
            )
        # Shielded: a caller that goes away (its client hung up) does not cancel the fetch the others wait for.
        if not await asyncio.shield(self._start_fetch()):
            raise SigningKeysUnavailable("the signing keys could not be fetched", retry_after=self.retry_after)

    def _start_fetch(self) -> asyncio.Task:
        """The fetch in progress on this loop, or a new one."""
        loop = asyncio.get_running_loop()
        if self._fetch is None or self._fetch.done() or self._fetch.get_loop() is not loop:
            self._fetch = loop.create_task(self._fetch_and_keep())
        return self._fetch

    async def _fetch_and_keep(self) -> bool:
        """Fetch the key set and keep it; False (and the keys held so far kept) when that fails."""
        try:
            async with asyncio.timeout(self.timeout):
                keys = await self._download()
        except Exception as error:  # timeout, refused connection, HTTP error, a document of the wrong shape
            self._failed_at = self._clock()
            _LOGGER.warning(
                "Bot Framework signing keys not fetched (%s); next try in %.0f s",
                type(error).__name__,
                self.retry_after,
            )
            return False
        self._keys = keys
        self._fetched_at = self._clock()
        self._failed_at = -math.inf
        return True

    async def _download(self) -> dict[str, SigningKey]:
        async with aiohttp.ClientSession() as session:
            metadata = await _get_json(session, self.url)
            keys_url = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
            if not isinstance(keys_url, str):
                raise ValueError("the OpenID metadata has no jwks_uri")
            key_set = await _get_json(session, keys_url)
        entries = key_set.get("keys") if isinstance(key_set, dict) else None
        if not isinstance(entries, list):
            raise ValueError("the key set has no keys")
        keys = {}
        for entry in entries:
            parsed = _signing_key(entry)
            if parsed is not None:
                keys[entry["kid"]] = parsed
        if not keys:
            raise ValueError("the key set has no usable RSA key")
        return keys


async def _get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        if (response.content_length or 0) > MAX_DOCUMENT_BYTES:
            raise ValueError("the document is too large")
        return bounded_json.loads(await response.read(), max_bytes=MAX_DOCUMENT_BYTES)


def _signing_key(entry: Any) -> SigningKey | None:
    """One JWK of the set as a ``SigningKey``, or None for anything that is not a usable RSA key."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("kty") != "RSA":
        return None
    endorsements = entry.get("endorsements", [])
    if not isinstance(endorsements, list) or not all(isinstance(item, str) for item in endorsements):
        endorsements = []
    try:
        return SigningKey(public_key=RSAAlgorithm.from_jwk(json.dumps(entry)), endorsements=endorsements)
    except Exception:  # a malformed key is skipped; the others still serve
        return None


class _KeysByUrl(dict):
    """``JwtTokenExtractor.metadataCache`` answering every metadata URL with an ``OpenIdKeys``."""

    def get(self, url: str, default: Any = None) -> OpenIdKeys:
        keys = super().get(url)
        if not isinstance(keys, OpenIdKeys):
            keys = self[url] = OpenIdKeys(url)
        return keys


def install_key_cache() -> None:
    """Make every token check in this process read its keys through ``OpenIdKeys`` (idempotent)."""
    if not isinstance(JwtTokenExtractor.metadataCache, _KeysByUrl):
        JwtTokenExtractor.metadataCache = _KeysByUrl()
