"""Teams pieces without a server: settings, payload predicates, and the Adaptive Card for a Reply."""

from __future__ import annotations

import copy
import json

import pytest
from botbuilder.core import CardFactory
from botbuilder.schema import Activity, CardAction, ConversationAccount, HeroCard
from msrest import Serializer

from adapters.teams import TeamsConfig, teams_config
from adapters.teams.bot import bot_mentions, is_bot_added, is_group, to_incoming, without_at_tags, without_mentions
from adapters.teams.cards import MAX_CARD_ACTIONS, submitted_choice, to_activity, to_card
from adapters.teams.checks import missing_fields
from adapters.teams.wire import CONNECTOR_MODELS, CardSerializer
from bot.errors import ConfigError
from bot.messages import Choice, Reply, Section
from bot.tips import TipRejected, clean_tip
from tests.test_teams_http import FIXTURES

APP = "00000000-1111-2222-3333-444444444444"


def activity(name: str) -> Activity:
    return Activity().deserialize(json.loads((FIXTURES / name).read_text()))


# ---------------------------------------------------------------------- settings


def test_no_settings_is_open():
    config = teams_config({})
    assert config == TeamsConfig() and config.open


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"MicrosoftAppId": APP, "MicrosoftAppPassword": "pw"}, TeamsConfig(app_id=APP, app_password="pw")),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppPassword": "pw", "MicrosoftAppType": "multitenant"},
            TeamsConfig(app_id=APP, app_password="pw"),
        ),
        (
            {
                "MicrosoftAppId": APP,
                "MicrosoftAppPassword": "pw",
                "MicrosoftAppType": "SingleTenant",
                "MicrosoftAppTenantId": "t1",
            },
            TeamsConfig(app_id=APP, app_password="pw", app_type="SingleTenant", tenant_id="t1"),
        ),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppTenantId": "t1"},
            TeamsConfig(app_id=APP, app_type="UserAssignedMSI", tenant_id="t1"),
        ),
    ],
)
def test_complete_settings(env, expected):
    config = teams_config(env)
    assert config == expected and not config.open


@pytest.mark.parametrize(
    "env, words",
    [
        ({"MicrosoftAppPassword": "pw"}, ["MicrosoftAppPassword", "MicrosoftAppId"]),
        ({"MicrosoftAppTenantId": "t1"}, ["MicrosoftAppTenantId", "MicrosoftAppId"]),
        ({"MicrosoftAppType": "SingleTenant"}, ["MicrosoftAppType", "MicrosoftAppId"]),
        ({"MicrosoftAppId": APP}, ["MicrosoftAppPassword"]),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppPassword": "pw", "MicrosoftAppType": "Personal"},
            ["Personal", "SingleTenant"],
        ),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppPassword": "pw", "MicrosoftAppType": "SingleTenant"},
            ["MicrosoftAppTenantId"],
        ),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": "t"},
            ["MicrosoftAppPassword"],
        ),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppPassword": "pw", "MicrosoftAppTenantId": "t"},
            ["MicrosoftAppTenantId", "SingleTenant"],
        ),
        ({"MicrosoftAppId": APP, "MicrosoftAppType": "UserAssignedMSI"}, ["MicrosoftAppTenantId"]),
        (
            {
                "MicrosoftAppId": APP,
                "MicrosoftAppType": "UserAssignedMSI",
                "MicrosoftAppTenantId": "t",
                "MicrosoftAppPassword": "pw",
            },
            ["MicrosoftAppPassword"],
        ),
    ],
)
def test_partial_or_contradictory_settings_stop_start_up(env, words):
    with pytest.raises(ConfigError) as raised:
        teams_config(env)
    for word in words:
        assert word in str(raised.value)


def test_password_never_shows_in_repr():
    assert "hunter2" not in repr(teams_config({"MicrosoftAppId": APP, "MicrosoftAppPassword": "hunter2"}))


# ---------------------------------------------------------------------- payload predicates


