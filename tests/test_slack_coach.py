"""Slack end to end on the real Coach and the shipped knowledge: signed requests in, fake Web API out."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.slack import translate
from bot.coach import Coach
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi
from tests.test_slack_http import DM, HUMAN, TEAM, Harness, blocks_of, buttons, header, start_bot

VAGUE = "cx on the line, need help"
RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"


@pytest.fixture
async def slack(api: FakeSlackApi, coach: Coach):
    runner, url = await start_bot(api, coach)
    async with aiohttp.ClientSession() as session:
        yield Harness(api, url, session, coach)
    await runner.cleanup()


def within_limits(blocks: list[dict], limit: int = translate.MAX_MESSAGE_BLOCKS) -> bool:
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    return (
        len(blocks) <= limit
        and all(len(t) <= 3000 for t in sections)
        and all(len(t) <= 150 for t in headers)
        and all(len(e["text"]["text"]) <= 75 and len(e["value"]) <= 2000 for e in buttons(blocks))
    )


async def test_dm_dialog_from_opening_to_answer(slack: Harness):
    dm = slack.fresh("event_message_im.json", text=VAGUE)
    dm["event"].pop("blocks")
    await slack.event(dm)
    question = (await slack.api.wait_for("chat.postMessage"))[0]
    blocks = blocks_of(question)
    assert question.body["channel"] == DM and within_limits(blocks)
    assert len(buttons(blocks)) >= 3
    ts = question.answer["ts"]
    for clicks in range(1, 4):  # at most three questions; a complaint, then the first of each, has lines to say
        choice = next((b for b in buttons(blocks) if "Complaint" in b["text"]["text"]), buttons(blocks)[0])
        await slack.click(choice, channel=DM, user=HUMAN, team=TEAM, message_ts=ts)
        update = (await slack.api.wait_for("chat.update", clicks))[-1]
        assert update.body["ts"] == ts
        blocks = blocks_of(update)
        assert within_limits(blocks)
        if " interaction · " in header(blocks):
            break
    assert " interaction · " in header(blocks)
    assert any(
        b["type"] == "section" and b["text"]["text"].startswith("*Say") and "\n1. " in b["text"]["text"] for b in blocks
    )
    await slack.api.settle()
    assert len(slack.api.of("chat.postMessage")) == 1


async def test_mention_is_answered_in_its_thread(slack: Harness):
    slack.api.identity.update(user_id="W111", bot_id="B111", team_id="T111")
    mention = slack.fresh("event_app_mention_channel.json", text=f"<@W111> {RICH}")
    await slack.event(mention)
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    assert posted.body["thread_ts"] == mention["event"]["ts"]
    blocks = blocks_of(posted)
    assert header(blocks).startswith("Critical interaction · Angry customer") and within_limits(blocks)
    more = [b for b in buttons(blocks) if b["text"]["text"] == "More"]
    if more:  # the full script replaces the short one in place
        await slack.click(
            more[0],
            channel="C111",
            user="W222",
            team="T111",
            message_ts=posted.answer["ts"],
            thread_ts=mention["event"]["ts"],
        )
        expanded = blocks_of((await slack.api.wait_for("chat.update"))[0])
        assert header(expanded).startswith("Critical interaction") and within_limits(expanded)


async def test_each_slash_command_on_the_shipped_knowledge(slack: Harness, coach: Coach):
    department = next(iter(coach.knowledge.departments.values()))
    expected = {
        ("/coach", ""): "Frontline Coach: how to use me",
        ("/checklist", department.id): f"Checklist: {department.name}",
        ("/tip", ""): "Tip of the week",
    }
    for number, ((command, text), title) in enumerate(expected.items(), start=1):
        assert (await slack.command(command, text, response_url=f"c{number}"))[0] == 200
        sent = (await slack.api.wait_for(RESPONSE_URL, number))[-1]
        assert sent.body["response_type"] == "ephemeral" and header(sent.body["blocks"]) == title
        assert within_limits(sent.body["blocks"])
    await slack.command("/coach", RICH, response_url="rich")
    answer = (await slack.api.wait_for(RESPONSE_URL, 4))[-1]
    assert header(answer.body["blocks"]).startswith("Critical interaction · Angry customer")


async def test_app_home_on_the_shipped_knowledge(slack: Harness, coach: Coach):
    await slack.event(slack.fresh("event_app_home_opened_home.json"))
    view = (await slack.api.wait_for("views.publish"))[0].body["view"]
    assert within_limits(view["blocks"], translate.MAX_HOME_BLOCKS)
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers[:2] == ["Tip of the week", "Frontline Coach: how to use me"]
    assert sum(h.startswith("Checklist: ") for h in headers) == len(coach.knowledge.departments)
