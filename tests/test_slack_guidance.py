"""Issue 15, Slack: where typing needs an @mention, one tap to start in the DM, and a setup doc that matches the
manifest.

Over loopback HTTP with signed requests, on a real Bolt app and the fake Web API (tests/fakes/slack_api.py),
with the scripted coach of tests/test_slack_http.py where the adapter's part is checked and the real Coach
where the shipped words matter. Every message checked is also parsed and validated with slack_sdk's
Block Kit models, as tests/test_vendor_schemas.py does.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from slack_sdk.models.blocks import Block

from adapters.slack import listeners, translate
from bot.coach import Coach
from bot.messages import Choice, Reply, Section
from tests.fakes.slack_api import FakeSlackApi
from tests.test_slack_http import DM, HUMAN, Harness, ScriptedCoach, blocks_of, buttons, header, start_bot

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = "assistant.threads.setSuggestedPrompts"
VAGUE = "cx on the line, need help"
RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "adapters/slack/manifest.yaml").read_text(encoding="utf-8"))


def valid_block_kit(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``blocks`` as slack_sdk's models parse and validate them (they raise on anything Slack would refuse)."""
    parsed = Block.parse_all(blocks)
    assert len(parsed) == len(blocks) <= translate.MAX_MESSAGE_BLOCKS
    for block in parsed:
        block.validate_json()
    return blocks


def hints(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        e["text"]
        for b in blocks
        if b["type"] == "context"
        for e in b["elements"]
        if e["text"] in (translate.QUESTION_HINT, translate.CHANNEL_HINT)
    ]


async def harness(api: FakeSlackApi, coach: Any):
    runner, url = await start_bot(api, coach)
    session = aiohttp.ClientSession()
    return runner, session, Harness(api, url, session, coach)


@pytest.fixture
async def scripted(api: FakeSlackApi):
    runner, session, slack = await harness(api, ScriptedCoach())
    yield slack
    await session.close()
    await runner.cleanup()


@pytest.fixture
async def real(api: FakeSlackApi, coach: Coach):
    runner, session, slack = await harness(api, coach)
    yield slack
    await session.close()
    await runner.cleanup()


@pytest.fixture
def as_w111(api: FakeSlackApi) -> None:
    """The bolt-python bodies' identity: the bot is W111 in T111."""
    api.identity.update(user_id="W111", bot_id="B111", team_id="T111")


# ---------------------------------------------------------------------------------------- 1. @mentions in channels


async def test_a_question_card_in_a_channel_thread_says_to_mention_the_bot_and_keeps_saying_it(
    as_w111, scripted: Harness
):
    mention = scripted.fresh("event_app_mention_channel.json", text="<@W111> customer on the line")
    thread = mention["event"]["ts"]
    await scripted.event(mention)
    question = (await scripted.api.wait_for("chat.postMessage"))[0]
    blocks = valid_block_kit(blocks_of(question))
    assert question.body["thread_ts"] == thread and hints(blocks) == [translate.QUESTION_HINT]
    # Under the question's words, above its buttons: the buttons need no mention.
    kinds = [b["type"] for b in blocks]
    assert kinds.index("context") < kinds.index("actions")

    # The card replaced by a tap is still in the channel thread, so question 2 says it too; the answer does not.
    ts = question.answer["ts"]
    await scripted.click(buttons(blocks)[0], channel="C111", user="W222", team="T111", message_ts=ts, thread_ts=thread)
    second = valid_block_kit(blocks_of((await scripted.api.wait_for("chat.update"))[0]))
    assert header(second).startswith("Question 2") and hints(second) == [translate.QUESTION_HINT]
    await scripted.click(buttons(second)[0], channel="C111", user="W222", team="T111", message_ts=ts, thread_ts=thread)
    answer = valid_block_kit(blocks_of((await scripted.api.wait_for("chat.update", 2))[1]))
    assert header(answer) == "Critical interaction · Angry customer" and hints(answer) == []


