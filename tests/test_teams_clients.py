"""Teams as its clients show it (issue 15): expectReplies, @mention guidance, answered cards, Universal Actions,
size and Markdown limits, prompt starters.

Every test runs the real Coach behind a real botbuilder CloudAdapter on loopback (auth off, as with
the Emulator or the Agents Playground), with a fake Bot Framework connector that records the method,
the path and the raw body of every call, and answers each with an activity id, as Teams does.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from botbuilder.schema import Activity

from adapters.teams import TeamsConfig, mount_teams
from adapters.teams.bot import PROMPT_STARTERS, for_place
from adapters.teams.cards import (
    CARD_BUDGET,
    MAX_ACTIVITY_BYTES,
    MAX_SUMMARY_CHARS,
    _size,
    _size_bound,
    literal,
    to_activity,
    to_card,
)
from adapters.teams.wire import CONNECTOR_MODELS, CardSerializer
from bot.coach import Coach
from bot.messages import Choice, Reply, Section
from bot.store.memory import MemoryStore
from bot.tips import Managers
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.bf_connector import FakeConnector, serve
from tests.test_teams_coach import buttons, title
from tests.test_teams_http import FIXTURES, fixture
from tests.test_teams_units import texts

ROOT = Path(__file__).resolve().parent.parent
MANAGER = "6d415fdd-f97e-4f70-ac45-e69601e4ecb2"  # the aadObjectId of message_personal.json
VAGUE = "cx on the line, need help"
RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"
LINK = re.compile(r"\[[^\]]*\]\(")  # what Markdown takes for the start of a link: [text](
CARD_SCHEMA = json.loads((ROOT / "tests/data/schemas/adaptive-card-1.5.schema.json").read_text(encoding="utf-8"))
CARD_CHECK = jsonschema.validators.validator_for(CARD_SCHEMA)(CARD_SCHEMA)


@dataclass
class Call:
    """One call the bot made to the connector: POST (a new message) or PUT (an update), with what it sent."""

    method: str
    conversation_id: str
    activity_id: str | None  # POST: the activity replied to; PUT: the activity replaced
    body: dict[str, Any]
    size: int  # bytes on the wire
    id: str  # the id the connector gave it

    @property
    def card(self) -> dict[str, Any]:
        (attachment,) = self.body["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        return attachment["content"]


@dataclass
class RecordingConnector(FakeConnector):
    """The fake connector of tests/fakes, also recording the method and raw size; ``fail_puts`` refuses updates only."""

    calls: list[Call] = field(default_factory=list)
    fail_puts: bool = False

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.method == "PUT" and self.fail_puts:
            return web.json_response({"error": {"code": "Injected", "message": "no update"}}, status=403)
        response = await super()._receive(request)
        self.calls.append(
            Call(
                method=request.method,
                conversation_id=request.match_info["conversation_id"],
                activity_id=request.match_info.get("reply_to_id"),
                body=json.loads(raw),
                size=len(raw),
                id=json.loads(response.text)["id"],
            )
        )
        return response


class Teams:
    """Posts activities as Teams would and tells what the bot did with each."""

    def __init__(
        self, *, url: str, session: aiohttp.ClientSession, connector: RecordingConnector, coach: Coach
    ) -> None:
        self.url = url
        self.session = session
        self.connector = connector
        self.coach = coach
        self._ids = iter(range(1, 1_000_000))

    async def post(self, body: dict[str, Any]) -> tuple[int, Any, list[Call]]:
        """(status, JSON body or None, the connector calls this request made)."""
        before = len(self.connector.calls)
        async with self.session.post(self.url + "/api/messages", json=body) as response:
            text = await response.text()
            payload = json.loads(text) if text and response.content_type == "application/json" else None
            return response.status, payload, self.connector.calls[before:]

    def message(
        self,
        text: str | None = None,
        *,
        value: dict | None = None,
        reply_to: str | None = None,
        name: str = "message_personal.json",
        **extra: Any,
    ) -> dict:
        body = fixture(name, self.connector.url)
        body["id"] = f"turn-{next(self._ids)}"
        if value is not None:
            body.pop("text", None)
            body["value"] = value
            body["replyToId"] = reply_to
        else:
            body["text"] = text
        body.update(extra)
        return body

    async def say(self, text: str, **options: Any) -> Call:
        """Type ``text``; the one new card it gets."""
        status, _, calls = await self.post(self.message(text, **options))
        assert status == 201
        (call,) = calls
        assert call.method == "POST"
        return call

    async def press(self, card_call: Call, label: str, **options: Any) -> list[Call]:
        """Press the button ``label`` on the card that ``card_call`` posted; the connector calls it made."""
        button = next(b for b in buttons(card_call.card) if b["title"] == label)
        status, _, calls = await self.post(self.message(value=button["data"], reply_to=card_call.id, **options))
        assert status == 201
        return calls


@pytest.fixture
async def teams():
    coach = Coach(
        knowledge=shipped_knowledge(), store=MemoryStore(), clock=Clock(), managers=Managers.parse(f"teams:{MANAGER}")
    )
    connector = await RecordingConnector().start()
    app = web.Application()
    mount_teams(app, coach, TeamsConfig())
    runner, url = await serve(app)
    async with aiohttp.ClientSession() as session:
        yield Teams(url=url, session=session, connector=connector, coach=coach)
    await runner.cleanup()
    await connector.stop()


def valid(card: dict) -> None:
    """Valid Adaptive Card 1.5, by Microsoft's schema."""
    problems = [error.message for error in CARD_CHECK.iter_errors(card)]
    assert not problems, problems[:5]


