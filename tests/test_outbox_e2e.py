"""Nothing acknowledged is lost: a copy killed with -9 while Slack is slow to take its posts.

Thirty DMs, each from another agent, are sent to one served copy while the fake Web API takes
0.4 s to accept a post; every one is acknowledged, then the copy is killed with SIGKILL. What it
had not sent waits in the store's outbox (adapters/outbox.py): a restarted copy on the same SQLite
file, or the other copy on the same PostgreSQL database, sends it once the dead copy's lease has
run out. Every DM gets its answer; only a post in flight at the kill may come twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from adapters.outbox import LEASE, SWEEP_EVERY
from tests.fakes.slack_api import FakeSlackApi
from tests.pg import PgTarget
from tests.test_multi_copy import database_url
from tests.test_ops import Served, knowledge_or_skip, serve_env
from tests.test_slack_http import Harness

AGENTS = 30
RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"
WAIT = LEASE + 3 * SWEEP_EVERY + 15  # the lease, a few sweeps, and thirty slow posts one after another


@pytest.fixture
async def api():
    fake = await FakeSlackApi().start()
    yield fake
    await fake.stop()


async def dms_then_kill(copy: Served, api: FakeSlackApi, session: aiohttp.ClientSession) -> list[str]:
    """Send AGENTS DMs at once, all acknowledged, then SIGKILL the copy; the DM channels, one per agent."""
    slack = Harness(api, copy.url, session, None)
    await slack.event(
        slack.fresh("event_message_im.json", text="warm up", ts="1700000000.000001", user="UWARM", channel="DWARM")
    )
    await api.wait_for("chat.postMessage")
    api.calls.clear()
    api.post_delay = 0.4
    channels = [f"DKILL{n:02d}" for n in range(AGENTS)]
    bodies = [
        slack.fresh("event_message_im.json", text=RICH, ts=f"1700000001.{n:06d}", user=f"UKILL{n:02d}", channel=c)
        for n, c in enumerate(channels)
    ]
    answers = await asyncio.gather(*(slack.event(body) for body in bodies))
    assert [status for status, _ in answers] == [200] * AGENTS
    copy.process.kill()
    await copy.process.wait()
    return channels


def in_flight(api: FakeSlackApi) -> set[str]:
    """The DM channels whose post had reached Slack (taken or not) by now: only these may be posted twice."""
    return {c.body.get("channel") for c in api.received if c.method == "chat.postMessage"}


async def every_channel_answered(api: FakeSlackApi, channels: list[str]) -> Counter:
    deadline = time.monotonic() + WAIT
    while True:
        posted = Counter(c.body.get("channel") for c in api.of("chat.postMessage"))
        if all(posted[c] for c in channels) or time.monotonic() > deadline:
            return posted
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_kill_9_on_sqlite_loses_no_acknowledged_dm_after_a_restart(api: FakeSlackApi, tmp_path: Path):
    knowledge_or_skip()
    env = serve_env(api, tmp_path, COACH_DB=str(tmp_path / "coach.db"))
    async with aiohttp.ClientSession() as session:
        first = await Served.start(env)
        await first.until(session, "/readyz", 200)
        channels = await dms_then_kill(first, api, session)
        reached = in_flight(api)
        api.post_delay = 0.0
        second = await Served.start(env)
        try:
            posted = await every_channel_answered(api, channels)
            missing = [c for c in channels if not posted[c]]
            assert not missing, f"{len(missing)} acknowledged DMs never answered:\n{second.log}"
            assert max(posted[c] for c in channels) <= 2  # a second copy only of what was in flight at the kill
            assert {c for c in channels if posted[c] > 1} <= reached
        finally:
            assert await second.stop() == 0


async def test_kill_9_on_postgres_the_surviving_copy_delivers(api: FakeSlackApi, tmp_path: Path, pg_target: PgTarget):
    knowledge_or_skip()
    url = database_url(pg_target.dsn, pg_target.schema)
    async with aiohttp.ClientSession() as session:
        copies = await asyncio.gather(
            *(Served.start(serve_env(api, tmp_path / f"copy{n}", DATABASE_URL=url)) for n in range(2))
        )
        await asyncio.gather(*(c.until(session, "/readyz", 200) for c in copies))
        doomed, survivor = copies
        try:
            channels = await dms_then_kill(doomed, api, session)
            reached = in_flight(api)
            api.post_delay = 0.0
            posted = await every_channel_answered(api, channels)
            missing = [c for c in channels if not posted[c]]
            assert not missing, f"{len(missing)} acknowledged DMs never answered:\n{survivor.log}"
            assert max(posted[c] for c in channels) <= 2
            assert {c for c in channels if posted[c] > 1} <= reached
        finally:
            assert await survivor.stop() == 0