async def test_help_in_a_channel_says_where_typing_needs_a_mention(as_w111, scripted: Harness):
    await scripted.event(scripted.fresh("event_app_mention_channel.json", text="<@W111> help"))
    posted = (await scripted.api.wait_for("chat.postMessage"))[0]
    blocks = valid_block_kit(blocks_of(posted))
    assert header(blocks) == "Frontline Coach: how to use me" and hints(blocks) == [translate.CHANNEL_HINT]
    assert translate.CHANNEL_HINT not in posted.body["text"]  # the notification text stays the core's


async def test_the_dm_says_nothing_about_mentions(scripted: Harness):
    await scripted.event(scripted.fresh("event_app_home_opened_messages.json"))
    dm = scripted.fresh("event_message_im.json", text="customer on the line")
    dm["event"].pop("blocks")
    await scripted.event(dm)
    welcome, question = await scripted.api.wait_for("chat.postMessage", 2)
    assert header(blocks_of(question)).startswith("Question 1")
    await scripted.click(
        buttons(blocks_of(question))[0], channel=DM, user=HUMAN, team="T043DB835ML", message_ts=question.answer["ts"]
    )
    update = (await scripted.api.wait_for("chat.update"))[0]
    for call in (welcome, question, update):
        assert call.body["channel"] == DM and hints(valid_block_kit(blocks_of(call))) == []


async def test_slash_command_answers_are_left_alone(scripted: Harness):
    """A command's dialog is the channel itself: a mention (a new thread) would not continue it, so no mention hint."""
    await scripted.command("/coach", "customer on the line")
    sent = (await scripted.api.wait_for("response_url"))[0]
    assert header(sent.body["blocks"]).startswith("Question 1") and hints(sent.body["blocks"]) == []


async def test_the_shipped_words_in_a_channel(as_w111, real: Harness):
    """The real Coach: a vague mention's question card, a bare mention's prompt, help, and a full answer."""
    said = {"vague": f"<@W111> {VAGUE}", "bare": "<@W111>", "help": "<@W111> help", "rich": f"<@W111> {RICH}"}
    for number, text in enumerate(said.values(), start=1):
        await real.event(real.fresh("event_app_mention_channel.json", text=text, ts=f"1595926230.00{number}"))
        await real.api.wait_for("chat.postMessage", number)
    vague, bare, help_, rich = (valid_block_kit(blocks_of(call)) for call in real.api.of("chat.postMessage"))
    assert "type your answer" in json.dumps(vague) and hints(vague) == [translate.QUESTION_HINT]
    assert header(bare) == "What's going on with the customer?" and hints(bare) == [translate.CHANNEL_HINT]
    assert header(help_) == "Frontline Coach: how to use me" and hints(help_) == [translate.CHANNEL_HINT]
    assert " interaction · " in header(rich) and hints(rich) == []


async def test_every_reply_the_coach_gives_is_valid_block_kit_with_its_channel_hint():
    from tests.test_vendor_schemas import captured_replies

    replies = await captured_replies()
    hinted = 0
    for reply in replies:
        hint = translate.typing_hint(reply, "C111")
        blocks = valid_block_kit(translate.to_message(reply, hint=hint)["blocks"])
        assert hints(blocks) == ([hint] if hint else [])
        hinted += bool(hint)
    assert {r.kind for r in replies if translate.typing_hint(r, "C111")} == {"question", "info"} and hinted


def test_the_hint_survives_a_reply_cut_to_fit():
    reply = Reply(
        kind="question",
        title="Q",
        sections=tuple(Section(title=f"S{n}", lines=("line",)) for n in range(80)),
        choices=(Choice(label="A", value="d|1|q|a"), Choice(label="B", value="d|1|q|b")),
    )
    blocks = valid_block_kit(translate.to_blocks(reply, hint=translate.QUESTION_HINT))
    assert hints(blocks) == [translate.QUESTION_HINT] and blocks[-1]["type"] == "actions"
    assert any(
        e["text"] == "_Shortened to fit in Slack._" for b in blocks if b["type"] == "context" for e in b["elements"]
    )