def test_required_fields():
    body = json.loads((FIXTURES / "message_personal.json").read_text())
    assert missing_fields(body) == []
    assert missing_fields({"type": "message"}) == ["serviceUrl", "conversation.id", "from.id", "recipient.id"]
    assert missing_fields("message") == ["(an activity object)"]


def test_group_and_mentions():
    mention = activity("message_channel_mention.json")
    assert is_group(mention) and bot_mentions(mention) == ["<at>My Combined</at>"]
    personal = activity("message_personal.json")
    assert not is_group(personal) and bot_mentions(personal) == []
    assert (
        without_mentions("<at>My Combined</at> checklist  kitchen\n", ["<at>My Combined</at>"]) == "checklist kitchen"
    )


def test_other_mentions_reach_the_core_as_names():
    assert (
        without_at_tags('ask <at>Dave Taniguchi</at> about the <AT id="0">huddle</AT>')
        == "ask Dave Taniguchi about the huddle"
    )


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("<at>Dave Taniguchi</at> runs the huddle", "Dave Taniguchi runs the huddle"),
        ('<AT id="0">Dave</AT> too', "Dave too"),
    ],
)
def test_a_tip_keeps_a_mentions_name_not_its_tags(raw: str, clean: str):
    assert clean_tip(without_at_tags(raw)) == clean


def test_a_tip_of_an_empty_mention_is_refused():
    with pytest.raises(TipRejected, match="needs some words"):
        clean_tip(without_at_tags("<at></at>"))


def test_mention_with_regex_characters_in_the_name():
    assert without_mentions("<at>Coach (beta) [x]*</at> tip", ["<at>Coach (beta) [x]*</at>"]) == "tip"


def test_bot_added_is_decided_by_recipient_id():
    assert is_bot_added(activity("conversation_update_bot_added_team.json"))
    assert not is_bot_added(activity("conversation_update_user_added_team.json"))
    assert is_bot_added(activity("emulator_conversation_update.json"))


def test_to_incoming_for_each_message_fixture():
    assert to_incoming(activity("message_personal.json")).text == "file"
    assert to_incoming(activity("message_channel_mention.json")).text == "1"
    submit = to_incoming(activity("message_adaptive_card_submit.json"))
    assert submit.choice == "" and submit.text == ""
    assert to_incoming(activity("emulator_message.json")).workspace == ""


def test_submitted_choice():
    assert submitted_choice(None) is None
    assert submitted_choice({"coach_choice": "d|x|more"}) == "d|x|more"
    assert submitted_choice({"coach_choice": 7}) == ""
    assert submitted_choice("text") == ""
    assert submitted_choice({"key": "value", "x": "foobar"}) == ""


# ---------------------------------------------------------------------- the card


ANSWER = Reply(
    kind="answer",
    title="Critical interaction · Angry customer",
    text="Sure (91%): you wrote “furious”.",
    sections=(
        Section(title="Hold on to", lines=("Opportunity: a problem solved well wins loyalty.",)),
        Section(title="What this customer needs", lines=("To be heard.", "A clear next step.")),
        Section(
            title="Script (de-escalation)",
            lines=("Listen without interrupting.", "Apologise “I'm sorry this happened.”", "Offer the fix."),
            numbered=True,
        ),
    ),
    choices=(Choice(label="More", value="d|abc|more"), Choice(label="Start over", value="c|start-over")),
)


def texts(element) -> list[str]:
    """Every TextBlock text in an Adaptive Card element tree, in reading order."""
    found = []
    if isinstance(element, dict):
        if element.get("type") == "TextBlock":
            found.append(element["text"])
        for value in element.values():
            found.extend(texts(value))
    elif isinstance(element, list):
        for value in element:
            found.extend(texts(value))
    return found


