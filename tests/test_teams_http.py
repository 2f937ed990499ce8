"""Teams over loopback HTTP: a real CloudAdapter on aiohttp, fixture activities, replies caught by a fake connector."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.teams import TeamsConfig, mount_teams
from adapters.teams.bot import APOLOGY
from bot.messages import Choice, Incoming, Reply, Section
from bot.store.memory import MemoryStore
from tests.fakes.bf_connector import FakeConnector, serve

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "teams"
if not FIXTURES.is_dir():  # the fixtures sit next to the repository in the shared folder
    FIXTURES = Path("/work/shared/fixtures/teams")


def fixture(name: str, service_url: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / name).read_text())
    body["serviceUrl"] = service_url
    return body


class FakeCoach:
    """Records what the adapter hands over and answers with a fixed, fully featured reply."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.seen: list[Incoming] = []
        self.fail = False
        self.now = 1_795_000_000.0

    def clock(self) -> float:
        return self.now

    async def handle(self, incoming: Incoming) -> list[Reply]:
        self.seen.append(incoming)
        if self.fail:
            raise RuntimeError(incoming.text)  # the user's words: must not reach the log
        return [
            Reply(
                kind="answer",
                title="Critical interaction · Angry customer",
                text="Sure (90%).",
                sections=(Section(title="Script", lines=("Listen.", "Apologise."), numbered=True),),
                choices=(Choice(label="More", value="d|abc|more"),),
            )
        ]

    def welcome(self) -> Reply:
        return Reply(kind="info", title="Hi! I'm Frontline Coach.", text="Tell me what is going on.")


class Harness:
    def __init__(self, connector: FakeConnector, url: str, session: aiohttp.ClientSession, coach: Any) -> None:
        self.connector = connector
        self.url = url
        self.session = session
        self.coach = coach

    async def post(
        self, body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, str]:
        data = raw if raw is not None else json.dumps(body).encode()
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(self.url + "/api/messages", data=data, headers=sent_headers) as response:
            return response.status, await response.text()


@pytest.fixture(name="harness")  # named apart from its function so that modules importing it can take `harness`
async def harness_fixture(connector: FakeConnector):
    coach = FakeCoach()
    app = web.Application()
    mount_teams(app, coach, TeamsConfig())
    runner, url = await serve(app)
    async with aiohttp.ClientSession() as session:
        yield Harness(connector, url, session, coach)
    await runner.cleanup()


def card_of(sent) -> dict[str, Any]:
    (attachment,) = sent.body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


async def test_personal_message_reaches_the_core_and_is_answered_with_a_card(harness: Harness):
    status, _ = await harness.post(fixture("message_personal.json", harness.connector.url))
    assert status == 201
    (incoming,) = harness.coach.seen
    assert incoming == Incoming(
        platform="teams",
        workspace="72f988bf-86f1-41af-91ab-2d7cd011db47",
        conversation="a:1VF4K2uXl-hg-wn2SSWJZYK7Cqox93Xp82wekVXkbOSaJo1L8hynrdocgKu3ydRKxx6P5_u9d8yFcLjugHuhCQ7xmn25K18NfzjiKSskzi5OX0bbe2nRrNJorygvjUL4v",
        user="6d415fdd-f97e-4f70-ac45-e69601e4ecb2",
        text="file",
    )
    (sent,) = harness.connector.sent
    assert sent.conversation_id == incoming.conversation
    assert sent.reply_to_id == "1571691217375"
    card = card_of(sent)
    assert card["version"] == "1.5" and card["body"][0]["items"][0]["text"] == "Critical interaction · Angry customer"
    assert card["actions"] == [{"type": "Action.Submit", "title": "More", "data": {"coach_choice": "d|abc|more"}}]
    assert sent.body["summary"].startswith("Critical interaction · Angry customer\nSure (90%).")
    assert sent.body["recipient"]["id"].startswith("29:1kbOecyrymSn1")  # back to the person


async def test_channel_mention_is_stripped_and_answered_in_the_thread(harness: Harness):
    status, _ = await harness.post(fixture("message_channel_mention.json", harness.connector.url))
    assert status == 201
    (incoming,) = harness.coach.seen
    assert incoming.text == "1"
    assert incoming.user == "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4"
    (sent,) = harness.connector.sent
    assert sent.conversation_id == "19:097e6717fd7245bdbeba6baa13840db8@thread.skype;messageid=1571537152320"
    assert sent.reply_to_id == "1571537152320"


