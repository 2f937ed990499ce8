"""Fuzzing the Teams endpoint with mutated activities: never a 5xx, never a traceback or an error in the log.

Hypothesis takes the shared Teams fixtures and mutates up to three places in each (a field deleted,
or replaced by any JSON value, a hostile string or deep nesting), or cuts the encoded body short.
Each case goes over loopback HTTP to the real CloudAdapter with the real Coach (auth off, as with
the Emulator), replies to the fake connector. Bounded: 150 cases, derandomized (the same cases on
every run), two seconds each at most.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.teams import TeamsConfig, mount_teams
from bot.coach import Coach
from bot.store.memory import MemoryStore
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.bf_connector import FakeConnector, serve
from tests.test_teams_http import FIXTURES

SERVICE_URL = "{connector}"  # replaced by the fake connector's URL when sent, unless a mutation changed it
DEEP = "{deep}"  # replaced by arrays nested that deep in the encoded body (json.dumps itself stops near 1000)
BODIES = sorted(path.name for path in FIXTURES.glob("*.json") if path.name != "http_request_headers.json")
HOSTILE = [
    "",
    " ",
    "\r\n",
    "a\r\nb",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "\u2028",
    "😡",
    "ß" * 3,
    "x" * 600,
    "<at>Frontline Coach</at>",
    "tip add x",
    "d|abc|q1|angry",
    "http://[::1",
    "https://",
    "../../",
    "%0d%0a",
    "19:a@thread.skype;messageid=1",
    "NaN",
]


class LoopThread:
    """The servers on an event loop of their own, so that Hypothesis (synchronous) can drive them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Endpoint:
    async def start(self) -> Endpoint:
        self.connector = await FakeConnector().start()
        coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore(), clock=Clock())
        app = web.Application()
        mount_teams(app, coach, TeamsConfig())
        self.runner, self.url = await serve(app)
        self.session = aiohttp.ClientSession()
        return self

    async def post(self, raw: bytes) -> int:
        raw = raw.replace(SERVICE_URL.encode(), self.connector.url.encode())
        async with self.session.post(
            self.url + "/api/messages", data=raw, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            return response.status

    async def stop(self) -> None:
        await self.session.close()
        await self.runner.cleanup()
        await self.connector.stop()


@pytest.fixture(scope="module")
def endpoint():
    loop = LoopThread()
    served = loop.run(Endpoint().start())
    yield loop, served
    loop.run(served.stop())
    loop.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(HOSTILE),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


def _places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every key and index path in ``value``, the root excluded."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append(path + (key,))
        found.extend(_places(child, path + (key,)))
    return found


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    body = json.loads((FIXTURES / draw(st.sampled_from(BODIES))).read_text())
    body["serviceUrl"] = SERVICE_URL
    for _ in range(draw(st.integers(1, 3))):
        places = _places(body)
        if not places:
            break
        *parents, last = draw(st.sampled_from(places))
        target = body
        for key in parents:
            target = target[key]
        action = draw(st.sampled_from(["delete", "replace", "hostile", "deep"]))
        if action == "delete":
            del target[last]
        elif action == "replace":
            target[last] = draw(json_values)
        elif action == "hostile":
            target[last] = draw(st.sampled_from(HOSTILE))
        else:
            target[last] = DEEP
    raw = json.dumps(body).encode()  # lone surrogates go out as \ud800 escapes, as a hostile client would write them
    levels = draw(st.integers(60, 5000))
    raw = raw.replace(json.dumps(DEEP).encode(), b"[" * levels + b"]" * levels)
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=mutated_bodies())
def test_mutated_activities_get_no_5xx_and_log_no_traceback(endpoint, caplog, raw):
    loop, served = endpoint
    caplog.clear()
    with caplog.at_level(logging.INFO):
        status = loop.run(served.post(raw))
    assert status < 500, caplog.text
    for record in caplog.records:
        assert record.levelno < logging.ERROR, record.getMessage()
        assert record.exc_info is None and "Traceback" not in record.getMessage(), record.getMessage()
