"""Slack settings and the pure translation: payload fields to Incoming, Reply to Block Kit within Slack's limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.slack import SlackConfig, slack_config, translate
from adapters.slack.route import Refused, parse_slack_body
from bot.errors import ConfigError
from bot.messages import Choice, Reply, Section

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "slack"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/slack")


# ---------------------------------------------------------------------------------------- settings


def test_slack_is_off_without_any_variable():
    assert slack_config({"PORT": "3978", "MicrosoftAppId": "x"}) is None


def test_http_mode():
    config = slack_config({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert config == SlackConfig(bot_token="xoxb-1", signing_secret="s", api_url="https://slack.com/api/")
    assert config.http and not config.socket_mode


def test_socket_mode_needs_no_signing_secret():
    config = slack_config({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert config.socket_mode and not config.http


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")),
        ({"SLACK_SIGNING_SECRET": "s"}, ("SLACK_BOT_TOKEN",)),
        ({"SLACK_APP_TOKEN": "xapp-1"}, ("SLACK_BOT_TOKEN", "Socket Mode")),
        ({"SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"}, ("SLACK_BOT_TOKEN",)),
        ({"SLACK_BOT_TOKEN": "xapp-1", "SLACK_APP_TOKEN": "xoxb-1"}, ("SLACK_BOT_TOKEN", "xoxb-")),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, ("SLACK_APP_TOKEN", "xapp-")),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "slack.internal"},
            ("SLACK_API_URL",),
        ),
    ],
)
def test_partial_configuration_names_what_is_missing(env: dict[str, str], named: tuple[str, ...]):
    with pytest.raises(ConfigError) as error:
        slack_config(env)
    message = str(error.value)
    assert all(name in message for name in named), message
    assert "\n" not in message


def test_api_url_override_gets_its_trailing_slash():
    config = slack_config(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://127.0.0.1:9/api"}
    )
    assert config.api_url == "http://127.0.0.1:9/api/"


def test_secrets_stay_out_of_repr():
    config = slack_config(
        {"SLACK_BOT_TOKEN": "xoxb-SECRET", "SLACK_SIGNING_SECRET": "SIGN", "SLACK_APP_TOKEN": "xapp-SECRET"}
    )
    assert "SECRET" not in repr(config) and "SIGN" not in repr(config)


# ---------------------------------------------------------------------------------------- inbound


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_mention_token_is_removed_wherever_it_is():
    assert translate.strip_mention("<@W111> Hi there!", "W111") == "Hi there!"
    assert translate.strip_mention("so <@W111|coach>   what now", "W111") == "so what now"
    assert translate.strip_mention("ask <@W222> first", "W111") == "ask <@W222> first"


def test_broadcast_markup_never_reaches_the_core():
    command = {
        "command": "/tip",
        "text": "add <!channel> <!here|here> Smile <!subteam^S0614TZR7|@leads> when you answer",
        "team_id": "T1",
        "user_id": "U1",
    }
    assert translate.command_to_incoming(command).text == "tip add Smile when you answer"
    event = {"channel": "D1", "user": "U1", "text": "<@W111> <!everyone> customer is furious", "channel_type": "im"}
    assert translate.event_to_incoming(event, team="T1", bot_user_id="W111").text == "customer is furious"


def test_event_to_incoming_on_the_fixtures():
    mention = fixture("event_app_mention_channel.json")["event"]
    incoming = translate.event_to_incoming(mention, team="T111", bot_user_id="W111")
    assert (incoming.conversation, incoming.text, incoming.user) == ("C111:1595926230.009600", "Hi there!", "W222")
    assert translate.reply_thread(mention) == "1595926230.009600"
    dm = fixture("event_message_im.json")["event"]
    assert translate.event_to_incoming(dm, team="T043DB835ML", bot_user_id="U0442US8QGH").conversation == "D0442US94JD"
    assert translate.reply_thread(dm) is None


@pytest.mark.parametrize(
    ("name", "human"),
    [
        ("event_message_im.json", True),
        ("event_message_im_bolt.json", True),
        ("event_message_channel_thread_reply.json", True),
        ("event_message_from_own_bot.json", False),
        ("event_message_from_other_bot.json", False),
        ("event_message_subtype_bot_message.json", False),
        ("event_message_subtype_bot_message_captured.json", False),
    ],
)
def test_who_is_a_person(name: str, human: bool):
    assert translate.is_human_message(fixture(name)["event"]) is human


def test_edits_and_deletions_are_not_new_messages():
    event = dict(fixture("event_message_im.json")["event"], subtype="message_changed")
    assert not translate.is_human_message(event)


@pytest.mark.parametrize(
    ("command", "text", "core"),
    [
        ("/coach", "", "help"),
        ("/coach", "  cx  angry ", "cx angry"),
        ("/checklist", "", "checklist"),
        ("/checklist", "bakery", "checklist bakery"),
        ("/tip", "", "tip"),
        ("/hello-world", "Hi", "Hi"),
    ],
)
def test_slash_commands_are_the_core_words(command: str, text: str, core: str):
    assert translate.command_text(command, text) == core


def test_command_fixture_to_incoming():
    incoming = translate.command_to_incoming(fixture("slash_command.json"))
    assert (incoming.workspace, incoming.conversation, incoming.user, incoming.text) == ("T111", "C111", "W111", "Hi")


def test_action_fixture_to_incoming():
    body = fixture("block_actions_button.json")
    incoming = translate.action_to_incoming(body, body["actions"][0])
    assert (incoming.workspace, incoming.conversation, incoming.user, incoming.choice) == (
        "T111",
        "C111",
        "W111",
        "click_me_123",
    )
    assert translate.action_place(body) == ("C111", "111.222", None, True)


@pytest.mark.parametrize(
    ("text", "content_type", "ok"),
    [
        ((FIXTURES / "slash_command.form.txt").read_text(), "application/x-www-form-urlencoded", True),
        ((FIXTURES / "block_actions_button.form.txt").read_text(), "application/x-www-form-urlencoded", True),
        ((FIXTURES / "url_verification.json").read_text(), "application/json", True),
        ("ssl_check=1&token=x", "application/x-www-form-urlencoded", True),
        ("{", "application/json", False),
        ("a=b", "application/x-www-form-urlencoded", False),
    ],
)
def test_body_guard(text: str, content_type: str, ok: bool):
    if ok:
        assert isinstance(parse_slack_body(text, content_type), dict)
    else:
        with pytest.raises(Refused) as refused:
            parse_slack_body(text, content_type)
        assert refused.value.status == 400


# ---------------------------------------------------------------------------------------- outbound


def test_answer_renders_header_sections_numbered_script_and_buttons():
    reply = Reply(
        kind="answer",
        title="Critical interaction · Angry customer",
        text="Sure (90%): you wrote “refund” & <shouting>.",
        sections=(
            Section(title="Hold on to", lines=("Opportunity",)),
            Section(title="Script", lines=("Listen.", "Apologise."), numbered=True),
        ),
        choices=(Choice(label="More", value="d|abc|more"), Choice(label="Start over", value="c|start-over")),
    )
    blocks = translate.to_blocks(reply)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Critical interaction · Angry customer", "emoji": True}
    assert blocks[1]["text"]["text"] == "Sure (90%): you wrote “refund” &amp; &lt;shouting&gt;."
    assert blocks[2]["text"]["text"] == "*Hold on to*\n• Opportunity"
    assert blocks[3]["text"]["text"] == "*Script*\n1. Listen.\n2. Apologise."
    assert [(e["action_id"], e["value"]) for e in blocks[4]["elements"]] == [
        ("coach-choice-0", "d|abc|more"),
        ("coach-choice-1", "c|start-over"),
    ]
    message = translate.to_message(reply)
    assert message["text"].startswith("Critical interaction · Angry customer\n")


def test_oversized_reply_is_shortened_within_every_limit():
    reply = Reply(
        kind="answer",
        title="T" * 200,
        text="x & y " * 1000,
        sections=tuple(Section(title=f"Part {n}", lines=("line " * 300,) * 12, numbered=True) for n in range(30)),
        choices=tuple(Choice(label="L" * 100, value=f"d|1|{n}") for n in range(30))
        + (Choice(label="too big", value="v" * 2500),),
    )
    blocks = translate.to_blocks(reply)
    assert len(blocks) <= translate.MAX_MESSAGE_BLOCKS
    assert blocks[0]["type"] == "section" and blocks[0]["text"]["text"].startswith(
        "*TTT"
    )  # a title too long for a header
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert not block["text"]["text"].endswith("&am…")
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]  # 30 buttons kept; the 2500-character value left out
    assert all(len(e["text"]["text"]) <= 75 and len(e["value"]) <= 2000 for a in actions for e in a["elements"])
    assert blocks[-3]["type"] == "context"  # says that content was cut
    assert len(translate.fallback_text(reply)) <= translate.MAX_FALLBACK_TEXT


def test_long_section_continues_in_the_next_block_rather_than_being_cut():
    lines = tuple(f"step {n} " + "w" * 500 for n in range(12))
    blocks = translate.to_blocks(
        Reply(kind="info", title="", sections=(Section(title="Script", lines=lines, numbered=True),))
    )
    text = "\n".join(b["text"]["text"] for b in blocks)
    assert len(blocks) >= 2 and all(f"{n + 1}. step {n} " in text for n in range(12))


def test_home_view_has_no_buttons_and_fits_100_blocks():
    parts = [
        Reply(
            kind="info",
            title=f"Checklist {n}",
            sections=(Section(title="", lines=("a",) * 3),),
            choices=(Choice(label="x", value="y"),),
        )
        for n in range(80)
    ]
    view = translate.home_view(parts)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert not any(b["type"] == "actions" for b in view["blocks"])


# ---------------------------------------------------------------------------------------- the manifest


def test_manifest_asks_for_exactly_what_the_adapter_uses():
    import yaml

    manifest = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "adapters" / "slack" / "manifest.yaml").read_text()
    )
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == set(translate.SLASH_COMMANDS)
    assert all(c["url"].endswith("/slack/events") for c in manifest["features"]["slash_commands"])
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == ["app_home_opened", "app_mention", "message.im"]
    assert settings["interactivity"]["is_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "assistant:write",
        "chat:write",
        "commands",
        "im:history",
        "usergroups:read",
    ]
    assert (
        manifest["features"]["app_home"]["home_tab_enabled"]
        and manifest["features"]["app_home"]["messages_tab_enabled"]
    )