async def test_channel_message_without_a_mention_is_ignored(harness: Harness):
    body = fixture("message_channel_mention.json", harness.connector.url)
    body["entities"] = [e for e in body["entities"] if e["type"] != "mention"]
    body["text"] = "just chatting with colleagues"
    status, _ = await harness.post(body)
    assert status == 201
    assert harness.coach.seen == [] and harness.connector.sent == []


async def test_mention_of_someone_else_is_not_for_the_bot(harness: Harness):
    body = fixture("message_channel_mention.json", harness.connector.url)
    body["entities"][0]["mentioned"]["id"] = "29:someone-else"
    await harness.post(body)
    assert harness.coach.seen == []


async def test_card_submit_is_handed_over_as_the_choice(harness: Harness):
    body = fixture("message_adaptive_card_submit.json", harness.connector.url)
    body["value"] = {"coach_choice": "d|abc|q1|angry"}
    status, _ = await harness.post(body)
    assert status == 201
    (incoming,) = harness.coach.seen
    assert incoming.choice == "d|abc|q1|angry" and incoming.text == ""
    assert len(harness.connector.sent) == 1


@pytest.mark.parametrize("name", ["message_adaptive_card_submit.json", "emulator_message_card_submit.json"])
async def test_submit_of_a_foreign_card_is_an_unknown_choice_not_an_empty_message(harness: Harness, name: str):
    status, _ = await harness.post(fixture(name, harness.connector.url))
    assert status == 201
    (incoming,) = harness.coach.seen
    assert incoming.choice == ""  # the core answers an unknown button as a stale one


async def test_emulator_message_without_tenant_or_channel_data(harness: Harness):
    status, _ = await harness.post(fixture("emulator_message.json", harness.connector.url))
    assert status == 201
    (incoming,) = harness.coach.seen
    assert incoming.workspace == "" and incoming.text == "show tasks"
    assert incoming.user == "from:1ce384f1-8322-4546-bf5e-fcc2723eab1d"  # the Emulator's from.id vouches for nobody
    assert len(harness.connector.sent) == 1


async def test_welcome_once_when_the_bot_is_installed(harness: Harness):
    body = fixture("conversation_update_bot_added_team.json", harness.connector.url)
    assert (await harness.post(body))[0] == 201
    assert (await harness.post(copy.deepcopy(body)))[0] == 201  # Teams may send it again
    (sent,) = harness.connector.sent
    assert sent.conversation_id == "19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2"
    assert card_of(sent)["body"][0]["items"][0]["text"] == "Hi! I'm Frontline Coach."
    assert harness.coach.seen == []
    reference = await harness.coach.store.get_conversation("teams", "19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2")
    assert reference["serviceUrl"] == harness.connector.url
    assert reference["bot"]["id"] == "28:608cacfd-1cea-40c9-b678-4b93e69bb72b"


async def test_a_welcome_the_connector_refused_is_said_on_the_next_event(harness: Harness):
    """The claim is given back when the send fails: Teams' second event for the install (or a redelivery) says it."""
    body = fixture("conversation_update_bot_added_team.json", harness.connector.url)
    harness.connector.fail_status = 503
    await harness.post(body)  # the turn's error is logged (bot/failures.py), the claim given back
    assert len(harness.connector.sent) == 1  # tried once, refused
    harness.connector.fail_status = None
    assert (await harness.post(copy.deepcopy(body)))[0] == 201
    assert (await harness.post(copy.deepcopy(body)))[0] == 201
    refused, sent = harness.connector.sent  # said once more, and only once
    assert (
        card_of(sent)["body"][0]["items"][0]["text"]
        == "Hi! I'm Frontline Coach."
        == card_of(refused)["body"][0]["items"][0]["text"]
    )


async def test_welcome_in_the_emulator(harness: Harness):
    assert (await harness.post(fixture("emulator_conversation_update.json", harness.connector.url)))[0] == 201
    assert len(harness.connector.sent) == 1