async def answer_card(teams: Teams) -> Call:
    """A finished dialog's answer card, posted."""
    call = await teams.say(RICH)
    while call.card["body"][0]["style"] == "emphasis":  # a question: take the first option
        first = buttons(call.card)[0]["title"]
        call = next(c for c in await teams.press(call, first) if c.method == "POST")
    assert " interaction · " in title(call.card)
    return call


# ---------------------------------------------------------------------- 1. expectReplies


def strip_values(card: dict) -> dict:
    """The card with button values blanked: dialog ids are random, so two turns differ only there."""
    card = copy.deepcopy(card)
    for button in buttons(card):
        button["data"]["coach_choice"] = "…"
    return card


async def test_expect_replies_gets_200_with_the_cards_as_json(teams: Teams):
    status, body, calls = await teams.post(teams.message(RICH, deliveryMode="expectReplies"))
    assert status == 200 and calls == []  # nothing through the connector: the replies are the response
    (activity,) = body["activities"]
    card = activity["attachments"][0]["content"]
    assert isinstance(card, dict) and card["type"] == "AdaptiveCard"  # JSON, not a Python repr
    assert activity["type"] == "message" and activity["replyToId"].startswith("turn-")
    valid(card)
    normal = await teams.say(
        RICH, **{"from": {"id": "29:other", "aadObjectId": "0f0f0f0f-0000-0000-0000-000000000001"}}
    )
    assert strip_values(card) == strip_values(normal.card)  # the same card a normal turn posts
    assert activity["summary"] == normal.body["summary"]


async def test_expect_replies_for_a_welcome_and_a_button(teams: Teams):
    body = fixture("conversation_update_bot_added_team.json", teams.connector.url)
    body["deliveryMode"] = "expectReplies"
    status, payload, calls = await teams.post(body)
    assert status == 200 and calls == []
    assert title(payload["activities"][0]["attachments"][0]["content"]) == "Hi! I'm Frontline Coach."
    question = await teams.say(VAGUE)
    option = buttons(question.card)[0]["data"]
    status, payload, calls = await teams.post(
        teams.message(value=option, reply_to=question.id, deliveryMode="expectReplies")
    )
    assert status == 200 and calls == []  # no update in place: the caller has the replies
    (activity,) = payload["activities"]
    assert activity["attachments"][0]["content"]["type"] == "AdaptiveCard"


async def test_expect_replies_with_nothing_to_say_is_an_empty_list(teams: Teams):
    body = teams.message(
        "just chatting", name="message_channel_mention.json", deliveryMode="expectReplies", entities=[]
    )
    status, payload, _ = await teams.post(body)
    assert status == 200 and payload == {"activities": []}


def test_the_serializer_writes_expected_replies_as_json():
    from botbuilder.schema import ExpectedReplies

    activity = to_activity(Reply(kind="info", title="t", text="x"))
    body = CardSerializer(CONNECTOR_MODELS).body(ExpectedReplies(activities=[activity]), "ExpectedReplies")
    assert (
        json.loads(json.dumps(body))["activities"][0]["attachments"][0]["content"]["body"][0]["items"][0]["text"] == "t"
    )


