"""Fuzzing the Slack route with Hypothesis: mutated signed and unsigned requests never get a 5xx or log a traceback.

Each example takes a recorded Slack request (a DM, a mention, a slash command, a button, a modal
submission, the URL check), changes a few fields to hostile values (wrong types, NUL, lone
surrogates, CR/LF, very long text, nesting thousands deep), deletes some, or damages the bytes,
then sends it over loopback HTTP signed, signed and then damaged, forged, stale, or with headers
slack_sdk cannot read. Bounded: ``derandomize`` makes the run the same every time, and the number
of examples is fixed (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import time
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.kwargs_injection.async_utils import build_async_required_kwargs
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.listeners import build_bolt_app
from adapters.slack.route import Refused, bolt_request
from adapters.slack.shapes import body_problem
from tests.fakes.slack_api import FakeSlackApi
from tests.slack_signing import signed_headers
from tests.test_slack_hostile import raw_post, tracebacks
from tests.test_slack_http import FORM, JSON, SECRET, Harness, ScriptedCoach, fixture, fixture_text, start_bot

FUZZ_EXAMPLES = int(
    os.environ.get("COACH_SLACK_FUZZ_EXAMPLES") or 150
)  # set it higher (and a seed) for a long local run
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the work tree
    derandomize=not os.environ.get(
        "COACH_SLACK_FUZZ_EXAMPLES"
    ),  # by default the same examples every run: reproducible, not a flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def base_requests() -> dict[str, tuple[str, Any]]:
    """name → (how it is sent, the parsed body): "json", "form" (a slash command) or "payload" (an interaction)."""
    command = dict(parse_qsl(fixture_text("slash_command.form.txt"), keep_blank_values=True))
    command.update(command="/tip", text="add Fish &amp; chips")
    return {
        "dm": ("json", fixture("event_message_im_bolt.json")),
        "dm_captured": ("json", fixture("event_message_im.json")),
        "mention": ("json", fixture("event_app_mention_channel.json")),
        "home": ("json", fixture("event_app_home_opened_home.json")),
        "url_verification": ("json", fixture("url_verification.json")),
        "command": ("form", command),
        "button": ("payload", fixture("block_actions_button.json")),
        "view": ("payload", fixture("view_submission.json")),
    }


BASES = base_requests()
STATUSES: dict[int, int] = {}  # what the fuzz got back, for a look with -s

# Strings that broke something somewhere once: ids no store takes, entities, mentions, huge ones.
NASTY_TEXT = st.sampled_from(
    [
        "",
        "\x00",
        "U1\x00",
        "\ud800",
        "a\udfffb",
        "\r\n",
        "C1\r\nX: 1",
        "&amp;amp;",
        "&lt;@W111&gt;",
        "<@W111>",
        "<!channel>",
        "x" * 3000,
        "é" * 700,
        "payload",
        "event_callback",
        "block_actions",
        "message",
        "/tip",
        "add",
        "1e999",
        "-1",
        "null",
        "[]",
        "{}",
        "\u2028",
        "\ufeff",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    NASTY_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "type", "team_id", "user", "channel", "event", "text", "value", "action_id"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
MUTATION = st.one_of(
    st.tuples(st.just("set"), st.integers(min_value=0), VALUES),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.none()),
    st.tuples(st.just("deep"), st.integers(min_value=0), st.integers(min_value=40, max_value=3000)),
)
BYTES = st.one_of(
    st.none(),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.binary(max_size=0)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("replace"), st.integers(min_value=0), st.binary(min_size=1, max_size=1)),
)
HEADERS = st.sampled_from(
    ["signed", "signed", "signed", "damaged_after_signing", "forged", "stale", "no_signature", "bad_timestamp", "junk"]
)
CONTENT_TYPES = st.sampled_from(
    [None, None, None, None, JSON, FORM, "text/plain", "application/json; charset=utf-8", ""]
)
JUNK_HEADER = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30
)


DEEP = "__deep__"
_DEEP_MARKER = re.compile(r'\{"__deep__": (\d+)\}')


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in ``value`` a mutation can reach: keys of objects, indexes of lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(body: Any, mutation: tuple[str, int, Any]) -> Any:
    kind, pick, value = mutation
    places = paths(body)
    if not places:
        return body
    *parent_path, last = places[pick % len(places)]
    parent = body
    for step in parent_path:
        parent = parent[step]
    if kind == "delete":
        parent.pop(last) if isinstance(parent, dict) else parent.pop(last)
    elif kind == "set":
        parent[last] = value
    else:  # "deep": a marker that ``encode`` turns into that many nested arrays (Python itself could not hold them)
        parent[last] = {DEEP: value}
    return body


def encode(mode: str, body: Any, ascii_only: bool) -> tuple[bytes, str]:
    """The body as it goes on the wire, and its natural content type."""

    def to_json(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=ascii_only)
        return _DEEP_MARKER.sub(
            lambda m: "[" * min(int(m.group(1)), 3000) + "0" + "]" * min(int(m.group(1)), 3000), text
        )

    if mode == "json":
        return to_json(body).encode("utf-8", "surrogatepass"), JSON
    if mode == "payload":
        return ("payload=" + quote(to_json(body).encode("utf-8", "surrogatepass"), safe="")).encode(), FORM
    fields = body if isinstance(body, dict) else {"body": body}
    flat = {str(k): v if isinstance(v, str) else to_json(v) for k, v in fields.items()}
    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in flat.items()}).encode(), FORM


def damage(raw: bytes, change: tuple[str, int, bytes] | None) -> bytes:
    if change is None or not raw:
        return raw
    kind, at, data = change
    at %= len(raw)
    if kind == "truncate":
        return raw[:at]
    if kind == "insert":
        return raw[:at] + data + raw[at:]
    return raw[:at] + data + raw[at + 1 :]


def headers_for(raw: bytes, how: str, content_type: str, junk: str) -> dict[str, str]:
    now = int(time.time())
    if how in ("signed", "damaged_after_signing"):
        return signed_headers(SECRET, raw, content_type=content_type)
    if how == "forged":
        return signed_headers("not-the-secret", raw, content_type=content_type)
    if how == "stale":
        return signed_headers(SECRET, raw, content_type=content_type, timestamp=now - 3600)
    if how == "no_signature":
        return {"Content-Type": content_type}
    if how == "bad_timestamp":
        return {"Content-Type": content_type, "X-Slack-Request-Timestamp": junk, "X-Slack-Signature": "v0=" + "0" * 64}
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": junk}


@pytest.fixture
async def slack(api: FakeSlackApi):
    coach = ScriptedCoach()
    runner, url = await start_bot(api, coach)
    async with aiohttp.ClientSession() as session:
        yield Harness(api, url, session, coach)
    await runner.cleanup()


@FUZZ
@given(
    base=st.sampled_from(sorted(BASES)),
    mutations=st.lists(MUTATION, min_size=0, max_size=4),
    ascii_only=st.booleans(),
    byte_change=BYTES,
    how=HEADERS,
    content_type=CONTENT_TYPES,
    junk=JUNK_HEADER,
)
async def test_mutated_requests_never_get_a_5xx_nor_log_a_traceback(
    slack: Harness,
    caplog: pytest.LogCaptureFixture,
    base: str,
    mutations: list,
    ascii_only: bool,
    byte_change: Any,
    how: str,
    content_type: str | None,
    junk: str,
):
    mode, body = BASES[base]
    body = copy.deepcopy(body)
    if isinstance(body, dict) and "event_id" in body:
        body["event_id"] = f"Ev{time.monotonic_ns()}"  # a new event each time, so it is not dropped as a retry
    for mutation in mutations:
        body = mutate(body, mutation)
    raw, natural_type = encode(mode, body, ascii_only)
    content_type = natural_type if content_type is None else content_type
    if how == "signed":
        raw = damage(raw, byte_change)
    headers = headers_for(raw, how, content_type, junk)
    if how != "signed":
        raw = damage(raw, byte_change)
    seen = len(caplog.records)
    status, answer = await raw_post(slack.url, raw, headers)
    STATUSES[status] = STATUSES.get(status, 0) + 1
    assert status < 500, answer[:300]
    assert tracebacks(caplog.records[seen:]) == []


async def test_after_the_fuzz_the_bot_still_answers(slack: Harness, caplog: pytest.LogCaptureFixture):
    """The fuzz's fixture server is gone by now; this one checks a server that took the same kinds of bodies."""
    for name, (mode, body) in sorted(BASES.items()):
        raw, content_type = encode(mode, mutate(copy.deepcopy(body), ("deep", 1, 2500)), True)
        status, _ = await raw_post(slack.url, raw, signed_headers(SECRET, raw, content_type=content_type))
        assert status < 500, name
    assert (await slack.event(slack.fresh("event_message_im.json", text="customer is furious")))[0] == 200
    await slack.api.wait_for("chat.postMessage")
    assert tracebacks(caplog.records) == []


