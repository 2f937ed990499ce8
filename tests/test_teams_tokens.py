"""Teams tokens, tightened: checked before the body is parsed, ``exp`` required, and Microsoft's keys fetched with a
deadline.

Tokens are signed by the loopback issuer of tests/fakes/bf_connector.py. A "hung" metadata endpoint
is a loopback server that accepts connections and never answers, as in the issue's probe.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import aiohttp
import jwt
import pytest
from aiohttp import web
from botframework.connector.auth import ChannelValidation, JwtTokenExtractor

from adapters import bounded_json
from adapters.teams import TeamsConfig, mount_teams
from adapters.teams.checks import token_problem
from adapters.teams.openid import OpenIdKeys, SigningKeysUnavailable
from tests.fakes.bf_connector import FakeConnector, FakeTokenIssuer, serve
from tests.test_teams_auth import (  # noqa: F401  (the fixtures "issuer" and "secured")
    APP_ID,
    FixedTokenFactory,
    bearer,
    issuer_fixture,
    secured_fixture,
)
from tests.test_teams_http import FakeCoach, fixture

DEEP = b"[" * 5000 + b"]" * 5000
KEY = "k" * 32  # for tokens whose signature nobody checks


def unexpiring_token(issuer: FakeTokenIssuer, service_url: str) -> str:
    """A token signed by the issuer's real key, whose claims say nothing of when it expires."""
    claims = issuer.claims(app_id=APP_ID, service_url=service_url)
    del claims["exp"]
    return jwt.encode(claims, issuer._key, algorithm="RS256", headers={"kid": issuer.kid})


# ---------------------------------------------------------------------- exp


async def test_a_token_without_exp_gets_401_and_nothing_is_processed(secured, issuer):
    post, connector, coach, _ = secured
    assert await post(bearer(unexpiring_token(issuer, connector.url))) == 401
    for bad_exp in (None, "tomorrow", True):
        assert await post(bearer(issuer.token(app_id=APP_ID, service_url=connector.url, exp=bad_exp))) == 401
    assert coach.seen == [] and connector.sent == []
    assert (
        await post(bearer(issuer.token(app_id=APP_ID, service_url=connector.url))) == 201
    )  # the same issuer, with exp


def test_token_problem_reads_the_form_alone():
    assert token_problem("") == "no Bearer token"
    assert token_problem("Basic dXNlcjpwYXNz") == "no Bearer token"
    assert token_problem("Bearer  two-spaces") == "no Bearer token"
    assert token_problem("Bearer a.b") == "the token is not a JWT"
    assert token_problem("Bearer ***.***.***") == "the token is not a JWT"
    deep = jwt.utils.base64url_encode(b"[" * 5000).decode()  # a claims part nested 5000 deep is refused, not parsed
    assert token_problem(f"Bearer {deep}.{deep}.sig") == "the token is not a JWT"
    assert (
        token_problem("Bearer " + jwt.encode({"iss": "x"}, KEY, algorithm="HS256")) == "the token has no expiry (exp)"
    )
    assert (
        token_problem("Bearer " + jwt.encode({"exp": 1}, KEY, algorithm="HS256")) is None
    )  # expired, but that is the SDK's to say


# ---------------------------------------------------------------------- authentication before parsing


@pytest.fixture
def parses(monkeypatch) -> list[bytes]:
    """What the server parses (request bodies, and the parts of each token)."""
    calls: list[bytes] = []
    real = bounded_json.loads

    def counting(body, **kwargs):
        calls.append(body)
        return real(body, **kwargs)

    monkeypatch.setattr(bounded_json, "loads", counting)
    return calls


async def _post_raw(url: str, raw: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=raw, headers={"Content-Type": "application/json", **headers}) as response:
            return response.status


@pytest.fixture
async def secured_url(issuer):
    connector = await FakeConnector().start()
    app = web.Application()
    mount_teams(
        app,
        FakeCoach(),
        TeamsConfig(app_id=APP_ID, app_password="not-a-real-secret"),
        credentials_factory=FixedTokenFactory(),
    )
    runner, url = await serve(app)
    yield url + "/api/messages", connector
    await runner.cleanup()
    await connector.stop()


async def test_deep_json_without_a_valid_token_gets_401_and_is_never_parsed(secured_url, issuer, parses, caplog):
    url, connector = secured_url
    forged = issuer.stranger_token(app_id=APP_ID, service_url=connector.url)
    for headers in ({}, bearer("garbage"), bearer(forged), bearer(unexpiring_token(issuer, connector.url))):
        assert await _post_raw(url, DEEP, headers) == 401
    assert DEEP not in parses
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


async def test_deep_json_with_a_valid_token_is_parsed_within_bounds_and_gets_400(secured_url, issuer, parses, caplog):
    url, connector = secured_url
    assert await _post_raw(url, DEEP, bearer(issuer.token(app_id=APP_ID, service_url=connector.url))) == 400
    assert parses.count(DEEP) == 1
    assert "Traceback" not in caplog.text


async def test_the_token_is_still_bound_to_the_activity_service_url(secured_url, issuer):
    """Checked before the body without a service URL, the token is checked again against the activity's."""
    url, connector = secured_url
    token = issuer.token(app_id=APP_ID, service_url="https://smba.trafficmanager.net/emea/")
    body = json.dumps(fixture("message_personal.json", connector.url)).encode()
    assert await _post_raw(url, body, bearer(token)) == 401
    assert connector.sent == []


# ---------------------------------------------------------------------- a hung metadata endpoint


