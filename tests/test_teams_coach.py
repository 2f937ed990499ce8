"""Teams end to end with the real Coach: a 1:1 dialog to its answer, card buttons, and each command."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from adapters.teams import TeamsConfig, mount_teams
from bot.coach import Coach
from bot.store.memory import MemoryStore
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.bf_connector import FakeConnector, serve
from tests.test_teams_http import fixture

VAGUE = "cx on the line, need help"
# A double charge leads with the billing situation's two lines, so the card must number both.
RICH = "customer is furious and shouting, charged twice for one delivery"


@pytest.fixture
async def teams():
    coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore(), clock=Clock())
    connector = await FakeConnector().start()
    app = web.Application()
    mount_teams(app, coach, TeamsConfig())
    runner, url = await serve(app)
    async with aiohttp.ClientSession() as session:
        counter = iter(range(1, 10_000))

        async def say(
            text: str | None = None, *, value: dict | None = None, name: str = "message_personal.json"
        ) -> dict:
            """Send one message or card submit; return the card of the single reply."""
            body = fixture(name, connector.url)
            body["id"] = f"turn-{next(counter)}"
            if value is not None:
                body.pop("text", None)
                body["value"] = value
            else:
                body["text"] = text
            before = len(connector.sent)
            async with session.post(url + "/api/messages", json=body) as response:
                assert response.status == 201
            sent = connector.sent[before:]
            assert len(sent) >= 1
            assert all(s.reply_to_id == body["id"] for s in sent)
            return sent[-1].body["attachments"][0]["content"]

        yield say
    await runner.cleanup()
    await connector.stop()


def title(card: dict) -> str:
    return card["body"][0]["items"][0]["text"]


def buttons(card: dict) -> list[dict]:
    found = list(card.get("actions", []))
    for element in card["body"]:
        if element.get("type") == "ActionSet":
            found.extend(element["actions"])
    return found


def is_question(card: dict) -> bool:
    return card["body"][0]["style"] == "emphasis"


async def test_rich_description_is_answered_with_the_two_types_and_a_numbered_script(teams):
    card = await teams(RICH)
    assert title(card).startswith("Critical interaction · Angry customer")
    assert card["version"] == "1.5"
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert "Hold on to" in texts and "Say" in texts
    numbers = [c["columns"][0]["items"][0]["text"] for c in card["body"] if c["type"] == "ColumnSet"]
    assert [n for n in numbers if n[0].isdigit()] == ["1.", "2."]  # after the bullet of "Hold on to"


async def test_one_to_one_dialog_from_opening_to_answer_by_card_buttons(teams):
    card = await teams(VAGUE)
    asked = 0
    while is_question(card):
        asked += 1
        assert asked <= 3
        options = [b for b in buttons(card) if not b["title"].lower().startswith("skip")]
        assert options and all(b["type"] == "Action.Submit" for b in options)
        card = await teams(value=options[0]["data"])  # press the first option
    assert asked >= 1
    assert " interaction · " in title(card)


async def test_typed_answer_to_a_question(teams):
    card = await teams(VAGUE)
    assert is_question(card)
    while is_question(card):
        card = await teams("1")
    assert " interaction · " in title(card)


async def test_card_submit_in_a_channel_needs_no_mention(teams):
    card = await teams(
        "<at>My Combined</at> customer wants a refund, what do i do", name="message_channel_mention.json"
    )
    assert is_question(card)
    skip = next(b for b in buttons(card) if b["title"].lower().startswith("skip"))
    answer = await teams(value=skip["data"], name="message_channel_mention.json")
    assert " interaction · " in title(answer)


async def test_help(teams):
    card = await teams("help")
    assert "how to use me" in title(card).lower()


async def test_tip(teams):
    card = await teams("tip")
    assert title(card) == "Tip of the week"


async def test_checklist_with_and_without_department(teams):
    card = await teams("checklist")
    assert title(card) == "Which department?"
    department = buttons(card)[0]
    checklist = await teams(value=department["data"])
    assert title(checklist).startswith("Checklist: ")


async def test_commands_through_a_channel_mention(teams):
    card = await teams("<at>My Combined</at> tip", name="message_channel_mention.json")
    assert title(card) == "Tip of the week"


async def test_foreign_card_submit_gets_a_polite_answer(teams):
    card = await teams(value={"key": "value", "x": "foobar"})
    assert title(card) == "That button isn't one of mine."  # the adapter hands it over as the choice ""
    assert card["body"][0]["style"] == "default"  # neutral: nothing is wrong
