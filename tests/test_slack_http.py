"""Slack over loopback HTTP: a real Bolt AsyncApp on aiohttp, signed fixture payloads, a fake Slack Web API.

The coach here is scripted (``ScriptedCoach``) so each test can check exactly what the adapter handed
over and what went back to Slack; tests/test_slack_coach.py runs the same route on the real Coach.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import EVENTS_PATH, mount_slack, slack_config
from bot.errors import AlreadyClaimed
from bot.messages import Choice, Incoming, Reply, Section
from bot.store.memory import MemoryStore
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi
from tests.slack_signing import signed_headers

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "slack"
if not FIXTURES.is_dir():  # the fixtures sit next to the repository in the shared folder
    FIXTURES = Path("/work/shared/fixtures/slack")

SECRET = "test-signing-secret"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# The people in the slack-web captures (fixtures README, "Who is who").
HUMAN, DM, TEAM = "U043H11ES4V", "D0442US94JD", "T043DB835ML"
SECRET_WORDS = "the customer Zyxwv Quimby shouted about order 4417"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


class ScriptedCoach:
    """Records every ``Incoming`` and answers like the real Coach does, in shape: a question, then an answer."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.seen: list[Incoming] = []
        self.delay = 0.0
        self.knowledge = type("Knowledge", (), {"departments": {"bakery": None, "electronics": None}})()

    def clock(self) -> float:
        return time.time()

    async def handle(self, incoming: Incoming, *, outbox: Any = None, claims: Any = ()) -> list[Reply]:
        """As the real Coach: the replies' outbox items and the claims stored together, a claim seen before gets
        nothing."""
        try:
            replies = await self._answer(incoming)
        except Exception:
            self.seen.append(incoming)
            raise
        try:
            await self.store.put_outbox(outbox(replies) if outbox else [], self.clock(), claims=claims)
        except AlreadyClaimed:
            return []
        self.seen.append(incoming)  # what was taken: a duplicate delivery is not
        return replies

    async def _answer(self, incoming: Incoming) -> list[Reply]:
        if "explode" in incoming.text:
            raise RuntimeError(f"could not read {incoming.text!r}")  # the words must not reach the log
        if self.delay:
            await asyncio.sleep(self.delay)
        choice, text = incoming.choice, incoming.text
        if choice is not None:
            if choice.startswith("c|checklist|"):
                return [self.checklist(choice.split("|")[2])]
            if choice.startswith("d|1|q1|"):
                return [self.question(2)]
            if choice.startswith("d|1|q2|"):
                return [self.answer()]
            return [Reply(kind="error", title="That button belongs to a situation that has ended.", private=True)]
        if text == "help":
            return [self.help()]
        if text.startswith("checklist"):
            return [self.checklist(text.partition(" ")[2] or None)]
        if text.startswith("tip"):
            return [self.tip_of_week_reply()]
        if "furious" in text:
            return [self.answer()]
        return [self.question(1)]

    def question(self, number: int) -> Reply:
        return Reply(
            kind="question",
            title=f"Question {number}: how does the customer sound?",
            text=f"Quick question {number} of up to 3.",
            choices=(
                Choice(label="Angry", value=f"d|1|q{number}|angry"),
                Choice(label="Calm", value=f"d|1|q{number}|calm"),
            ),
        )

    def answer(self) -> Reply:
        return Reply(
            kind="answer",
            title="Critical interaction · Angry customer",
            text="Sure (90%): you wrote “furious”.",
            sections=(
                Section(title="Hold on to", lines=("Opportunity: a fixed problem wins loyalty.",)),
                Section(title="Script (de-escalation)", lines=("Let them finish.", "Say sorry once."), numbered=True),
            ),
            choices=(Choice(label="Start over", value="c|start-over"),),
        )

    def help(self) -> Reply:
        return Reply(
            kind="info",
            title="Frontline Coach: how to use me",
            sections=(Section(title="How", lines=("Describe it.",)),),
        )

    def welcome(self) -> Reply:
        return Reply(kind="info", title="Hi! I'm Frontline Coach.", text="Tell me what is going on.")

    def tip_of_week_reply(self) -> Reply:
        return Reply(kind="info", title="Tip of the week", text="Name the next step.")

    def checklist(self, department: str | None = None) -> Reply:
        if not department:
            return Reply(
                kind="info",
                title="Which department?",
                choices=tuple(Choice(label=d.title(), value=f"c|checklist|{d}") for d in self.knowledge.departments),
                private=True,
            )
        return Reply(
            kind="info",
            title=f"Checklist: {department.title()}",
            sections=(Section(title="", lines=("Check the till.",), numbered=True),),
            private=True,
        )


