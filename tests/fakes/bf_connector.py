"""A fake Bot Framework connector on 127.0.0.1: answers the activity routes and records every body."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ACTIVITIES = "/v3/conversations/{conversation_id}/activities"


@dataclass
class Sent:
    """One activity the bot sent: where to, in reply to what, the body, and the Authorization header."""

    conversation_id: str
    reply_to_id: str | None
    body: dict[str, Any]
    authorization: str | None


@dataclass
class FakeConnector:
    """Point an activity's ``serviceUrl`` at ``url``; ``sent`` fills up as the bot answers.

    Args:
        fail_status: answer every send with this status instead (failure injection), when set.
    """

    fail_status: int | None = None
    sent: list[Sent] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post(ACTIVITIES, self._receive)
        app.router.add_post(ACTIVITIES + "/{reply_to_id}", self._receive)
        app.router.add_put(ACTIVITIES + "/{reply_to_id}", self._receive)
        self._arrived = asyncio.Condition()
        self._runner, base = await serve(app)
        self.url = base + "/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.sent.append(
            Sent(
                conversation_id=request.match_info["conversation_id"],
                reply_to_id=request.match_info.get("reply_to_id"),
                body=body,
                authorization=request.headers.get("Authorization"),
            )
        )
        async with self._arrived:
            self._arrived.notify_all()
        if self.fail_status is not None:
            return web.json_response(
                {"error": {"code": "Injected", "message": "injected failure"}}, status=self.fail_status
            )
        return web.json_response({"id": f"fake-{next(self._ids)}"})

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Sent]:
        """The first ``count`` activities, waiting at most ``timeout`` seconds for them to arrive."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.sent) >= count), timeout)
        return self.sent[:count]

    def clear(self) -> None:
        self.sent.clear()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run ``app`` on 127.0.0.1 at a port the OS picks; returns the runner (to clean up) and the base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class FakeTokenIssuer:
    """The Bot Framework's token side on loopback: OpenID metadata and JWKS for a locally made RSA key.

    Point the SDK's channel validation at ``metadata_url`` and sign tokens with ``token(...)``;
    ``stranger_token(...)`` is signed by another key under the same key id (a forged signature).
    """

    kid: str = "fake-bf-key"
    endorsements: tuple[str, ...] = ("msteams", "emulator")
    metadata_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeTokenIssuer:
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid=self.kid, use="sig", endorsements=list(self.endorsements))
        app = web.Application()
        base = ""

        async def metadata(_request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "issuer": "https://api.botframework.com",
                    "jwks_uri": f"{base}/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )

        async def keys(_request: web.Request) -> web.Response:
            return web.json_response({"keys": [jwk]})

        app.router.add_get("/v1/.well-known/openidconfiguration", metadata)
        app.router.add_get("/keys", keys)
        self._runner, base = await serve(app)
        self.metadata_url = f"{base}/v1/.well-known/openidconfiguration"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def claims(self, *, app_id: str, service_url: str, lifetime: float = 3600, **extra: Any) -> dict[str, Any]:
        import time

        now = int(time.time())
        return {
            "iss": "https://api.botframework.com",
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + int(lifetime),
            **extra,
        }

    def token(self, *, app_id: str, service_url: str, lifetime: float = 3600, **extra: Any) -> str:
        import jwt

        return jwt.encode(
            self.claims(app_id=app_id, service_url=service_url, lifetime=lifetime, **extra),
            self._key,
            algorithm="RS256",
            headers={"kid": self.kid},
        )

    def stranger_token(self, *, app_id: str, service_url: str) -> str:
        import jwt

        return jwt.encode(
            self.claims(app_id=app_id, service_url=service_url),
            self._stranger,
            algorithm="RS256",
            headers={"kid": self.kid},
        )