def test_answer_card_has_header_sections_numbered_script_and_buttons():
    card = to_card(ANSWER)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    header = card["body"][0]
    assert header["type"] == "Container" and header["items"][0]["text"] == "Critical interaction · Angry customer"
    assert header["items"][0]["style"] == "heading"
    flat = texts(card["body"])
    assert flat[:3] == ["Critical interaction · Angry customer", "Sure (91%): you wrote “furious”.", "Hold on to"]
    script = flat[flat.index("Script (de-escalation)") + 1 :]
    assert script == [
        "1.",
        "Listen without interrupting.",
        "2.",
        "Apologise “I'm sorry this happened.”",
        "3.",
        "Offer the fix.",
    ]
    assert "•" in flat and "To be heard." in flat
    assert card["actions"] == [
        {"type": "Action.Submit", "title": "More", "data": {"coach_choice": "d|abc|more"}},
        {"type": "Action.Submit", "title": "Start over", "data": {"coach_choice": "c|start-over"}},
    ]
    assert (
        card["fallbackText"] == "Critical interaction · Angry customer\nSure (91%): you wrote “furious”."
    )  # short: the text goes out once
    json.dumps(card)  # plain JSON all the way down


def test_many_choices_go_into_action_sets():
    reply = Reply(
        kind="info",
        title="Which department?",
        choices=tuple(Choice(label=f"D{i}", value=f"c|checklist|d{i}") for i in range(8)),
    )
    card = to_card(reply)
    assert "actions" not in card
    sets = [element for element in card["body"] if element["type"] == "ActionSet"]
    assert [len(s["actions"]) for s in sets] == [MAX_CARD_ACTIONS, 8 - MAX_CARD_ACTIONS]


def test_reply_without_text_sections_or_choices():
    card = to_card(Reply(kind="info", title="Cleared."))
    assert texts(card["body"]) == ["Cleared."] and "actions" not in card


def test_activity_carries_card_and_text_fallback():
    message = to_activity(ANSWER).serialize()
    assert (
        message["type"] == "message"
        and message["summary"] == "Critical interaction · Angry customer\nSure (91%): you wrote “furious”."
    )
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "text" not in message  # Teams would print it above the card


# ---------------------------------------------------------------------- the wire


def _wire_reply() -> Activity:
    reply = Reply(
        kind="answer",
        title="Critical · angry",
        text="cues: refund, furious",
        sections=(Section(title="Script", lines=("Breathe.", "Say sorry once."), numbered=True),),
        choices=(Choice(label="More", value="more"),),
    )
    activity = to_activity(reply)
    activity.conversation = ConversationAccount(id="a:1")
    activity.reply_to_id = "1234"
    activity.attachments.append(
        CardFactory.hero_card(HeroCard(title="stock", buttons=[CardAction(type="imBack", title="x", value="x")]))
    )
    return activity


def test_card_serializer_sends_what_msrest_would():
    """The card goes out as built, and everything else (a hero card model too) exactly as msrest sends it."""
    activity = _wire_reply()
    ours = CardSerializer(CONNECTOR_MODELS).body(activity, "Activity")
    plain = copy.deepcopy(activity)
    plain.attachments[0].content = dict(activity.attachments[0].content)
    stock = Serializer(CONNECTOR_MODELS).body(plain, "Activity")
    assert json.loads(json.dumps(ours)) == json.loads(json.dumps(stock))
    assert ours["attachments"][0]["content"] is activity.attachments[0].content
    assert ours["attachments"][1]["content"]["buttons"][0]["type"] == "imBack"
    assert activity.attachments[0].content is not None  # the activity itself is left as it was


def test_no_connector_model_has_validation_rules():
    """Why CardSerializer may skip msrest's client-side validation; a future SDK adding rules would fail here."""
    assert not [name for name, cls in CONNECTOR_MODELS.items() if getattr(cls, "_validation", None)]


def test_card_content_is_not_deep_copied_but_the_activity_is():
    activity = _wire_reply()
    copied = copy.deepcopy(activity)
    assert copied is not activity and copied.attachments[0] is not activity.attachments[0]
    assert copied.attachments[0].content is activity.attachments[0].content
