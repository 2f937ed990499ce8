"""Slack under hostile input, over loopback HTTP: a 4xx for every client's mistake, never a 5xx or a traceback.

Each case is a request a client could send (signed with the app's secret where that matters): JSON
nested thousands deep, bodies of the wrong shape, ids no store can hold, headers slack_sdk cannot
read, bodies too large, and slash commands whose response_url goes nowhere. The store behind the
scripted coach records every call, so "400 before any store" is checked, not assumed; the same
cases run against SQLite and PostgreSQL (skipped when no server answers; see tests/pg.py).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
import pytest

from adapters.slack import EVENTS_PATH, delivery
from adapters.slack.route import Refused, check_headers
from adapters.slack.shapes import body_problem, slack_id_problem, url_problem
from bot.store.memory import MemoryStore
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi
from tests.pg import PgTarget
from tests.slack_signing import signed_headers
from tests.test_slack_http import FIXTURES, FORM, JSON, SECRET, Harness, ScriptedCoach, fixture, fixture_text, start_bot

SECRET_ID = "QX9SECRETID"  # part of every bad id below: it must never reach the log


SWEEPS = frozenset(
    {"claim_outbox", "purge_outbox"}
)  # the outbox sweeper's own rounds, every few seconds, whatever arrives


class SpyStore:
    """A store that records the name of every method a request calls on it, then does what ``inner`` does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.called: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if name not in SWEEPS:
                self.called.append(name)
            return attribute(*args, **kwargs)

        return call


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """Log lines that carry a traceback, or an error: none may come from a client's mistake."""
    return [
        f"{r.name} {r.levelname}: {r.getMessage()[:200]}"
        for r in records
        if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage() or 'File "' in r.getMessage()
    ]


@pytest.fixture
async def spy():
    return SpyStore(MemoryStore())


@pytest.fixture
async def slack(api: FakeSlackApi, spy: SpyStore):
    coach = ScriptedCoach()
    coach.store = spy
    runner, url = await start_bot(api, coach)
    async with aiohttp.ClientSession() as session:
        yield Harness(api, url, session, coach)
    await runner.cleanup()


def event_body(**event_changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("event_message_im_bolt.json"))
    body["event_id"] = f"Ev{time.monotonic_ns()}"
    body["event"].update(event_changes)
    return body


def command_form(**changes: str) -> str:
    fields = dict(parse_qsl(fixture_text("slash_command.form.txt"), keep_blank_values=True))
    fields.update({"command": "/tip", "text": "", "trigger_id": f"111.{time.monotonic_ns()}.abc", **changes})
    return urlencode(fields)


def action_payload(**changes: Any) -> str:
    body = copy.deepcopy(fixture("block_actions_button.json"))
    body.update(changes)
    return "payload=" + quote(json.dumps(body))


def deep(levels: int, opener: str = "[", closer: str = "]") -> str:
    return opener * levels + closer * levels


# ---------------------------------------------------------------------------------------- the cases

BAD_IDS = {
    "NUL": f"C{SECRET_ID}\x00",
    "CR/LF": f"C{SECRET_ID}\r\nX-Injected: 1",
    "lone surrogate": f"C{SECRET_ID}\ud800",
    "over-long": "C" + SECRET_ID * 300,
    "non-ASCII": f"C{SECRET_ID}é",
}