# ---------------------------------------------------------------------- 3. where @mentions are needed


async def test_channel_welcome_says_to_mention_the_bot(teams: Teams):
    status, _, (welcome,) = await teams.post(fixture("conversation_update_bot_added_team.json", teams.connector.url))
    assert status == 201
    flat = texts(welcome.card)
    assert "In this channel" in flat
    assert any("@mention me" in t and "@Test Bot" in t for t in flat)
    valid(welcome.card)


async def test_personal_welcome_has_no_mention_note(teams: Teams):
    body = fixture("conversation_update_bot_added_personal.json", teams.connector.url)
    body["recipient"]["id"] = body["membersAdded"][0]["id"]  # the fixture's placeholders, made to agree
    status, _, (welcome,) = await teams.post(body)
    assert status == 201
    assert not any("@mention" in t for t in texts(welcome.card))


async def test_group_chat_welcome_names_the_group_chat(teams: Teams):
    body = fixture("conversation_update_bot_added_team.json", teams.connector.url)
    body["conversation"] = {
        "isGroup": True,
        "conversationType": "groupChat",
        "id": "19:group-chat@thread.v2",
        "tenantId": "t",
    }
    _, _, (welcome,) = await teams.post(body)
    assert "In this group chat" in texts(welcome.card)


async def test_question_cards_in_a_channel_say_to_mention_the_bot(teams: Teams):
    question = await teams.say(f"<at>My Combined</at> {VAGUE}", name="message_channel_mention.json")
    header = texts(question.card)[:2]
    assert "type your answer after @My Combined" in header[1]
    # a button pressed there needs no mention; the next question says the same (the bot's name as Teams gives it)
    calls = await teams.press(
        question, buttons(question.card)[0]["title"], name="message_channel_mention.json", entities=[]
    )
    (new,) = [c for c in calls if c.method == "POST"]
    assert new.card["body"][0]["style"] == "emphasis"  # "Routine" leaves the customer to ask about
    assert "type your answer after @teams2" in texts(new.card)[1]


async def test_question_cards_in_a_personal_chat_are_as_the_core_wrote_them(teams: Teams):
    question = await teams.say(VAGUE)
    assert texts(question.card)[1] == "Quick question 1 of up to 3. Pick one or type your answer."


def test_a_question_without_type_your_answer_gets_the_mention_sentence():
    channel = Activity().deserialize(fixture("message_channel_mention.json", "http://127.0.0.1:1/"))
    personal = Activity().deserialize(fixture("message_personal.json", "http://127.0.0.1:1/"))
    again = Reply(kind="question", title="Who is the customer?", text="I didn't catch that. Pick one, or say “skip”.")
    assert (
        for_place(again, channel).text
        == "I didn't catch that. Pick one, or say “skip”. To type an answer here, start with @My Combined."
    )
    assert for_place(again, personal) is again
    info = Reply(kind="info", title="Tip of the week", text="type your answer")
    assert for_place(info, channel) is info  # only questions invite a typed answer


def installation(action: str, activity_id: str, connector_url: str) -> dict:
    body = fixture("conversation_update_bot_added_team.json", connector_url)
    body.pop("membersAdded")
    body.update(type="installationUpdate", action=action, id=activity_id)
    return body


async def test_a_fresh_install_after_a_removal_welcomes_again(teams: Teams):
    url = teams.connector.url
    first = fixture("conversation_update_bot_added_team.json", url)
    assert len((await teams.post(first))[2]) == 1  # installed: welcome
    assert (await teams.post(installation("add", "i-1", url)))[2] == []  # the same install's other event
    assert (await teams.post(installation("add-upgrade", "i-2", url)))[2] == []  # an upgrade is no install
    assert (await teams.post(installation("remove-upgrade", "i-3", url)))[2] == []
    assert (await teams.post(installation("add", "i-4", url)))[2] == []
    status, _, calls = await teams.post(installation("remove", "i-5", url))
    assert status in (200, 201) and calls == []  # nothing is sent where the app is gone
    await teams.post(installation("remove", "i-5", url))  # delivered twice: one removal
    status, _, calls = await teams.post(installation("add", "i-6", url))
    assert status in (200, 201) and len(calls) == 1 and title(calls[0].card) == "Hi! I'm Frontline Coach."
    again = copy.deepcopy(first)
    again["id"] = "f:re-added"
    assert (await teams.post(again))[2] == []  # the same fresh install's conversationUpdate: one welcome
    await teams.post(installation("remove", "i-7", url))
    assert len((await teams.post(again))[2]) == 1  # removed again, added again: welcomed again