class Harness:
    """The bot on loopback and the means to talk to it as Slack would."""

    def __init__(self, api: FakeSlackApi, url: str, session: aiohttp.ClientSession, coach: Any) -> None:
        self.api = api
        self.url = url
        self.session = session
        self.coach = coach
        self._ids = 0

    async def post(
        self,
        body: str | bytes,
        *,
        content_type: str | None = JSON,
        timestamp: int | None = None,
        retry_num: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        sent = signed_headers(secret, body, content_type=content_type or "", timestamp=timestamp, retry_num=retry_num)
        if content_type is None:
            del sent["Content-Type"]
        sent.update(headers or {})
        data = body.encode("utf-8") if isinstance(body, str) else body
        async with self.session.post(
            self.url + EVENTS_PATH, data=data, headers=sent, skip_auto_headers=["Content-Type"]
        ) as response:
            return response.status, await response.text()

    async def event(self, body: dict[str, Any], **options: Any) -> tuple[int, str]:
        return await self.post(json.dumps(body), **options)

    def fresh(self, name: str, **event_changes: Any) -> dict[str, Any]:
        """A fixture event with a new event_id (as Slack gives every new event) and the given changes."""
        body = copy.deepcopy(fixture(name))
        self._ids += 1
        body["event_id"] = f"{body['event_id']}-{self._ids}"
        body["event"].update(event_changes)
        return body

    async def command(
        self, command: str, text: str = "", *, response_url: str = "cmd", trigger_id: str | None = None
    ) -> tuple[int, str]:
        """A slash command as Slack sends it, with a new trigger_id (as Slack gives every invocation) unless one is
        given."""
        fields = dict(parse_qsl(fixture_text("slash_command.form.txt"), keep_blank_values=True))
        self._ids += 1
        fields.update(
            command=command,
            text=text,
            response_url=self.api.response_url(response_url),
            trigger_id=trigger_id or f"{fields['trigger_id']}-{self._ids}",
        )
        return await self.post(urlencode(fields), content_type=FORM)

    async def click(
        self,
        button: dict[str, Any],
        *,
        channel: str,
        user: str,
        team: str,
        message_ts: str | None,
        thread_ts: str | None = None,
        ephemeral: bool = False,
        response_url: str = "click",
    ) -> tuple[int, str]:
        """Press ``button`` (a Block Kit element the bot sent) the way block_actions_button.json does it."""
        body = copy.deepcopy(fixture("block_actions_button.json"))
        body["user"].update(id=user, team_id=team)
        body["team"]["id"] = team
        body["channel"]["id"] = channel
        body["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        if not ephemeral:
            body["message"] = {"type": "message", "ts": message_ts, **({"thread_ts": thread_ts} if thread_ts else {})}
        body["response_url"] = self.api.response_url(response_url)
        body["actions"] = [
            {**body["actions"][0], "action_id": button["action_id"], "text": button["text"], "value": button["value"]}
        ]
        return await self.post("payload=" + quote(json.dumps(body)), content_type=FORM)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [element for block in blocks if block["type"] == "actions" for element in block["elements"]]


def header(blocks: list[dict[str, Any]]) -> str:
    return next(block["text"]["text"] for block in blocks if block["type"] == "header")


def blocks_of(call) -> list[dict[str, Any]]:
    blocks = call.body["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


async def start_bot(api: FakeSlackApi, coach: Any, env: dict[str, str] | None = None):
    config = slack_config(
        {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url, **(env or {})}
    )
    web_app = web.Application()
    mount_slack(web_app, coach, config)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def coach():
    return ScriptedCoach()


@pytest.fixture
async def slack(api: FakeSlackApi, coach: Any):
    runner, url = await start_bot(api, coach)
    async with aiohttp.ClientSession() as session:
        yield Harness(api, url, session, coach)
    await runner.cleanup()


# ---------------------------------------------------------------------------------------- direct messages


async def test_url_verification_echoes_the_challenge(slack: Harness):
    status, text = await slack.event(fixture("url_verification.json"))
    assert status == 200 and json.loads(text) == {"challenge": fixture("url_verification.json")["challenge"]}


async def test_dm_dialog_from_welcome_to_answer_updates_one_message(slack: Harness):
    api = slack.api
    # Opening the Messages tab greets once; opening it again does not.
    assert (await slack.event(slack.fresh("event_app_home_opened_messages.json")))[0] == 200
    welcome = (await api.wait_for("chat.postMessage"))[0]
    assert welcome.body["channel"] == DM and header(blocks_of(welcome)) == "Hi! I'm Frontline Coach."
    assert (await slack.event(slack.fresh("event_app_home_opened_messages.json")))[0] == 200

    # The person describes the situation; the bot asks with buttons, in the same DM, not in a thread.
    dm = slack.fresh("event_message_im.json", text="customer on the line, need help")
    dm["event"].pop("blocks")  # the captured rich_text says "test"; the text field is what counts
    status, _ = await slack.event(dm)
    assert status == 200
    question = (await api.wait_for("chat.postMessage", 2))[1]
    assert question.body["channel"] == DM and "thread_ts" not in question.body
    assert header(blocks_of(question)).startswith("Question 1")
    assert slack.coach.seen[0] == Incoming(
        platform="slack", workspace=TEAM, conversation=DM, user=HUMAN, text="customer on the line, need help"
    )
    ts = question.answer["ts"]

    # Each click updates that message in place: question 2, then the answer. No new messages pile up.
    await slack.click(buttons(blocks_of(question))[0], channel=DM, user=HUMAN, team=TEAM, message_ts=ts)
    second = (await api.wait_for("chat.update"))[0]
    assert (
        second.body["channel"] == DM and second.body["ts"] == ts and header(blocks_of(second)).startswith("Question 2")
    )
    await slack.click(buttons(blocks_of(second))[1], channel=DM, user=HUMAN, team=TEAM, message_ts=ts)
    answer = (await api.wait_for("chat.update", 2))[1]
    assert answer.body["ts"] == ts and header(blocks_of(answer)) == "Critical interaction · Angry customer"
    assert slack.coach.seen[1].choice == "d|1|q1|angry" and slack.coach.seen[2].choice == "d|1|q2|calm"
    assert {i.conversation for i in slack.coach.seen} == {DM}
    await api.settle()
    assert len(api.of("chat.postMessage")) == 2 and len(api.of("chat.update")) == 2
    assert len({call.peer for call in api.calls}) == 1  # one kept-alive connection for every Web API call


async def test_dm_without_blocks_or_client_msg_id_is_answered(slack: Harness):
    await slack.event(slack.fresh("event_message_im_bolt.json"))
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    assert posted.body["channel"] == "D111" and "thread_ts" not in posted.body
    assert slack.coach.seen[0].text == "A top-level DM, not in a thread" and slack.coach.seen[0].workspace == "T111"


async def test_ack_comes_once_the_turn_is_stored_not_once_slack_took_the_reply(slack: Harness):
    slack.api.post_delay = 0.4  # Slack's Web API slow to accept a post
    started = time.monotonic()
    status, _ = await slack.event(slack.fresh("event_message_im.json", text="customer is furious"))
    acked = time.monotonic() - started
    assert status == 200 and acked < 0.3
    assert await slack.coach.store.claim_outbox("slack", "peek", time.time() + 3600, 0, 10)  # stored before the ack
    await slack.api.wait_for("chat.postMessage")
    assert time.monotonic() - started >= 0.4


# ---------------------------------------------------------------------------------------- mentions


@pytest.fixture
async def as_w111(api: FakeSlackApi):
    """The bolt-python bodies' identity: the bot is W111 in T111."""
    api.identity.update(user_id="W111", bot_id="B111", team_id="T111")


async def test_mention_is_answered_in_a_thread_under_it(as_w111, slack: Harness):
    mention = slack.fresh("event_app_mention_channel.json", text="<@W111> customer is furious")
    await slack.event(mention)
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    ts = mention["event"]["ts"]
    assert posted.body["channel"] == "C111" and posted.body["thread_ts"] == ts
    assert header(blocks_of(posted)) == "Critical interaction · Angry customer"
    seen = slack.coach.seen[0]
    assert seen.text == "customer is furious" and seen.conversation == f"C111:{ts}" and seen.user == "W222"


async def test_mention_inside_a_thread_stays_in_that_thread(as_w111, slack: Harness):
    await slack.event(slack.fresh("event_app_mention_channel.json", text="<@W111> help", thread_ts="1595926000.000100"))
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    assert posted.body["thread_ts"] == "1595926000.000100"
    assert slack.coach.seen[0].text == "help" and slack.coach.seen[0].conversation == "C111:1595926000.000100"


async def test_mention_arriving_also_as_message_gets_one_reply(as_w111, slack: Harness):
    # A mention in a DM comes as app_mention and as an im message: the same channel and ts, two event ids.
    mention = slack.fresh("event_app_mention_channel.json", text="<@W111> customer is furious", channel="D111")
    same = slack.fresh("event_message_im_bolt.json", text=mention["event"]["text"], ts=mention["event"]["ts"])
    # In a channel the message event (if subscribed) is never answered: only the mention is.
    in_channel = slack.fresh(
        "event_message_channel_thread_reply.json", text=mention["event"]["text"], ts=mention["event"]["ts"]
    )
    for body in (mention, same, in_channel):
        assert (await slack.event(body))[0] == 200
    await slack.api.wait_for("chat.postMessage")
    await slack.api.settle()
    assert len(slack.api.of("chat.postMessage")) == 1 and len(slack.coach.seen) == 1


async def test_channel_thread_reply_without_mention_is_not_answered(as_w111, slack: Harness):
    status, _ = await slack.event(slack.fresh("event_message_channel_thread_reply.json"))
    assert status == 200
    await slack.api.settle()
    assert slack.api.posted() == [] and slack.coach.seen == []


async def test_button_in_a_thread_updates_that_message_and_keeps_the_thread(as_w111, slack: Harness):
    mention = slack.fresh("event_app_mention_channel.json", text="<@W111> customer on the line")
    await slack.event(mention)
    question = (await slack.api.wait_for("chat.postMessage"))[0]
    thread = mention["event"]["ts"]
    await slack.click(
        buttons(blocks_of(question))[0],
        channel="C111",
        user="W222",
        team="T111",
        message_ts=question.answer["ts"],
        thread_ts=thread,
    )
    updated = (await slack.api.wait_for("chat.update"))[0]
    assert updated.body["ts"] == question.answer["ts"] and updated.body["channel"] == "C111"
    assert slack.coach.seen[1].conversation == slack.coach.seen[0].conversation == f"C111:{thread}"


async def test_private_reply_to_a_button_in_a_channel_is_ephemeral_and_the_message_stays(as_w111, slack: Harness):
    stale = {"action_id": "coach-choice-0", "text": {"type": "plain_text", "text": "Old"}, "value": "d|gone|q1|x"}
    await slack.click(
        stale, channel="C111", user="W222", team="T111", message_ts="1700000000.000009", thread_ts="1595926230.009600"
    )
    ephemeral = (await slack.api.wait_for("chat.postEphemeral"))[0]
    assert ephemeral.body["user"] == "W222" and ephemeral.body["thread_ts"] == "1595926230.009600"
    await slack.api.settle()
    assert slack.api.of("chat.update") == []


# ---------------------------------------------------------------------------------------- slash commands


@pytest.mark.parametrize(
    ("command", "text", "core_text", "title"),
    [
        ("/coach", "customer is furious", "customer is furious", "Critical interaction · Angry customer"),
        ("/coach", "", "help", "Frontline Coach: how to use me"),
        ("/checklist", "bakery", "checklist bakery", "Checklist: Bakery"),
        ("/tip", "", "tip", "Tip of the week"),
    ],
)
async def test_slash_commands_answer_only_the_caller(
    slack: Harness, command: str, text: str, core_text: str, title: str
):
    status, body = await slack.command(command, text)
    assert status == 200 and body == ""
    sent = (await slack.api.wait_for(RESPONSE_URL))[0]
    assert sent.path == "/response/cmd" and sent.body["response_type"] == "ephemeral"
    assert header(sent.body["blocks"]) == title
    seen = slack.coach.seen[0]
    assert (seen.text, seen.user, seen.conversation, seen.workspace) == (core_text, "W111", "C111", "T111")


async def test_slash_command_text_containing_the_word_payload_is_not_lost(slack: Harness):
    await slack.command("/coach", "payload of the delivery broke")
    await slack.api.wait_for(RESPONSE_URL)
    assert slack.coach.seen[0].text == "payload of the delivery broke"


async def test_button_on_an_ephemeral_reply_replaces_it_through_response_url(slack: Harness):
    await slack.command("/checklist")
    departments = (await slack.api.wait_for(RESPONSE_URL))[0]
    pick = buttons(departments.body["blocks"])[1]
    await slack.click(
        pick, channel="C111", user="W111", team="T111", message_ts="111.222", ephemeral=True, response_url="ephemeral"
    )
    replaced = (await slack.api.wait_for(RESPONSE_URL, 2))[1]
    assert replaced.path == "/response/ephemeral" and replaced.body["replace_original"] is True
    assert header(replaced.body["blocks"]) == "Checklist: Electronics"
    assert slack.coach.seen[1].choice == "c|checklist|electronics" and slack.coach.seen[1].conversation == "C111"


async def test_the_fixture_button_unchanged_is_acked_and_goes_to_the_core(slack: Harness):
    """block_actions_button.json as recorded: a foreign action_id is acked and ignored, not a 404."""
    raw = fixture_text("block_actions_button.form.txt")
    status, _ = await slack.post(raw, content_type=FORM)
    assert status == 200
    await slack.api.settle()
    assert slack.coach.seen == [] and slack.api.posted() == []


async def test_view_submission_is_acked(slack: Harness):
    status, _ = await slack.post("payload=" + quote(json.dumps(fixture("view_submission.json"))), content_type=FORM)
    assert status == 200


# ---------------------------------------------------------------------------------------- App Home


async def test_app_home_publishes_tip_checklists_and_usage_without_chat(slack: Harness):
    await slack.event(slack.fresh("event_app_home_opened_home.json"))
    published = (await slack.api.wait_for("views.publish"))[0]
    view = published.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert published.body["user_id"] == HUMAN and view["type"] == "home" and len(view["blocks"]) <= 100
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == [
        "Tip of the week",
        "Frontline Coach: how to use me",
        "Checklist: Bakery",
        "Checklist: Electronics",
    ]
    assert not any(b["type"] == "actions" for b in view["blocks"])
    await slack.api.settle()
    assert slack.api.of("chat.postMessage") == []


# ---------------------------------------------------------------------------------------- security and retries


async def test_forged_signature_is_401_and_nothing_runs(slack: Harness):
    status, _ = await slack.event(slack.fresh("event_message_im.json"), secret="not-the-secret")
    assert status == 401
    await slack.api.settle()
    assert slack.api.calls == [] and slack.coach.seen == []


async def test_stale_timestamp_is_401_even_when_signed_correctly(slack: Harness):
    status, _ = await slack.event(slack.fresh("event_message_im.json"), timestamp=int(time.time()) - 10 * 60)
    assert status == 401
    status, _ = await slack.command("/tip")  # and the next, fresh request still works
    assert status == 200
    await slack.api.wait_for(RESPONSE_URL)
    assert len(slack.coach.seen) == 1


async def test_signature_over_another_body_is_401(slack: Harness):
    body = json.dumps(slack.fresh("event_message_im.json"))
    headers = signed_headers(SECRET, body.replace("test", "tost"), content_type=JSON)
    status, _ = await slack.post(body, headers=headers)
    assert status == 401
    assert slack.coach.seen == []


async def test_retried_event_is_acked_and_changes_nothing(slack: Harness):
    dm = slack.fresh("event_message_im.json", text="customer is furious")
    assert (await slack.event(dm))[0] == 200
    await slack.api.wait_for("chat.postMessage")
    for attempt in (1, 2):
        assert (await slack.event(dm, retry_num=attempt))[0] == 200
    await slack.api.settle()
    assert len(slack.api.of("chat.postMessage")) == 1 and len(slack.coach.seen) == 1


async def test_first_delivery_arriving_only_as_a_retry_is_processed(slack: Harness):
    await slack.event(slack.fresh("event_message_im.json", text="customer is furious"), retry_num=1)
    await slack.api.wait_for("chat.postMessage")


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("event_message_from_own_bot.json", {}),
        ("event_message_from_own_bot.json", {"channel_type": "im", "channel": DM}),
        ("event_message_from_other_bot.json", {}),
        # the same post in a DM, where a person's message would be answered
        ("event_message_from_other_bot.json", {"channel_type": "im", "channel": "D111"}),
        ("event_message_subtype_bot_message.json", {"channel_type": "im", "channel": "D111"}),
        ("event_message_subtype_bot_message_captured.json", {}),
        ("event_message_subtype_bot_message_captured.json", {"channel_type": "im", "channel": DM}),
    ],
)
async def test_bot_messages_are_ignored(slack: Harness, name: str, changes: dict[str, Any]):
    status, _ = await slack.event(slack.fresh(name, **changes))
    assert status == 200
    await slack.api.settle()
    assert slack.api.posted() == [] and slack.coach.seen == []


async def test_mention_from_another_bot_is_ignored(as_w111, slack: Harness):
    await slack.event(slack.fresh("event_app_mention_channel.json", bot_id="B999", text="<@W111> hi"))
    await slack.api.settle()
    assert slack.api.posted() == [] and slack.coach.seen == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"type": "event_callback", "event": ', JSON, 400),  # broken JSON
        ("[1, 2, 3]", JSON, 400),  # JSON, not an object
        ("", JSON, 400),
        ("token=x&team_id=T111&user_id=W111", FORM, 400),  # a form without payload
        ("payload=%7Bbroken", FORM, 400),  # a payload that is not JSON
        ("payload=%5B%5D", FORM, 400),
        (b"\xff\xfe{}", JSON, 400),  # not UTF-8
        ('{"type": "event_callback"}', "text/plain", 415),
        ('{"type": "event_callback"}', None, 415),
        ("<xml/>", "application/xml", 415),
    ],
)
async def test_malformed_bodies_get_4xx_and_the_server_carries_on(
    slack: Harness, body: str | bytes, content_type: str | None, status: int
):
    assert (await slack.post(body, content_type=content_type))[0] == status
    assert (await slack.event(slack.fresh("event_message_im.json", text="customer is furious")))[0] == 200
    await slack.api.wait_for("chat.postMessage")