@pytest.mark.parametrize(
    ("channel", "kind", "expected"),
    [
        ("C111", "question", translate.QUESTION_HINT),
        ("G111", "question", translate.QUESTION_HINT),  # a private channel or a group DM: mentions only too
        ("C111", "info", translate.CHANNEL_HINT),
        ("C111", "answer", None),
        ("C111", "error", None),
        ("D111", "question", None),  # the bot's DM: it reads every message
        ("U111", "question", None),  # a post to a person (a button outside a message) lands in the DM
        (None, "question", None),
    ],
)
def test_which_replies_get_a_hint_where(channel: str | None, kind: str, expected: str | None):
    assert translate.typing_hint(Reply(kind=kind, title="t"), channel) == expected


# ---------------------------------------------------------------------------------------- 2. one tap to start


async def test_opening_the_dm_sets_the_prompts_after_the_one_welcome(scripted: Harness):
    for _ in range(2):
        assert (await scripted.event(scripted.fresh("event_app_home_opened_messages.json")))[0] == 200
    await scripted.api.wait_for(PROMPTS, 2)
    await scripted.api.settle()
    assert [c.method for c in scripted.api.posted()] == [
        "chat.postMessage",
        PROMPTS,
        PROMPTS,
    ]  # welcome once, then the prompts
    for call in scripted.api.of(PROMPTS):
        assert call.answer == {"ok": True}
        assert call.body["channel_id"] == DM and "thread_ts" not in call.body  # agent view: for the whole DM
        assert (
            call.body["prompts"] == translate.suggested_prompts()
            and call.body["title"] == translate.SUGGESTED_PROMPTS_TITLE
        )
    assert [p["title"] for p in translate.suggested_prompts()] == [
        "Customer is upset",
        "Something nobody has seen",
        "Checklist for my department",
        "This week's tip",
    ]


async def test_a_welcome_slack_refused_is_sent_again_by_the_outbox_and_still_only_once(scripted: Harness):
    """The welcome is claimed in the transaction that queues it: a post Slack refuses is not lost with the claim."""
    api = scripted.api
    api.fail_once("chat.postMessage", status=500)
    assert (await scripted.event(scripted.fresh("event_app_home_opened_messages.json")))[0] == 200
    welcome = (await api.wait_for("chat.postMessage", timeout=15))[0]  # the outbox's next sweep
    assert [c.method for c in api.rejected] == ["chat.postMessage"] and welcome.body == api.rejected[0].body
    assert header(blocks_of(welcome)) == "Hi! I'm Frontline Coach."
    assert (await scripted.event(scripted.fresh("event_app_home_opened_messages.json")))[0] == 200
    await api.wait_for(PROMPTS, 2)
    await api.settle()
    assert len(api.of("chat.postMessage")) == 1


async def test_the_home_tab_sets_no_prompts(scripted: Harness):
    await scripted.event(scripted.fresh("event_app_home_opened_home.json"))
    await scripted.api.wait_for("views.publish")
    await scripted.api.settle()
    assert scripted.api.of(PROMPTS) == []