async def test_installation_add_alone_welcomes(teams: Teams):
    status, _, calls = await teams.post(installation("add", "only-1", teams.connector.url))
    assert status in (200, 201) and len(calls) == 1


# ---------------------------------------------------------------------- 4. answered cards change in place


async def test_an_answered_question_card_is_updated_in_place_and_the_next_is_a_new_card(teams: Teams):
    question = await teams.say(VAGUE)
    label = buttons(question.card)[0]["title"]
    calls = await teams.press(question, label)
    (update,) = [c for c in calls if c.method == "PUT"]
    (new,) = [c for c in calls if c.method == "POST"]
    assert update.activity_id == question.id and update.conversation_id == question.conversation_id
    assert update.body["id"] == question.id
    assert "actions" not in update.card and buttons(update.card) == []
    assert texts(update.card) == [literal(title(question.card)), literal(f"Answered: {label}")]
    valid(update.card)
    assert new.activity_id.startswith("turn-") and new.id != question.id  # the next question or answer: a new card
    assert calls.index(new) < calls.index(update)  # the reply first; the redraw after


async def test_a_second_press_on_an_answered_question_changes_nothing_in_place(teams: Teams):
    question = await teams.say(VAGUE)
    label = buttons(question.card)[0]["title"]
    await teams.press(question, label)
    calls = await teams.press(question, label)  # an old copy of the card, on another device
    assert [c.method for c in calls] == ["POST"]
    assert title(calls[0].card) == "That question is answered already."


async def test_the_answer_card_is_redrawn_by_its_feedback_row(teams: Teams):
    answer = await answer_card(teams)
    calls = await teams.press(answer, "More")
    (update,) = calls
    assert update.method == "PUT" and update.activity_id == answer.id
    assert "Why" in texts(update.card) and {b["title"] for b in buttons(update.card)} >= {"Helped", "Didn't help"}
    calls = await teams.press(answer, "Right")
    (update,) = calls
    assert update.method == "PUT" and "Noted as right, thanks." in texts(update.card)[1]
    assert "Right" not in {b["title"] for b in buttons(update.card)}


async def test_not_quite_posts_the_menu_and_the_pick_redraws_the_menu(teams: Teams):
    answer = await answer_card(teams)
    (menu,) = await teams.press(answer, "Not quite")
    assert menu.method == "POST" and title(menu.card) == "What is it really?"  # the answer stays where it was
    pick = buttons(menu.card)[0]["title"]
    calls = await teams.press(menu, pick)
    assert sorted(c.method for c in calls) == ["POST", "PUT"]
    (update,) = [c for c in calls if c.method == "PUT"]
    assert update.activity_id == menu.id and texts(update.card)[-1] == literal(f"Answered: {pick}")
    (redone,) = [c for c in calls if c.method == "POST"]
    assert "Redone with your correction." in texts(redone.card)[1]


async def test_a_refused_update_still_shows_the_redrawn_answer(teams: Teams):
    answer = await answer_card(teams)
    teams.connector.fail_puts = True
    calls = await teams.press(answer, "More")
    (posted,) = calls
    assert posted.method == "POST" and "Why" in texts(posted.card)  # seen as a new card instead


async def test_a_message_with_nothing_to_read_gets_the_pending_question_again(teams: Teams):
    question = await teams.say(VAGUE)
    body = teams.message("")
    body.pop("text")
    body["attachments"] = [{"contentType": "image/png", "contentUrl": "https://example.com/a.png"}]
    status, _, (again,) = await teams.post(body)
    assert status == 201 and title(again.card) == title(question.card)


async def test_a_foreign_cards_submit_reaches_the_core(teams: Teams):
    status, _, calls = await teams.post(teams.message(value={"key": "value"}, reply_to="1:someone-elses-card"))
    assert status == 201
    assert [c.method for c in calls] == ["POST"] and title(calls[0].card) == "That button isn't one of mine."


# ---------------------------------------------------------------------- 5. styles and Universal Actions


async def test_suggestions_and_old_buttons_are_not_styled_as_alarms(teams: Teams):
    typo = await teams.say("checklist nonsense")
    assert title(typo.card).startswith("I have no checklist for")
    assert buttons(typo.card) and typo.card["body"][0]["style"] == "default"
    stale = await teams.say("frobnicate /x")
    assert stale.card["body"][0]["style"] != "attention"