async def test_no_welcome_when_a_person_joins(harness: Harness):
    status, _ = await harness.post(fixture("conversation_update_user_added_team.json", harness.connector.url))
    assert status == 201
    assert harness.connector.sent == []
    conversation = json.loads((FIXTURES / "conversation_update_user_added_team.json").read_text())["conversation"]["id"]
    assert await harness.coach.store.get_conversation("teams", conversation) is not None  # still remembered


async def test_conversation_reference_is_stored_for_messages(harness: Harness):
    body = fixture("message_personal.json", harness.connector.url)
    await harness.post(body)
    reference = await harness.coach.store.get_conversation("teams", body["conversation"]["id"])
    assert reference["conversation"]["tenantID"] == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert reference["channelId"] == "msteams" and reference["serviceUrl"] == harness.connector.url


@pytest.mark.parametrize(
    "raw, content_type, status",
    [
        (b'{"type": "message", ', "application/json", 400),
        (b"\xff\xfe not utf-8", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),
        (b'{"type": "message"}', "text/plain", 415),
        (b"type=message", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_malformed_requests_get_4xx(harness: Harness, raw: bytes, content_type: str, status: int):
    async with harness.session.post(
        harness.url + "/api/messages", data=raw, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == status
    assert harness.coach.seen == [] and harness.connector.sent == []


async def test_no_content_type_gets_415(harness: Harness):
    body = json.dumps(fixture("message_personal.json", harness.connector.url)).encode()
    async with harness.session.post(
        harness.url + "/api/messages", data=body, skip_auto_headers=["Content-Type"]
    ) as response:
        assert response.status == 415


@pytest.mark.parametrize("field", ["type", "serviceUrl", "conversation", "from", "recipient"])
async def test_activity_missing_a_required_field_gets_400(harness: Harness, field: str):
    body = fixture("message_personal.json", harness.connector.url)
    del body[field]
    status, text = await harness.post(body)
    assert status == 400 and field in text
    assert harness.coach.seen == []


async def test_wrongly_typed_fields_get_400(harness: Harness):
    body = fixture("message_personal.json", harness.connector.url)
    body["conversation"] = {"id": 42}
    assert (await harness.post(body))[0] == 400
    body = fixture("message_personal.json", harness.connector.url)
    body["serviceUrl"] = "file:///etc/passwd"
    assert (await harness.post(body))[0] == 400


async def test_partial_invoke_without_envelope_gets_400(harness: Harness):
    status, _ = await harness.post(json.loads((FIXTURES / "invoke_adaptive_card_action_partial.json").read_text()))
    assert status == 400


@pytest.mark.parametrize(
    "activity_type", ["someFutureType", "typing", "messageReaction", "installationUpdate", "event"]
)
async def test_unknown_and_uninteresting_activity_types_are_ignored_politely(harness: Harness, activity_type: str):
    body = fixture("message_personal.json", harness.connector.url)
    body["type"] = activity_type
    status, _ = await harness.post(body)
    assert status in (200, 201)
    assert harness.coach.seen == [] and harness.connector.sent == []


async def test_an_exception_in_a_turn_is_logged_without_text_and_answered_with_an_apology(harness: Harness, caplog):
    harness.coach.fail = True
    status, _ = await harness.post(fixture("message_personal.json", harness.connector.url))
    assert status == 201
    (sent,) = harness.connector.sent
    assert sent.body["text"] == APOLOGY
    assert "RuntimeError" in caplog.text and "test_teams_http.py" in caplog.text
    assert "file" not in caplog.text.replace("test_teams_http.py", "")  # the fixture's text is "file"
    harness.coach.fail = False
    assert (await harness.post(fixture("message_personal.json", harness.connector.url)))[0] == 201  # still serving


async def test_connector_down_gives_500_not_a_crash(harness: Harness):
    harness.connector.fail_status = 503
    status, _ = await harness.post(fixture("message_personal.json", harness.connector.url))
    assert status == 500
    harness.connector.fail_status = None
    assert (await harness.post(fixture("message_personal.json", harness.connector.url)))[0] == 201


async def test_open_mode_ignores_a_presented_token(harness: Harness):
    status, _ = await harness.post(
        fixture("message_personal.json", harness.connector.url), headers={"Authorization": "Bearer whatever"}
    )
    assert status == 201 and len(harness.connector.sent) == 1