@pytest.mark.parametrize("failure", ["missing_scope", "http_500", "slow"])
async def test_failing_prompts_never_cost_the_welcome(
    scripted: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, failure: str
):
    caplog.set_level(logging.INFO)
    api = scripted.api
    if failure == "missing_scope":  # an app made from the older manifest, without assistant:write
        api.refusals[PROMPTS] = "missing_scope"
    elif failure == "http_500":
        api.fail_once(PROMPTS, status=500)
    else:
        monkeypatch.setattr(listeners, "PROMPTS_SECONDS", 0.2)
        api.delays[PROMPTS] = 1.0
    started = time.monotonic()
    status, _ = await scripted.event(scripted.fresh("event_app_home_opened_messages.json"))
    assert status == 200 and time.monotonic() - started < 1.0
    welcome = (await api.wait_for("chat.postMessage"))[0]
    assert welcome.body["channel"] == DM and header(blocks_of(welcome)) == "Hi! I'm Frontline Coach."
    warnings = [r for r in caplog.records if "suggested prompts not set" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert {"missing_scope": "missing_scope", "http_500": "ratelimited", "slow": "TimeoutError"}[failure] in warnings[
        0
    ].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The DM goes on as usual: a message is answered, and opening the tab again does not greet again.
    dm = scripted.fresh("event_message_im.json", text="customer is furious")
    dm["event"].pop("blocks")
    assert (await scripted.event(dm))[0] == 200
    assert (await scripted.event(scripted.fresh("event_app_home_opened_messages.json")))[0] == 200
    answer = (await api.wait_for("chat.postMessage", 2))[1]
    assert header(blocks_of(answer)) == "Critical interaction · Angry customer"
    await api.settle()
    assert len(api.of("chat.postMessage")) == 2


async def test_each_prompt_starts_what_its_title_says(real: Harness):
    """Tapping a prompt sends its message as the person's DM: on the real Coach, each starts its own thing."""
    messages = dict(translate.SUGGESTED_PROMPTS)
    for number, message in enumerate(messages.values(), start=1):
        dm = real.fresh("event_message_im.json", text=message, ts=f"1740430400.00{number}", user=f"U00000000{number}")
        dm["event"].pop("blocks")
        assert (await real.event(dm))[0] == 200
        await real.api.wait_for("chat.postMessage", number)
    upset, unseen, checklist, tip = (valid_block_kit(blocks_of(call)) for call in real.api.of("chat.postMessage"))
    for situation in (upset, unseen):  # a situation begins: the coach's first question, with buttons
        assert "Quick question 1 of up to 3" in json.dumps(situation) and len(buttons(situation)) >= 3
    assert header(checklist) == "Which department?" and buttons(checklist)
    assert header(tip) == "Tip of the week"
    # And the coach read what each situation prompt says, not just that something was said.
    assert real.coach.classifier.read(messages["Customer is upset"]).cue_weights.get("angry", 0) > 0
    assert real.coach.classifier.read(messages["Something nobody has seen"]).cue_weights.get("surprise", 0) > 0


def test_the_manifest_declares_the_same_prompts_under_agent_view():
    features = manifest()["features"]
    assert "assistant_view" not in features  # Slack's older mode; new apps must use agent_view
    agent = features["agent_view"]
    assert agent["suggested_prompts"] == translate.suggested_prompts() and len(agent["suggested_prompts"]) <= 4
    assert 0 < len(agent["agent_description"]) <= 300
    assert "assistant:write" in manifest()["oauth_config"]["scopes"]["bot"]
    # In the agent view, app_home_opened on the messages tab is the signal; assistant_thread_started is not sent.
    assert "app_home_opened" in manifest()["settings"]["event_subscriptions"]["bot_events"]


# ----------------------------------------------------------------------- 3. the setup doc and the manifest's comment

_NUMBERS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


def test_the_doc_lists_exactly_the_scopes_the_manifest_asks_for():
    doc = (ROOT / "docs/slack.md").read_text(encoding="utf-8")
    found = re.search(r"The app asks for\s+exactly these (\w+):(.*?)\n\n", doc, re.S)
    assert found, "docs/slack.md must say which scopes the app asks for"
    listed = re.findall(r"`([a-z_.]+:[a-z_.]+|commands)`", found.group(2))
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert sorted(listed) == sorted(scopes) and _NUMBERS[found.group(1)] == len(scopes)


def test_the_manifest_comment_and_the_doc_count_the_urls_there_are():
    text = (ROOT / "adapters/slack/manifest.yaml").read_text(encoding="utf-8")
    urls = [
        line for line in text.splitlines() if not line.lstrip().startswith("#") and "https://coach.example.com" in line
    ]
    header_comment = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    counts = {_NUMBERS[word] for word in re.findall(r"\b(\w+) URLs\b", header_comment)}
    assert counts == {len(urls)} == {5}
    doc = (ROOT / "docs/slack.md").read_text(encoding="utf-8")
    assert {_NUMBERS[word] for word in re.findall(r"\b(\w+) URLs in total\b", doc)} == {len(urls)}