def card_action(teams: Teams, action: Any, **extra: Any) -> dict:
    body = teams.message("ignored", **extra)
    body.pop("text")
    partial = json.loads((FIXTURES / "invoke_adaptive_card_action_partial.json").read_text())
    body.update(type="invoke", name=partial["name"], value={**partial["value"], "action": action})
    return body


async def test_universal_action_submit_is_answered_with_the_turns_card(teams: Teams):
    question = await teams.say(VAGUE)
    data = buttons(question.card)[0]["data"]
    status, body, calls = await teams.post(card_action(teams, {"type": "Action.Submit", "data": data}))
    assert status == 200 and calls == []
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    card = body["value"]
    assert card["type"] == "AdaptiveCard" and title(card) != title(question.card)  # the next question, or the answer
    valid(card)


async def test_universal_action_execute_and_a_foreign_card(teams: Teams):
    status, body, _ = await teams.post(
        card_action(teams, {"type": "Action.Execute", "verb": "food", "data": {"item": "vegan"}})
    )
    assert status == 200 and body["statusCode"] == 200
    assert title(body["value"]) == "That button isn't one of mine."


@pytest.mark.parametrize(
    "action, status, code",
    [
        (1, 400, "BadRequest"),
        ({"type": "Action.OpenUrl", "url": "https://example.com"}, 400, "NotSupported"),
        ({"type": "Action.Submit", "data": {"coach_choice": "d|x|q\r\n"}}, 400, "BadRequest"),
    ],
)
async def test_malformed_universal_actions_get_an_error_body_not_a_5xx(teams: Teams, action, status, code):
    http_status, body, calls = await teams.post(card_action(teams, action))
    assert http_status == 200 and calls == []
    assert (
        body["statusCode"] == status
        and body["type"] == "application/vnd.microsoft.error"
        and body["value"]["code"] == code
    )


async def test_a_failing_core_gives_an_error_body_not_a_5xx(teams: Teams, monkeypatch):
    async def broken(_incoming):
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(teams.coach, "handle", broken)
    status, body, _ = await teams.post(card_action(teams, {"type": "Action.Submit", "data": {"coach_choice": "c|tip"}}))
    assert status == 200 and body["statusCode"] == 500 and body["type"] == "application/vnd.microsoft.error"


# ---------------------------------------------------------------------- 6. size


async def add_tips(teams: Teams, texts_: list[str]) -> None:
    for text in texts_:
        call = await teams.say(f"tip add {text}")
        assert title(call.card).startswith("Tip "), title(call.card)


async def test_a_list_of_100_tips_of_500_characters_stays_under_28_kb(teams: Teams):
    await add_tips(
        teams,
        [
            f"{n:03d} " + ("Greet every caller by name, listen to the end, and say what happens next. " * 7)[:496]
            for n in range(100)
        ],
    )
    listed = await teams.say("tip list")
    assert listed.size < MAX_ACTIVITY_BYTES
    card = listed.card
    valid(card)
    lines = [t for t in texts(card) if re.match(r"^\d+: ", t)]
    assert 10 <= len(lines) < 100
    note = texts(card)[-1]
    assert note == f"Shortened to fit in one Teams message: {100 - len(lines)} of 100 lines are not shown."
    assert len(listed.body["summary"]) <= MAX_SUMMARY_CHARS and len(card["fallbackText"]) <= MAX_SUMMARY_CHARS
    assert "Greet every caller" not in listed.body["summary"] + card["fallbackText"]  # the text goes out once
    status, body, _ = await teams.post(teams.message("tip list", deliveryMode="expectReplies"))
    assert status == 200 and len(json.dumps(body["activities"][0])) < MAX_ACTIVITY_BYTES


async def test_tips_of_emoji_stay_under_28_kb(teams: Teams):
    await add_tips(teams, ["😀" * 499 for _ in range(40)])
    listed = await teams.say("tip list")
    assert listed.size < MAX_ACTIVITY_BYTES
    valid(listed.card)