def hostile_requests() -> list[tuple[str, str | bytes, str, int]]:
    """(name, body, content type, expected status), every one signed with the app's secret."""
    cases: list[tuple[str, str | bytes, str, int]] = [
        ("event body nested 5,000 deep", '{"type": "event_callback", "event": ' + deep(5000) + "}", JSON, 400),
        ("objects nested 2,000 deep", '{"a": ' * 2000 + "1" + "}" * 2000, JSON, 400),
        (
            "payload= nested 5,000 deep",
            "payload=" + quote('{"type": "block_actions", "actions": ' + deep(5000) + "}"),
            FORM,
            400,
        ),
        ("payload= objects nested 3,000 deep", "payload=" + quote('{"x": ' * 3000 + "0" + "}" * 3000), FORM, 400),
        ("event null", json.dumps({**event_body(), "event": None}), JSON, 400),
        ("event a list", json.dumps({**event_body(), "event": [1, 2]}), JSON, 400),
        ("event a string", json.dumps({**event_body(), "event": "message"}), JSON, 400),
        ("event without type", json.dumps({**event_body(), "event": {"text": "hi"}}), JSON, 400),
        ("event type a number", json.dumps(event_body(type=5)), JSON, 400),
        ("event subtype an object", json.dumps(event_body(subtype={"a": 1})), JSON, 400),
        ("event channel an object", json.dumps(event_body(channel={"id": "D1"})), JSON, 400),
        ("authorizations a number", json.dumps({**event_body(), "authorizations": 3}), JSON, 400),
        ("authorizations of lists", json.dumps({**event_body(), "authorizations": [[1]]}), JSON, 400),
        ("team a number", json.dumps({**event_body(), "team": 5}), JSON, 400),
        ("enterprise a number", json.dumps({**event_body(), "enterprise": 7}), JSON, 400),
        ("view null", json.dumps({**fixture("view_submission.json"), "view": None}), JSON, 400),
        ("view without type", json.dumps({**fixture("view_submission.json"), "view": {"callback_id": "x"}}), JSON, 400),
        ("actions empty", action_payload(actions=[]), FORM, 400),
        ("actions of numbers", action_payload(actions=[1]), FORM, 400),
        ("action without action_id", action_payload(actions=[{"value": "x"}]), FORM, 400),
        (
            "action value an object",
            action_payload(actions=[{"action_id": "coach-choice-0", "value": {"a": 1}}]),
            FORM,
            400,
        ),
        ("action user a string", action_payload(user="W111"), FORM, 400),
        ("command a number", json.dumps({"command": 5, "text": "tip"}), JSON, 400),
        ("command text with NUL", command_form(text="tip\x00add"), FORM, 400),
        ("command name with a line break", command_form(command="/tip\r\nINFO forged log line"), FORM, 400),
        ("command name without a slash", command_form(command="tip"), FORM, 400),
        ("command response_url not a URL", command_form(response_url="not a url"), FORM, 400),
        ("command response_url ftp", command_form(response_url="ftp://example.com/x"), FORM, 400),
        ("event text with NUL", json.dumps(event_body(text="hi\x00there")), JSON, 400),
        ("event text with a lone surrogate", json.dumps(event_body(text="hi \ud83d there")), JSON, 400),
        ("event_id with NUL", json.dumps({**event_body(), "event_id": f"Ev{SECRET_ID}\x00"}), JSON, 400),
        ("empty object", "{}", JSON, 400),
        ("huge integer", '{"type": "event_callback", "event_time": ' + "9" * 5000 + "}", JSON, 400),
    ]
    for kind, bad in BAD_IDS.items():
        cases += [
            (f"event channel {kind}", json.dumps(event_body(channel=bad)), JSON, 400),
            (f"event user {kind}", json.dumps(event_body(user="U" + bad[1:])), JSON, 400),
            (
                f"event team_id {kind}",
                json.dumps({**event_body(), "team_id": "T" + bad[1:], "authorizations": []}),
                JSON,
                400,
            ),
            (f"event ts {kind}", json.dumps(event_body(ts=bad)), JSON, 400),
            (f"action user.id {kind}", action_payload(user={"id": "U" + bad[1:], "team_id": "T111"}), FORM, 400),
            (f"action channel.id {kind}", action_payload(channel={"id": bad}), FORM, 400),
            (f"action team.id {kind}", action_payload(team={"id": "T" + bad[1:]}), FORM, 400),
        ]
        if "\ud800" not in bad:  # a form cannot carry a lone surrogate: UTF-8 has no bytes for one
            cases += [
                (f"command team_id {kind}", command_form(team_id="T" + bad[1:]), FORM, 400),
                (f"command channel_id {kind}", command_form(channel_id=bad), FORM, 400),
                (f"command user_id {kind}", command_form(user_id="U" + bad[1:]), FORM, 400),
                (f"command trigger_id {kind}", command_form(trigger_id=bad), FORM, 400),
            ]
    return cases


HOSTILE = hostile_requests()