@pytest.fixture
async def hung_endpoint():
    """A loopback server that accepts every connection and never answers; yields its OpenID metadata URL."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # kept open, never written to

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1/.well-known/openidconfiguration", held
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_hung_metadata_endpoint_gets_503_within_10_s_without_piling_up_workers(
    hung_endpoint, monkeypatch, caplog
):
    metadata_url, held = hung_endpoint
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", metadata_url)
    signer = await FakeTokenIssuer().start()  # signs well-formed tokens; its keys are never reachable here
    connector = await FakeConnector().start()
    app = web.Application()
    mount_teams(
        app,
        FakeCoach(),
        TeamsConfig(app_id=APP_ID, app_password="not-a-real-secret"),
        credentials_factory=FixedTokenFactory(),
    )
    runner, url = await serve(app)
    body = json.dumps(fixture("message_personal.json", connector.url)).encode()
    token = bearer(signer.token(app_id=APP_ID, service_url=connector.url))
    threads_before = threading.active_count()
    try:
        async with aiohttp.ClientSession() as session:

            async def post(headers: dict[str, str]) -> tuple[int, float, str | None]:
                started = time.monotonic()
                async with session.post(
                    url + "/api/messages", data=body, headers={"Content-Type": "application/json", **headers}
                ) as response:
                    return response.status, time.monotonic() - started, response.headers.get("Retry-After")

            first = await asyncio.gather(*(post(token) for _ in range(30)))
            assert {status for status, _, _ in first} == {503}
            assert max(elapsed for _, elapsed, _ in first) < 10
            assert len(held) == 1  # one fetch for the thirty requests, not one each
            status, elapsed, retry_after = await post(token)  # right after a failed fetch: no new wait
            assert status == 503 and elapsed < 1 and int(retry_after) >= 1
            status, elapsed, _ = await post(bearer("garbage"))  # a bad token needs no keys: still 401, at once
            assert status == 401 and elapsed < 1
        assert threading.active_count() <= threads_before + 1
        assert connector.sent == []
        assert "Traceback" not in caplog.text
    finally:
        await runner.cleanup()
        await connector.stop()
        await signer.stop()


# ---------------------------------------------------------------------- keys after an outage


class SwitchableMetadata:
    """Serves the issuer's OpenID metadata, or hangs while ``hang`` is set (until stopped)."""

    def __init__(self, issuer: FakeTokenIssuer) -> None:
        self.issuer = issuer
        self.hang = True
        self.url = ""
        self._stopping = asyncio.Event()

    async def start(self) -> SwitchableMetadata:
        async def metadata(_request: web.Request) -> web.Response:
            if self.hang:
                await self._stopping.wait()
                return web.Response(status=503)
            async with aiohttp.ClientSession() as session, session.get(self.issuer.metadata_url) as response:
                return web.json_response(await response.json())

        app = web.Application()
        app.router.add_get("/metadata", metadata)
        self._runner, base = await serve(app)
        self.url = base + "/metadata"
        return self

    async def stop(self) -> None:
        self._stopping.set()
        await self._runner.cleanup()


async def test_tokens_are_accepted_again_once_the_keys_can_be_fetched(monkeypatch):
    signer = await FakeTokenIssuer().start()
    endpoint = await SwitchableMetadata(signer).start()
    connector = await FakeConnector().start()
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", endpoint.url)
    app = web.Application()
    mount_teams(
        app,
        FakeCoach(),
        TeamsConfig(app_id=APP_ID, app_password="not-a-real-secret"),
        credentials_factory=FixedTokenFactory(),
    )
    # Short, for the test, but with room for a fetch on a loaded machine: at 0.3 s a fetch of both documents over
    # loopback (a new client session, two requests) sometimes timed out once the keys could be had.
    JwtTokenExtractor.metadataCache[endpoint.url] = OpenIdKeys(endpoint.url, timeout=1.0, retry_after=1.5)
    runner, url = await serve(app)
    body = json.dumps(fixture("message_personal.json", connector.url)).encode()
    token = bearer(signer.token(app_id=APP_ID, service_url=connector.url))
    try:
        assert await _post_raw(url + "/api/messages", body, token) == 503
        endpoint.hang = False
        assert await _post_raw(url + "/api/messages", body, token) == 503  # still within retry_after
        await asyncio.sleep(1.6)
        assert await _post_raw(url + "/api/messages", body, token) == 201
        assert len(connector.sent) == 1
    finally:
        await runner.cleanup()
        await endpoint.stop()
        await connector.stop()
        await signer.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_held_keys_serve_while_a_due_refresh_fails():
    signer = await FakeTokenIssuer().start()
    endpoint = await SwitchableMetadata(signer).start()
    endpoint.hang = False
    clock = Clock()
    keys = OpenIdKeys(endpoint.url, timeout=0.3, retry_after=5, clock=clock)
    try:
        assert (await keys.get(signer.kid)).endorsements == ["msteams", "emulator"]
        with pytest.raises(PermissionError):
            await keys.get("not-a-known-kid")  # fetched a moment ago: no refetch for an unknown id
        endpoint.hang = True
        clock.now += 2 * 86_400  # the keys are due for their daily refresh, which will hang
        started = time.monotonic()
        assert (await keys.get(signer.kid)).public_key is not None
        assert time.monotonic() - started < 0.1  # answered from the held keys, the refresh runs behind
        await asyncio.sleep(0.4)  # the refresh times out
        assert (await keys.get(signer.kid)).public_key is not None  # and the held keys are kept
        with pytest.raises(SigningKeysUnavailable):
            await keys.get("a-new-kid")  # a key not held, while the keys can't be fetched: unknown, not refused
    finally:
        await endpoint.stop()
        await signer.stop()