def test_any_reply_fits_in_the_card_budget():
    emoji = "🙂" * 5000
    reply = Reply(
        kind="question",
        title=emoji,
        text=emoji,
        sections=tuple(Section(title=emoji, lines=(emoji,) * 50, numbered=n % 2 == 0) for n in range(5)),
        choices=tuple(Choice(label=emoji[:200], value=f"d|x|q|{n}") for n in range(60)),
    )
    card = to_card(reply)
    assert len(json.dumps(card)) <= CARD_BUDGET
    assert texts(card)[-1].startswith("Shortened to fit in one Teams message: 250 of 250 lines are not shown.")
    assert len(json.dumps(to_activity(reply).serialize())) < MAX_ACTIVITY_BYTES
    valid(card)


@pytest.mark.parametrize(
    "text", ["\\" * 40, "*_~`[]" * 10, "😀" * 30, "“é”\x01\n- " * 10, '"quoted"' * 8, "plain words " * 5]
)
def test_the_quick_size_bound_is_never_below_the_real_size(text: str):
    for kind in ("question", "answer", "info"):
        reply = Reply(
            kind=kind,
            title=text,
            text=text,
            sections=(Section(title=text, lines=(text, text), numbered=True), Section(title="", lines=(text,))),
            choices=tuple(Choice(label=text[:60], value=f"d|x|q|{n}") for n in range(8)),
        )
        assert _size(to_card(reply)) <= _size_bound(reply)


def test_small_replies_need_no_measuring():
    small = Reply(kind="info", title="Cleared.")
    assert _size_bound(small) <= CARD_BUDGET
    assert to_card(small)["body"][-1]["type"] == "Container"  # nothing to note when all of it fits


# ---------------------------------------------------------------------- 7. Markdown in what people wrote


async def test_a_tip_with_a_disguised_link_is_shown_as_written(teams: Teams):
    await add_tips(teams, ["[click](https://evil.example) for the *new* refund_policy"])
    listed = await teams.say("tip list")
    (line,) = [t for t in texts(listed.card) if "evil.example" in t]
    assert not LINK.search(line)
    assert (
        line.replace("\\", "")
        .replace("\u200b", "")
        .endswith("[click](https://evil.example) for the *new* refund_policy")
    )
    assert "\\*new\\*" in line and "refund_policy" in line  # "_" inside a word is no emphasis


async def test_echoed_text_is_neutralised(teams: Teams):
    call = await teams.say("checklist [x](https://evil.example)")
    assert not any(LINK.search(t) for t in texts(call.card))
    assert "evil.example" in title(call.card)


def test_literal_escapes_what_teams_reads_as_markdown():
    assert literal("[a](https://b)") == "\\[a\\]\u200b(https://b)"
    assert literal("**bold** _it_ ~~s~~ `c`") == "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~ \\`c\\`"
    assert literal("- one\n2. two\n> quote\n# head") == "\\- one\n2\\. two\n\\> quote\n\\# head"
    assert literal("3.5 stars, -5 degrees, C# and 50% off") == "3.5 stars, -5 degrees, C# and 50% off"
    assert literal("back\\slash") == "back\\\\slash"
    assert (
        literal("America/New_York, refund_policy") == "America/New_York, refund_policy"
    )  # "_" inside a word is no emphasis


# ---------------------------------------------------------------------- 8. prompt starters


def test_the_manifest_offers_the_prompt_starters():
    manifest = json.loads((ROOT / "teams-app/manifest.json").read_text(encoding="utf-8"))
    (commands,) = [c["commands"] for c in manifest["bots"][0]["commandLists"]]
    titles = [c["title"] for c in commands]
    assert titles[:4] == [
        "Customer is upset",
        "Something nobody has seen",
        "Checklist for my department",
        "This week's tip",
    ]
    assert {t.lower() for t in titles} >= set(PROMPT_STARTERS)


@pytest.mark.parametrize(
    "starter, expected",
    [
        ("Customer is upset", None),
        ("Something nobody has seen", None),
        ("Checklist for my department", "Which department?"),
        ("This week’s tip", "Tip of the week"),
        ("<at>My Combined</at> This week's tip", "Tip of the week"),
    ],
)
async def test_each_prompt_starter_does_what_it_says(teams: Teams, starter: str, expected: str | None):
    name = "message_channel_mention.json" if starter.startswith("<at>") else "message_personal.json"
    call = await teams.say(starter, name=name)
    if expected is None:  # a situation: a question or an answer, never an error
        assert call.card["body"][0]["style"] in ("emphasis", "accent")
    else:
        assert title(call.card) == expected