@pytest.mark.parametrize(("name", "body", "content_type", "status"), HOSTILE, ids=[case[0] for case in HOSTILE])
async def test_hostile_signed_request_is_4xx_before_any_store_and_logs_no_value(
    slack: Harness,
    spy: SpyStore,
    caplog: pytest.LogCaptureFixture,
    name: str,
    body: str | bytes,
    content_type: str,
    status: int,
):
    caplog.set_level(logging.DEBUG, logger="adapters")
    got, text = await slack.post(body, content_type=content_type)
    assert got == status, text
    assert spy.called == [] and slack.coach.seen == []
    assert tracebacks(caplog.records) == []
    assert SECRET_ID not in caplog.text and SECRET_ID not in text
    assert any("refused with 400" in r.getMessage() for r in caplog.records)  # one line, naming the field only


async def test_the_server_carries_on_after_every_hostile_request(slack: Harness, caplog: pytest.LogCaptureFixture):
    for _, body, content_type, status in HOSTILE:
        assert (await slack.post(body, content_type=content_type))[0] == status
    assert (await slack.event(slack.fresh("event_message_im.json", text="customer is furious")))[0] == 200
    await slack.api.wait_for("chat.postMessage")
    assert tracebacks(caplog.records) == []


# ---------------------------------------------------------------------------------------- headers and sizes


@pytest.mark.parametrize("timestamp", ["abc", "", "12a", "1e9", "٣٣٣", " 1700000000", "9" * 40])
async def test_unsigned_request_with_a_timestamp_slack_sdk_cannot_read_is_401(
    slack: Harness, caplog: pytest.LogCaptureFixture, timestamp: str
):
    body = json.dumps(event_body())
    headers = {"Content-Type": JSON, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64}
    status, _ = await raw_post(slack.url, body.encode(), headers)
    assert status == 401
    assert tracebacks(caplog.records) == [] and slack.coach.seen == []