# ---------------------------------------------------------------------------------------- without HTTP


class _Request:
    """Just what ``bolt_request`` reads from an aiohttp request."""

    query_string = ""
    headers = {"Content-Type": JSON}


BOLT_APP = build_bolt_app(
    coach=ScriptedCoach(),
    client=AsyncWebClient(token="xoxb-fuzz", base_url="http://127.0.0.1:9/"),
    signing_secret=SECRET,
)
ALL_ARGS = [
    "logger",
    "client",
    "req",
    "request",
    "resp",
    "response",
    "context",
    "body",
    "options",
    "shortcut",
    "action",
    "view",
    "command",
    "event",
    "message",
    "step",
    "ack",
    "say",
    "respond",
    "payload",
]


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    base=st.sampled_from(sorted(BASES)),
    mutations=st.lists(MUTATION.filter(lambda m: m[0] != "deep"), min_size=1, max_size=5),
)
async def test_what_passes_the_shape_checks_bolt_can_read(base: str, mutations: list):
    """Whatever ``body_problem`` lets through, Bolt builds its context, its listener arguments and runs its matchers
    on."""
    body = copy.deepcopy(BASES[base][1])
    for mutation in mutations:
        body = mutate(body, mutation)
    if not isinstance(body, dict) or not body or body_problem(body) is not None:
        return
    try:
        request = bolt_request(json.dumps(body), body, _Request())  # type: ignore[arg-type]
    except Refused:
        pytest.fail("body_problem let through a body Bolt cannot build a context for")
    response = BoltResponse(status=200)
    build_async_required_kwargs(
        logger=logging.getLogger("fuzz"),
        required_arg_names=ALL_ARGS,
        request=request,
        response=response,
        next_keys_required=False,
    )
    for listener in BOLT_APP._async_listeners:
        if await listener.async_matches(req=request, resp=response):
            break
    if "event" in body:
        event = body["event"]
        translate.is_human_message(event), translate.is_direct_message(event), translate.reply_thread(event)
    if "command" in body:
        translate.command_to_incoming(body)
    if body.get("type") == "block_actions":
        translate.action_to_incoming(body, body["actions"][0])


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(typed=st.text())
def test_escape_and_unescape_meet_exactly_once(typed: str):
    slack_sends = translate.escape(typed)  # what Slack puts in the payload for what was typed
    assert translate.unescape(slack_sends) == typed
    assert translate.escape(translate.unescape(slack_sends)) == slack_sends