async def test_odd_but_well_formed_json_is_4xx_not_500(slack: Harness):
    for body in (
        '{"type": "event_callback", "event": "x", "authorizations": 3}',
        '{"team": 5, "user": [], "enterprise": 1}',
    ):
        status, _ = await slack.post(body)
        assert 400 <= status < 500


async def test_get_is_not_allowed(slack: Harness):
    async with slack.session.get(slack.url + EVENTS_PATH) as response:
        assert response.status == 405


# ---------------------------------------------------------------------------------------- outbound resilience


async def test_web_api_429_is_waited_out_then_the_reply_goes(slack: Harness):
    slack.api.fail_once("chat.postMessage", retry_after=0)
    await slack.event(slack.fresh("event_message_im.json", text="customer is furious"))
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    assert [c.method for c in slack.api.rejected] == ["chat.postMessage"]
    assert posted.body == slack.api.rejected[0].body
    await slack.api.settle()
    assert len(slack.api.of("chat.postMessage")) == 1


async def test_response_url_429_is_waited_out_too(slack: Harness):
    slack.api.fail_once(RESPONSE_URL, retry_after=0)
    await slack.command("/tip")
    await slack.api.wait_for(RESPONSE_URL)
    assert [c.method for c in slack.api.rejected] == [RESPONSE_URL]