@pytest.mark.parametrize("signature", ["v0=é", "v0=\u00ff" * 3, "", "v0=" + "a" * 500])
async def test_a_signature_slack_sdk_cannot_compare_is_401(
    slack: Harness, caplog: pytest.LogCaptureFixture, signature: str
):
    body = json.dumps(event_body())
    headers = {"Content-Type": JSON, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": signature}
    status, _ = await raw_post(slack.url, body.encode(), headers)
    assert status == 401
    assert tracebacks(caplog.records) == []


def test_header_check_takes_what_slack_sends():
    check_headers(multidict({"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=" + "ab" * 32}))
    with pytest.raises(Refused) as refused:
        check_headers(multidict({"X-Slack-Request-Timestamp": "abc"}))
    assert refused.value.status == 401 and "abc" not in refused.value.reason


def multidict(headers: dict[str, str]):
    from multidict import CIMultiDict

    return CIMultiDict(headers)


async def test_body_over_the_limit_is_413_with_or_without_a_length(slack: Harness, caplog: pytest.LogCaptureFixture):
    big = json.dumps({**event_body(), "padding": "x" * 1_100_000}).encode()
    status, _ = await slack.post(big)
    assert status == 413

    async def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    headers = signed_headers(SECRET, big, content_type=JSON)
    async with slack.session.post(slack.url + EVENTS_PATH, data=chunks(), headers=headers) as response:
        assert response.status == 413
    just_over = json.dumps({**event_body(), "padding": "x" * 1_000_100}).encode()
    assert (await slack.post(just_over))[0] == 413
    assert tracebacks(caplog.records) == [] and slack.coach.seen == []


async def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST with headers written byte for byte (latin-1), as a client that aiohttp would refuse to imitate can."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"POST {EVENTS_PATH} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


# ---------------------------------------------------------------------------------------- response_url going nowhere


@pytest.fixture
async def hanging_server():
    """Accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks/T111/1/x"
    for writer in held:
        writer.close()
    server.close()


def refused_url() -> str:
    """A loopback port that nothing listens on: the connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/T111/1/x"


async def test_slash_command_with_an_unreachable_response_url_is_answered_at_once(
    slack: Harness, hanging_server: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(delivery, "RESPONSE_URL_SECONDS", 0.5)
    caplog.set_level(logging.INFO)
    for url in (refused_url(), hanging_server, "http://[::1]:1/x", "https://127.0.0.1:1/x"):
        for command in ("/tip", "/coach", "/checklist"):
            started = time.monotonic()
            status, body = await slack.post(command_form(command=command, response_url=url), content_type=FORM)
            assert status == 200 and body == "" and time.monotonic() - started < 1.0, (url, command)
    await asyncio.sleep(
        0.8
    )  # the posts fail in the background, each with one line: retried later from the outbox, or dropped
    assert tracebacks(caplog.records) == []
    assert sum("outbox item" in r.getMessage() for r in caplog.records) == 12
    assert "hooks/T111" not in caplog.text  # a response_url is a credential: never logged
    status, _ = await slack.command("/tip")  # and the next command with a working response_url is answered
    assert status == 200
    await slack.api.wait_for(RESPONSE_URL)


async def test_a_listener_failing_right_after_its_ack_does_not_hold_the_request(
    slack: Harness, caplog: pytest.LogCaptureFixture
):
    """Bolt withdraws the ack of a listener that raises within its 10 ms poll: 3 s, then 404. Ours never raise."""

    async def fail(*_: Any, **__: Any) -> bool:
        raise RuntimeError("store is gone")

    slack.coach.store = type("Broken", (), {"claim": staticmethod(fail)})()
    started = time.monotonic()
    status, _ = await slack.command("/tip")
    assert status == 200 and time.monotonic() - started < 1.0
    apology = (await slack.api.wait_for(RESPONSE_URL))[0]
    assert "Sorry" in json.dumps(apology.body["blocks"])
    assert [r for r in caplog.records if r.exc_info] == []


# ---------------------------------------------------------------------------------------- the checks on their own


def test_every_recorded_slack_payload_passes_the_shape_checks():
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())
        if "ok" in body:  # a Web API answer, not a request
            continue
        assert body_problem(body) is None, path.name


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("T043DB835ML", True),
        ("1595926230.009600", True),
        ("111.111.xxx", True),
        ("T\x00", False),
        ("T\r\n", False),
        ("T\ud800", False),
        ("T" * 256, False),
        ("Té", False),
        ("", False),
        (5, False),
    ],
)
def test_slack_ids(value: object, ok: bool):
    problem = slack_id_problem("team", value)
    assert (problem is None) is ok
    if problem:
        assert problem.startswith("team ") and (not value or str(value) not in problem)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://hooks.slack.com/commands/T1/2/x", True),
        ("http://127.0.0.1:8080/r", True),
        ("not a url", False),
        ("ftp://x/y", False),
        ("https://", False),
        ("http://[::1", False),
        ("http://x:port/", False),
        (3, False),
    ],
)
def test_response_urls(value: object, ok: bool):
    assert (url_problem("response_url", value) is None) is ok


# ---------------------------------------------------------------------------------------- on the real stores


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | PgTarget:
    """Where the real store lives: a SQLite file, or a fresh PostgreSQL schema (skips when no server answers)."""
    return tmp_path / "coach.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_target")


@pytest.fixture
async def real_store(store_target: Path | PgTarget):
    if isinstance(store_target, Path):
        store = SQLiteStore(path=store_target)
    else:
        store = await PostgresStore.connect(dsn=store_target.dsn, schema=store_target.schema)
    yield store
    await store.close()


async def test_bad_ids_are_400_on_sqlite_and_postgresql_and_good_requests_still_work(
    api: FakeSlackApi, real_store: Any, caplog: pytest.LogCaptureFixture
):
    coach = ScriptedCoach()
    coach.store = SpyStore(real_store)
    runner, url = await start_bot(api, coach)
    try:
        async with aiohttp.ClientSession() as session:
            slack = Harness(api, url, session, coach)
            for name, body, content_type, status in HOSTILE:
                assert (await slack.post(body, content_type=content_type))[0] == status, name
            assert coach.store.called == []
            assert (await slack.event(slack.fresh("event_message_im.json", text="customer is furious")))[0] == 200
            assert (await slack.command("/tip"))[0] == 200
            await api.wait_for("chat.postMessage")
            await api.wait_for(RESPONSE_URL)
    finally:
        await runner.cleanup()
    assert tracebacks(caplog.records) == [] and SECRET_ID not in caplog.text
