"""Teams with an app id set: every request needs a valid Bot Framework token, checked off the event loop.

Tokens are signed here with a locally made RSA key; the SDK's own channel validation reads the key
from a loopback OpenID/JWKS fake. Outbound replies use a credentials factory with a fixed token,
so nothing talks to Azure AD.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import aiohttp
import pytest
from aiohttp import web
from botframework.connector.auth import AppCredentials, ChannelValidation, ServiceClientCredentialsFactory

from adapters.teams import TEAMS_AUTH_KEY, TeamsConfig, mount_teams
from tests.fakes.bf_connector import FakeConnector, FakeTokenIssuer, serve
from tests.test_teams_http import FakeCoach, fixture

APP_ID = "00000000-1111-2222-3333-444444444444"
OUTBOUND_TOKEN = "outbound-test-token"


class FixedTokenCredentials(AppCredentials):
    def get_access_token(self, force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN


class FixedTokenFactory(ServiceClientCredentialsFactory):
    """The bot's own credentials, minus the trip to Azure AD."""

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == APP_ID

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool):
        return FixedTokenCredentials(app_id=app_id, oauth_scope=oauth_scope)


@pytest.fixture(name="issuer")  # named apart from its function so that modules importing it can take `issuer`
async def issuer_fixture(monkeypatch):
    fake = await FakeTokenIssuer().start()
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", fake.metadata_url)
    yield fake
    await fake.stop()


@pytest.fixture(name="secured")
async def secured_fixture(issuer: FakeTokenIssuer):
    connector = await FakeConnector().start()
    coach = FakeCoach()
    app = web.Application()
    config = TeamsConfig(app_id=APP_ID, app_password="not-a-real-secret")
    mount_teams(app, coach, config, credentials_factory=FixedTokenFactory())
    runner, url = await serve(app)
    async with aiohttp.ClientSession() as session:

        async def post(headers: dict[str, str], body=None) -> int:
            body = body or fixture("message_personal.json", connector.url)
            async with session.post(url + "/api/messages", json=body, headers=headers) as response:
                return response.status

        yield post, connector, coach, app
    await runner.cleanup()
    await connector.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_token_is_accepted_and_the_reply_carries_the_bot_token(secured, issuer):
    post, connector, coach, _ = secured
    token = issuer.token(app_id=APP_ID, service_url=connector.url)
    assert await post(bearer(token)) == 201
    (sent,) = connector.sent
    assert sent.authorization == f"Bearer {OUTBOUND_TOKEN}"
    assert len(coach.seen) == 1


def _forged_none_alg(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'fake-bf-key'})}.{part(claims)}."


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda issuer, url: {}, id="missing header"),
        pytest.param(lambda issuer, url: {"Authorization": ""}, id="empty header"),
        pytest.param(lambda issuer, url: bearer("garbage"), id="garbage bearer"),
        pytest.param(lambda issuer, url: bearer("a.b.c"), id="three garbage parts"),
        pytest.param(lambda issuer, url: {"Authorization": "Basic dXNlcjpwYXNz"}, id="basic auth"),
        pytest.param(lambda issuer, url: {"Authorization": "Bearer"}, id="bearer without token"),
        pytest.param(
            lambda issuer, url: bearer(issuer.token(app_id=APP_ID, service_url=url, lifetime=-3600)), id="expired"
        ),
        pytest.param(
            lambda issuer, url: bearer(issuer.stranger_token(app_id=APP_ID, service_url=url)), id="wrongly signed"
        ),
        pytest.param(
            lambda issuer, url: bearer(issuer.token(app_id="another-bot", service_url=url)), id="other audience"
        ),
        pytest.param(
            lambda issuer, url: bearer(issuer.token(app_id=APP_ID, service_url="https://evil.example/")),
            id="other service url",
        ),
        pytest.param(
            lambda issuer, url: bearer(issuer.token(app_id=APP_ID, service_url=url, iss="https://evil.example")),
            id="other issuer",
        ),
        pytest.param(
            lambda issuer, url: bearer(_forged_none_alg(issuer.claims(app_id=APP_ID, service_url=url))), id="alg none"
        ),
    ],
)
async def test_bad_or_missing_tokens_get_401_and_nothing_is_processed(secured, issuer, make_headers):
    post, connector, coach, _ = secured
    assert await post(make_headers(issuer, connector.url)) == 401
    assert coach.seen == [] and connector.sent == []
    assert (
        await coach.store.get_conversation("teams", fixture("message_personal.json", "")["conversation"]["id"]) is None
    )


async def test_unknown_key_id_gets_401(secured, issuer):
    post, connector, coach, _ = secured
    issuer.kid, real = "another-kid", issuer.kid
    token = issuer.token(app_id=APP_ID, service_url=connector.url)
    issuer.kid = real
    assert await post(bearer(token)) == 401
    assert coach.seen == []


async def test_welcome_needs_a_token_too(secured):
    post, connector, _, _ = secured
    body = fixture("conversation_update_bot_added_team.json", connector.url)
    assert await post({}, body) == 401
    assert connector.sent == []


async def test_token_checks_do_not_block_the_event_loop(secured, issuer):
    """The loop keeps ticking while a batch of tokens is checked (the SDK's checks run in worker threads)."""
    post, connector, _, _ = secured
    token = issuer.token(app_id=APP_ID, service_url=connector.url)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    statuses = await asyncio.gather(
        *(post(bearer(token)) for _ in range(10)), *(post(bearer("garbage")) for _ in range(10))
    )
    done.set()
    await tick
    assert sorted(statuses) == [201] * 10 + [401] * 10
    assert max(gaps) < 0.25, f"event loop stalled {max(gaps) * 1000:.0f} ms"


async def test_connector_clients_are_reused_across_turns(secured, issuer):
    post, connector, _, app = secured
    token = issuer.token(app_id=APP_ID, service_url=connector.url)
    for _ in range(3):
        assert await post(bearer(token)) == 201
    cache = app[TEAMS_AUTH_KEY]._cache
    assert len(cache._clients) == 1
    assert len(connector.sent) == 3