async def test_a_long_retry_after_goes_back_to_the_outbox_and_a_short_one_is_waited_out():
    """The bot's own sender, through slack_sdk's client and its retry handlers, on a loopback Slack: a Retry-After
    longer than WAIT_IN_CALL comes back at once as RetryLater (the outbox waits it out between tries, where no lease
    cuts the wait short); a short one is slept through in the call, and the post goes."""
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.outbox import RetryLater
    from adapters.slack.delivery import Sender
    from adapters.slack.listeners import WAIT_IN_CALL, retry_handlers

    api = await FakeSlackApi().start()
    try:
        async with aiohttp.ClientSession() as session:
            handlers = retry_handlers()
            client = AsyncWebClient(token="xoxb-test", base_url=api.url, session=session, retry_handlers=handlers)
            send = Sender(client, retry_handlers(), logger=logging.getLogger("test.response_url"))
            post = {"kind": "post", "args": {"channel": "D1", "text": "hello"}}
            api.fail_once("chat.postMessage", retry_after=int(WAIT_IN_CALL) + 27)
            started = time.monotonic()
            with pytest.raises(RetryLater) as refused:
                await send(post)
            assert refused.value.after == WAIT_IN_CALL + 27 and time.monotonic() - started < WAIT_IN_CALL
            assert api.of("chat.postMessage") == []

            api.fail_once(RESPONSE_URL, retry_after=45)
            with pytest.raises(RetryLater) as refused:
                await send({"kind": "respond", "url": api.response_url(), "body": {"text": "hello"}})
            assert refused.value.after == 45

            api.fail_once("chat.postMessage", retry_after="1.5")  # slack_sdk can only wait out whole seconds
            with pytest.raises(RetryLater) as refused:
                await send(post)
            assert refused.value.after == 1.5

            api.fail_once("chat.postMessage", retry_after=1)
            await send(post)
            assert len(api.of("chat.postMessage")) == 1
    finally:
        await api.stop()


async def test_agents_words_never_reach_the_log(slack: Harness, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    await slack.event(slack.fresh("event_message_im.json", text=SECRET_WORDS))
    await slack.command("/coach", SECRET_WORDS)
    await slack.event(slack.fresh("event_message_im.json", text=SECRET_WORDS), secret="forged")
    await slack.api.wait_for("chat.postMessage")
    await slack.api.wait_for(RESPONSE_URL)
    assert "Quimby" not in caplog.text and "4417" not in caplog.text


async def test_a_failing_turn_gets_an_apology_and_the_words_stay_out_of_the_log(
    slack: Harness, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    await slack.event(slack.fresh("event_message_im.json", text=f"explode {SECRET_WORDS}"))
    posted = (await slack.api.wait_for("chat.postMessage"))[0]
    assert header(blocks_of(posted)) == "Sorry, something went wrong on my side."
    assert "RuntimeError" in caplog.text and "Quimby" not in caplog.text
