"""Slack slash commands replayed, and Slack's entities read once: on the real Coach, over loopback HTTP.

A captured signed request stays valid for Slack's five minutes, so anyone who has one can send it
again. Commands act once per trigger_id, through the store's atomic claim, on the in-memory store,
SQLite and PostgreSQL (skipped when no server answers). Slack sends ``&``, ``<``, ``>`` as
``&amp;``, ``&lt;``, ``&gt;``; the coach gets them back once and the reply escapes them once.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest

from adapters.slack import EVENTS_PATH, translate
from bot.coach import Coach
from bot.store.memory import MemoryStore
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore
from bot.tips import Managers
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi
from tests.pg import PgTarget
from tests.slack_signing import signed_headers
from tests.test_slack_http import (
    DM,
    FORM,
    HUMAN,
    SECRET,
    TEAM,
    Harness,
    ScriptedCoach,
    blocks_of,
    fixture_text,
    start_bot,
)

MANAGER, WORKSPACE, CHANNEL = "W111", "T111", "C111"  # who sends slash_command.form.txt, and where


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path | PgTarget:
    if request.param == "memory":
        return "memory"
    return tmp_path / "coach.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_target")


@pytest.fixture
async def store(store_target: str | Path | PgTarget):
    if store_target == "memory":
        backend: Any = MemoryStore()
    elif isinstance(store_target, Path):
        backend = SQLiteStore(path=store_target)
    else:
        backend = await PostgresStore.connect(dsn=store_target.dsn, schema=store_target.schema)
    yield backend
    await backend.close()


@pytest.fixture
async def slack(api: FakeSlackApi, store: Any):
    coach = Coach(
        knowledge=shipped_knowledge(), store=store, clock=Clock(), managers=Managers.parse(f"slack:{MANAGER}")
    )
    runner, url = await start_bot(api, coach)
    async with aiohttp.ClientSession() as session:
        yield Harness(api, url, session, coach)
    await runner.cleanup()


def signed_command(
    text: str, *, command: str = "/tip", trigger_id: str | None = "4242.1717.abcdef", response_url: str
) -> tuple[bytes, dict[str, str]]:
    """One signed slash command, frozen: the exact bytes and headers a replay sends again."""
    fields = dict(parse_qsl(fixture_text("slash_command.form.txt"), keep_blank_values=True))
    fields.update(command=command, text=text, response_url=response_url)
    if trigger_id is None:
        del fields["trigger_id"]
    else:
        fields["trigger_id"] = trigger_id
    body = urlencode(fields).encode()
    return body, signed_headers(SECRET, body, content_type=FORM)


async def send(slack: Harness, body: bytes, headers: dict[str, str]) -> int:
    async with slack.session.post(slack.url + EVENTS_PATH, data=body, headers=headers) as response:
        return response.status


async def test_a_replayed_tip_add_queues_one_tip(slack: Harness, store: Any):
    body, headers = signed_command("add Greet every caller by name", response_url=slack.api.response_url("add"))
    statuses = [await send(slack, body, headers) for _ in range(5)]
    assert statuses == [200] * 5
    await slack.api.wait_for(RESPONSE_URL)
    await slack.api.settle()
    assert [t["text"] for t in await store.queued_tips("slack", WORKSPACE)] == ["Greet every caller by name"]
    assert len(slack.api.of(RESPONSE_URL)) == 1  # the replays got a 200 and nothing else


async def test_replays_sent_all_at_once_still_act_once(slack: Harness, store: Any):
    body, headers = signed_command(
        "add Smile when you pick up", trigger_id="777.888.999", response_url=slack.api.response_url("burst")
    )
    assert await asyncio.gather(*(send(slack, body, headers) for _ in range(5))) == [200] * 5
    await slack.api.wait_for(RESPONSE_URL)
    await slack.api.settle()
    assert len(await store.queued_tips("slack", WORKSPACE)) == 1 and len(slack.api.of(RESPONSE_URL)) == 1


async def test_every_state_changing_tip_word_acts_once_per_trigger(slack: Harness, store: Any):
    words = ["add First tip", "subscribe", "schedule friday 14:30", "remove 1", "unsubscribe", "post-now"]
    for number, words_said in enumerate(words):
        body, headers = signed_command(
            words_said, trigger_id=f"100.{number}.x", response_url=slack.api.response_url(f"w{number}")
        )
        for _ in range(3):
            assert await send(slack, body, headers) == 200
        await slack.api.wait_for(RESPONSE_URL, number + 1)
    await slack.api.settle()
    assert [call.path for call in slack.api.of(RESPONSE_URL)] == [f"/response/w{n}" for n in range(len(words))]
    assert await store.queued_tips("slack", WORKSPACE) == []  # added once, removed once
    assert (await store.get_tip_schedule("slack", WORKSPACE))["weekday"] == 4  # Friday


async def test_two_real_invocations_of_the_same_text_both_act(slack: Harness, store: Any):
    for trigger in ("1.1.a", "1.2.b"):
        body, headers = signed_command(
            "add Same words twice", trigger_id=trigger, response_url=slack.api.response_url(trigger)
        )
        assert await send(slack, body, headers) == 200
    await slack.api.wait_for(RESPONSE_URL, 2)
    assert [t["text"] for t in await store.queued_tips("slack", WORKSPACE)] == ["Same words twice"] * 2


async def test_a_trigger_id_shared_by_two_different_commands_is_not_a_replay(slack: Harness, store: Any):
    """A replay says exactly what the original said (the signature covers it); recorded fixtures reuse one
    trigger_id."""
    for number, text in enumerate(("add One", "add Two")):
        body, headers = signed_command(
            text, trigger_id="111.111.xxx", response_url=slack.api.response_url(f"s{number}")
        )
        assert await send(slack, body, headers) == 200
        assert await send(slack, body, headers) == 200
    await slack.api.wait_for(RESPONSE_URL, 2)
    await slack.api.settle()
    assert [t["text"] for t in await store.queued_tips("slack", WORKSPACE)] == ["One", "Two"] and len(
        slack.api.of(RESPONSE_URL)
    ) == 2


async def test_without_a_trigger_id_the_signature_tells_a_replay(slack: Harness, store: Any):
    body, headers = signed_command("add No trigger here", trigger_id=None, response_url=slack.api.response_url("nt"))
    for _ in range(3):
        assert await send(slack, body, headers) == 200
    await slack.api.wait_for(RESPONSE_URL)
    await slack.api.settle()
    assert len(await store.queued_tips("slack", WORKSPACE)) == 1


async def test_a_replayed_dm_is_answered_once(slack: Harness):
    """Events were de-duplicated before (event_id); this pins it next to the commands."""
    dm = slack.fresh("event_message_im.json", text="customer is furious, wants a refund")
    dm["event"].pop("blocks")
    body = json.dumps(dm)
    headers = signed_headers(SECRET, body, content_type="application/json")
    for _ in range(4):
        assert await send(slack, body.encode(), headers) == 200
    await slack.api.wait_for("chat.postMessage")
    await slack.api.settle()
    assert len(slack.api.of("chat.postMessage")) == 1


# ---------------------------------------------------------------------------------------- entities, once


async def test_tip_with_ampersand_is_stored_plain_and_shown_escaped_once(slack: Harness, store: Any):
    # What Slack sends when a manager types: tip add Fish & chips <3 on Friday, R&amp;D's &lt;tip&gt;
    slack_text = "add Fish &amp; chips &lt;3 on Friday, R&amp;amp;D's &amp;lt;tip&amp;gt;"
    body, headers = signed_command(slack_text, trigger_id="5.5.5", response_url=slack.api.response_url("amp"))
    assert await send(slack, body, headers) == 200
    reply = (await slack.api.wait_for(RESPONSE_URL))[0]
    typed = "Fish & chips <3 on Friday, R&amp;D's &lt;tip&gt;"
    assert [t["text"] for t in await store.queued_tips("slack", WORKSPACE)] == [typed]
    shown = json.dumps(reply.body["blocks"], ensure_ascii=False)
    assert translate.escape(typed) in shown  # Fish &amp; chips &lt;3 ... R&amp;amp;D's &amp;lt;tip&amp;gt;
    assert "Fish &amp;amp; chips" not in shown and "&amp;lt;3" not in shown


async def test_dm_text_reaches_the_coach_unescaped_and_goes_back_escaped_once(slack: Harness):
    dm = slack.fresh("event_message_im.json", text="customer furious &amp; shouting, refund &lt;now&gt;")
    dm["event"].pop("blocks")
    await slack.event(dm)
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    shown = json.dumps(blocks_of(posted), ensure_ascii=False) + posted.body["text"]
    assert "&amp;amp;" not in shown and "&amp;lt;" not in shown


@pytest.fixture
async def scripted(api: FakeSlackApi):
    coach = ScriptedCoach()
    api.identity.update(user_id="W111", bot_id="B111", team_id="T111")
    runner, url = await start_bot(api, coach)
    async with aiohttp.ClientSession() as session:
        yield Harness(api, url, session, coach)
    await runner.cleanup()


@pytest.mark.parametrize(
    ("slack_text", "typed"),
    [
        ("fish &amp; chips", "fish & chips"),
        ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
        ("R&amp;amp;D", "R&amp;D"),  # someone typed the entity itself: it stays an entity
        ("a &amp;lt; b", "a &lt; b"),
        ("no entities here", "no entities here"),
    ],
)
async def test_event_and_command_text_are_unescaped_exactly_once(scripted: Harness, slack_text: str, typed: str):
    dm = scripted.fresh("event_message_im_bolt.json", text=slack_text)
    mention = scripted.fresh("event_app_mention_channel.json", text=f"<@W111> {slack_text}")
    await scripted.event(dm)
    await scripted.event(mention)
    await scripted.command("/coach", slack_text)
    await scripted.api.wait_for(RESPONSE_URL)
    await scripted.api.wait_for("chat.postMessage", 2)
    assert sorted(i.text for i in scripted.coach.seen) == [typed] * 3


def test_unescape_undoes_slacks_escaping_and_nothing_else():
    assert translate.unescape("&amp;amp; &amp;lt; &lt;&gt; &quot; &#39; &nbsp;") == "&amp; &lt; <> &quot; &#39; &nbsp;"
    assert (
        translate.event_to_incoming(
            {"channel": DM, "user": HUMAN, "text": "<@W1> a &amp; b <@U2>", "channel_type": "im"},
            team=TEAM,
            bot_user_id="W1",
        ).text
        == "a & b <@U2>"
    )
    assert (
        translate.command_to_incoming({"command": "/checklist", "text": "bakery &amp; caf\u00e9"}).text
        == "checklist bakery & caf\u00e9"
    )
