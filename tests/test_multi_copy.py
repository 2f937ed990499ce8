"""Several ``python app.py serve`` copies on one PostgreSQL database behave as one bot.

Each test starts real child processes on loopback, with DATABASE_URL on a throw-away schema
(``?search_path=``, see tests/pg.py) and Slack pointed at the fake Web API in this process. The
database is cut and restored with the TCP proxy of tests/pg.py. Skipped, with the reason, when no
PostgreSQL answers or when the knowledge a copy would load is not complete.

Not here: the weekly tips of the tips issue (two tip runs for one week on both copies giving one
post per channel); they are tested with the tips themselves.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bot.coach import STORE_APOLOGY
from bot.store.postgres import PostgresStore
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi
from tests.pg import PgTarget, TcpProxy, via
from tests.test_ops import Served, knowledge_or_skip, sample, serve_env
from tests.test_slack_http import DM, HUMAN, TEAM, Harness, blocks_of, buttons, header

VAGUE = "cx on the line, need help"
RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"
ROUNDS = 20  # events sent four times each (two copies, with and without the retry headers)


def database_url(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def start(pg_target: PgTarget, api: FakeSlackApi, session: aiohttp.ClientSession, tmp_path: Path):
    """``await start(n, dsn=...)``: n ready copies on the test schema (through ``dsn``, the direct one by default)."""
    knowledge_or_skip()
    started: list[Served] = []

    async def start_copies(count: int = 2, *, dsn: str | None = None, ready: bool = True, **env: str) -> list[Served]:
        url = database_url(dsn or pg_target.dsn, pg_target.schema)
        copies = list(
            await asyncio.gather(
                *(
                    Served.start(serve_env(api, tmp_path / f"copy{len(started) + n}", DATABASE_URL=url, **env))
                    for n in range(count)
                )
            )
        )
        started.extend(copies)
        if ready:
            await asyncio.gather(*(copy.until(session, "/readyz", 200) for copy in copies))
        return copies

    yield start_copies
    codes = await asyncio.gather(*(copy.stop() for copy in started))
    assert codes == [0] * len(started), "\n\n".join(copy.log for copy in started)


async def dialogs(target: PgTarget) -> dict[str, dict]:
    con = await asyncpg.connect(target.dsn)
    try:
        rows = await con.fetch(f'SELECT key, state FROM "{target.schema}".dialogs')
    finally:
        await con.close()
    return {row["key"]: json.loads(row["state"]) for row in rows}


async def total(copies: list[Served], session: aiohttp.ClientSession, name: str, **labels: str) -> float:
    texts = [await copy.metrics(session) for copy in copies]
    return sum(sample(text, name, **labels) for text in texts)


# ---------------------------------------------------------------------------------------- shared state


async def test_a_dialog_opened_on_one_copy_continues_on_the_other(
    start, api: FakeSlackApi, session, pg_target: PgTarget
):
    a, b = await start(2)
    slack = Harness(api, a.url, session, None)
    dm = slack.fresh("event_message_im.json", text=VAGUE, ts="1700000100.000001")
    dm["event"].pop("blocks", None)
    assert (await slack.event(dm))[0] == 200
    question = (await api.wait_for("chat.postMessage", timeout=10))[0]
    blocks = blocks_of(question)
    assert buttons(blocks), "the vague opening should be answered with a question"
    (opened,) = (await dialogs(pg_target)).values()
    assert opened["pending"] and not opened["answers"]

    copies, clicks = [b, a, b], 0
    for copy in copies:  # each answer goes to the other copy than the turn before
        slack.url = copy.url
        clicks += 1
        await slack.click(buttons(blocks)[0], channel=DM, user=HUMAN, team=TEAM, message_ts=question.answer["ts"])
        update = (await api.wait_for("chat.update", clicks, timeout=10))[-1]
        blocks = blocks_of(update)
        (state,) = (await dialogs(pg_target)).values()
        assert state["id"] == opened["id"] and len(state["answers"]) == clicks, (
            f"copy {copy.url} did not continue the dialog: {header(blocks)}"
        )
        if " interaction · " in header(blocks):
            break
    assert " interaction · " in header(blocks)
    await api.settle()
    assert len(api.of("chat.postMessage")) == 1 and len(api.of("chat.update")) == clicks
    assert await total([a, b], session, "coach_turns_total", platform="slack") == 1 + clicks
    assert await total([a, b], session, "coach_identified_total") == 1
    assert sample(await a.metrics(session), "coach_turns_total", platform="slack") >= 1
    assert sample(await b.metrics(session), "coach_turns_total", platform="slack") >= 1


async def test_abandoned_dialogs_are_swept_at_start_by_the_shared_lock(start, pg_target: PgTarget):
    store = await PostgresStore.connect(dsn=pg_target.dsn, schema=pg_target.schema)
    try:
        await store.put_dialog("slack\x1fT\x1fD\x1fold", {"id": "old"}, 1_000.0)
        await store.put_dialog("slack\x1fT\x1fD\x1fnew", {"id": "new"}, 4_102_444_800.0)  # touched in 2100
    finally:
        await store.close()
    await start(2)
    assert set(await dialogs(pg_target)) == {"slack\x1fT\x1fD\x1fnew"}


# ---------------------------------------------------------------------------------------- exactly once across copies


async def test_an_event_and_its_retries_on_both_copies_at_once_give_one_reply(start, api: FakeSlackApi, session):
    a, b = await start(2)
    to_a = Harness(api, a.url, session, None)
    to_b = Harness(api, b.url, session, None)
    for n in range(1, ROUNDS + 1):
        body = to_a.fresh("event_message_im.json", text=RICH, ts=f"1700000200.{n:06d}", user=f"U{n:05d}")
        body["event"].pop("blocks", None)
        answers = await asyncio.gather(
            to_a.event(body), to_b.event(body), to_a.event(body, retry_num=1), to_b.event(body, retry_num=2)
        )
        assert [status for status, _ in answers] == [200] * 4
    await api.wait_for("chat.postMessage", ROUNDS, timeout=20)
    await api.settle(0.3)
    assert len(api.of("chat.postMessage")) == ROUNDS
    assert await total([a, b], session, "coach_dedupe_hits_total", scope="slack-event") == 3 * ROUNDS
    assert await total([a, b], session, "coach_turns_total", platform="slack") == ROUNDS


# ---------------------------------------------------------------------------------------- a database that goes away


async def command(slack: Harness, name: str, text: str = RICH) -> str:
    """Send /coach ``text`` with its own response_url; the header of what the bot posted there."""
    assert (await slack.command("/coach", text, response_url=name))[0] == 200
    for _ in range(200):
        sent = [c for c in slack.api.of(RESPONSE_URL) if c.path.endswith("/" + name)]
        if sent:
            return header(sent[0].body["blocks"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing posted to response_url {name}")


async def test_lost_database_apologises_reports_not_ready_and_recovers(
    start, api: FakeSlackApi, session, pg_target: PgTarget
):
    proxy = TcpProxy.for_dsn(pg_target.dsn)
    await proxy.start()
    try:
        (copy,) = await start(1, dsn=via(pg_target.dsn, proxy.host, proxy.port))
        slack = Harness(api, copy.url, session, None)
        assert await command(slack, "before") != STORE_APOLOGY.title

        await proxy.cut()
        await copy.until(session, "/readyz", 503)
        assert await copy.status(session, "/healthz") == 200
        assert await command(slack, "during") == STORE_APOLOGY.title
        dm = slack.fresh("event_message_im.json", text=RICH, ts="1700000300.000001")
        dm["event"].pop("blocks", None)
        assert (await slack.event(dm))[0] >= 500  # not acknowledged: Slack delivers it again later
        text = await copy.metrics(session)
        assert sample(text, "coach_errors_total", source="slack", error="StoreUnavailable") >= 1
        assert sample(text, "coach_ready") == 0

        await proxy.restore()
        await copy.until(session, "/readyz", 200, within=30)
        assert await command(slack, "after") != STORE_APOLOGY.title
        assert (await slack.event(dm, retry_num=1))[0] == 200  # Slack's retry is taken now, once
        await api.wait_for("chat.postMessage", 1, timeout=10)
        await api.settle()
        assert len(api.of("chat.postMessage")) == 1
        assert copy.process.returncode is None
    finally:
        await proxy.stop()


async def test_a_copy_started_while_the_database_is_down_serves_then_connects(
    start, api: FakeSlackApi, session, pg_target: PgTarget
):
    proxy = TcpProxy.for_dsn(pg_target.dsn)
    await proxy.start()
    await proxy.cut()  # nothing listens on the proxy's port until restore()
    try:
        (copy,) = await start(1, dsn=via(pg_target.dsn, proxy.host, proxy.port), ready=False)
        assert await copy.status(session, "/healthz") == 200
        assert await copy.status(session, "/readyz") == 503
        slack = Harness(api, copy.url, session, None)
        assert await command(slack, "down") == STORE_APOLOGY.title
        await proxy.restore()
        await copy.until(session, "/readyz", 200, within=30)
        assert await command(slack, "up") != STORE_APOLOGY.title
        assert "storage connected" in copy.log
    finally:
        await proxy.stop()
