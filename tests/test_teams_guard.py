"""Teams: every malformed request gets a 4xx and one log line naming the field, never a 5xx, a traceback or the value.

Over loopback HTTP through the real CloudAdapter (auth off, as with the Emulator), with the fake
connector from tests/fakes. Token-related checks are in test_teams_tokens.py.
"""

from __future__ import annotations

import json
import logging

import pytest

from adapters import bounded_json
from tests.test_teams_http import Harness, fixture, harness_fixture  # noqa: F401  (the fixture "harness")

SECRET_ID = "19:SECRET-conversation-id"  # a value that must never reach the log


def _no_trace(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing logged at ERROR or above, no exception attached, no traceback text."""
    for record in caplog.records:
        assert record.levelno < logging.ERROR, record.getMessage()
        assert record.exc_info is None and record.exc_text is None, record.getMessage()
        assert "Traceback" not in record.getMessage()


async def _post_raw(harness: Harness, raw: bytes) -> tuple[int, str]:
    return await harness.post(None, raw=raw)


async def test_json_nested_5000_deep_gets_400_and_no_traceback(harness: Harness, caplog):
    caplog.set_level(logging.INFO)
    for raw in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 5000):
        status, text = await _post_raw(harness, raw)
        assert status == 400 and "nested deeper" in text
    body = fixture("message_personal.json", harness.connector.url)
    body["channelData"]["deep"] = json.loads("[" * 60 + "]" * 60)  # deep, but within the bound: served
    assert (await harness.post(body))[0] == 201
    assert harness.coach.seen and len(harness.connector.sent) == 1
    _no_trace(caplog)


async def test_body_over_the_size_bound_gets_413(harness: Harness, caplog):
    caplog.set_level(logging.INFO)
    body = fixture("message_personal.json", harness.connector.url)
    body["text"] = "x" * (bounded_json.MAX_BYTES + 10)
    status, _ = await harness.post(body)
    assert status == 413
    assert harness.coach.seen == []
    _no_trace(caplog)


def _set(path: str, value):
    """A mutation of the personal-message fixture: ``path`` like "conversation.id" set to ``value``."""

    def mutate(body: dict) -> None:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value

    return mutate


BAD_IDS = [
    pytest.param(
        _set("conversation.id", SECRET_ID + "\r\nX-Injected: 1"), "conversation.id", id="conversation id with CR/LF"
    ),
    pytest.param(_set("conversation.id", SECRET_ID + "\n"), "conversation.id", id="conversation id with LF"),
    pytest.param(_set("conversation.id", SECRET_ID + "\x00"), "conversation.id", id="conversation id with NUL"),
    pytest.param(
        _set("conversation.id", SECRET_ID + "\ud800"), "surrogate", id="conversation id with a lone surrogate"
    ),
    pytest.param(
        _set("conversation.id", SECRET_ID + "x" * 3000), "conversation.id", id="conversation id over 512 characters"
    ),
    pytest.param(_set("from.aadObjectId", SECRET_ID + "\r\n"), "from.aadObjectId", id="aad object id with CR/LF"),
    pytest.param(_set("from.aadObjectId", SECRET_ID + "x" * 600), "from.aadObjectId", id="aad object id over-long"),
    pytest.param(_set("from.id", SECRET_ID + "\udc00"), "surrogate", id="from id with a lone low surrogate"),
    pytest.param(_set("channelData.tenant.id", SECRET_ID + "\x00"), "tenant id", id="tenant id with NUL"),
    pytest.param(_set("id", SECRET_ID + "\r\n"), "id", id="activity id with CR/LF"),
    pytest.param(_set("recipient.id", SECRET_ID + "\x1b"), "recipient.id", id="recipient id with ESC"),
    pytest.param(_set("text", "hello \ud83d"), "surrogate", id="text with half an emoji"),
]


@pytest.mark.parametrize("mutate, field", BAD_IDS)
async def test_ids_the_store_cannot_hold_get_400_and_a_log_line_without_the_value(
    harness: Harness, caplog, mutate, field
):
    caplog.set_level(logging.DEBUG)
    body = fixture("message_personal.json", harness.connector.url)
    mutate(body)
    status, text = await harness.post(
        body
    )  # json.dumps writes a lone surrogate as a \ud800 escape, as a hostile client would
    assert status == 400 and field in text
    assert harness.coach.seen == [] and harness.connector.sent == []
    assert await harness.coach.store.get_conversation("teams", body["conversation"]["id"]) is None
    refused = [r for r in caplog.records if r.name == "adapters.teams" and "refused" in r.getMessage()]
    assert len(refused) == 1 and field in refused[0].getMessage()
    assert "SECRET" not in caplog.text and "hello" not in caplog.text
    _no_trace(caplog)


MALFORMED = [
    pytest.param(_set("text", 42), "text", id="text a number"),
    pytest.param(_set("text", ["a"]), "text", id="text a list"),
    pytest.param(_set("channelId", {"x": 1}), "channelId", id="channelId an object"),
    pytest.param(_set("from.aadObjectId", 7), "from.aadObjectId", id="aadObjectId a number"),
    pytest.param(_set("entities", "mention"), "entities", id="entities a string"),
    pytest.param(_set("entities", [1, 2]), "entities", id="entities of numbers"),
    pytest.param(_set("channelData", ["tenant"]), "channelData", id="channelData a list"),
    pytest.param(_set("value", ["coach_choice"]), "value", id="card submit value a list"),
    pytest.param(_set("value", {"coach_choice": 5}), "value.coach_choice", id="card submit choice a number"),
    pytest.param(
        _set("value", {"coach_choice": "d|x|q1\r\n"}), "value.coach_choice", id="card submit choice with CR/LF"
    ),
    pytest.param(_set("deliveryMode", 3), "deliveryMode", id="deliveryMode a number"),
    pytest.param(_set("serviceUrl", "http://[::1"), "serviceUrl", id="service url with a broken IPv6 host"),
    pytest.param(_set("serviceUrl", "http://bad host/"), "serviceUrl", id="service url with a space"),
    pytest.param(_set("serviceUrl", "https://smba.trafficmanager.net/\r\n"), "serviceUrl", id="service url with CR/LF"),
    pytest.param(
        _set("serviceUrl", "http://127.0.0.1:99999/"), "serviceUrl", id="service url with a port out of range"
    ),
    pytest.param(_set("serviceUrl", "ftp://example.com/"), "serviceUrl", id="service url not http"),
    pytest.param(_set("serviceUrl", "https:///no-host"), "serviceUrl", id="service url without a host"),
    pytest.param(_set("timestamp", "yesterday"), "activity", id="timestamp not a date"),
    pytest.param(_set("conversation.isGroup", "yes"), "activity", id="isGroup not a boolean"),
]


@pytest.mark.parametrize("mutate, field", MALFORMED)
async def test_shapes_botbuilder_cannot_read_get_400(harness: Harness, caplog, mutate, field):
    caplog.set_level(logging.INFO)
    body = fixture("message_personal.json", harness.connector.url)
    mutate(body)
    status, text = await harness.post(body)
    assert status == 400 and field in text
    assert harness.coach.seen == [] and harness.connector.sent == []
    _no_trace(caplog)


async def test_members_added_must_be_accounts(harness: Harness, caplog):
    caplog.set_level(logging.INFO)
    for members in ("everyone", ["28:bot"], [{"name": "no id"}]):
        body = fixture("conversation_update_bot_added_team.json", harness.connector.url)
        body["membersAdded"] = members
        status, text = await harness.post(body)
        assert status == 400 and "membersAdded" in text
    assert harness.connector.sent == []
    _no_trace(caplog)


async def test_invokes_are_acknowledged_not_501_and_never_500(harness: Harness, caplog):
    """The stock handler answers 501 to an unknown invoke, and a 500 with a traceback to a malformed Action.Execute."""
    caplog.set_level(logging.INFO)
    for name, value in (
        ("adaptiveCard/action", [1]),
        ("adaptiveCard/action", {"action": 1}),
        ("signin/verifyState", None),
        ("task/fetch", {"data": {}}),
    ):
        body = fixture("message_personal.json", harness.connector.url)
        body.update(type="invoke", name=name, value=value)
        status, _ = await harness.post(body)
        assert status == 200
    body = fixture("message_personal.json", harness.connector.url)
    body["type"] = "invoke"  # without a name
    assert (await harness.post(body))[0] == 400
    assert harness.coach.seen == [] and harness.connector.sent == []
    _no_trace(caplog)


async def test_a_valid_activity_with_escaped_surrogate_pairs_is_served(harness: Harness):
    """An emoji written as a \\ud83d\\ude00 pair (as ensure_ascii JSON writers do) is not an unpaired surrogate."""
    body = fixture("message_personal.json", harness.connector.url)
    body["text"] = "cx furious 😡"
    body["from"]["name"] = "Zoë 😀"
    status, _ = await harness.post(None, raw=json.dumps(body, ensure_ascii=True).encode())
    assert status == 201
    (incoming,) = harness.coach.seen
    assert incoming.text == "cx furious 😡"
