"""The aiohttp route for /slack/events: a guard that reads the body as Bolt would, but safely, then Bolt's dispatch.

Bolt parses the body before it checks the signature, with a parser that recurses once per nesting
level and raises on broken JSON, and then reads fields without checking their types. So the guard
reads the body itself, bounded in size and depth (adapters/bounded_json.py), checks the shape of what
Bolt and the listeners will read (shapes.py) and hands Bolt the parsed body, so nothing is parsed twice.
A client's mistake gets a 4xx and one log line that names the field, never its value. Signatures,
timestamps and everything else stay Bolt's job (401 for a forged or stale request); the guard only
makes sure Bolt's verifier is given a timestamp and a signature it can compute with.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters import bounded_json
from adapters.slack.shapes import body_problem
from bot.errors import CoachError

if TYPE_CHECKING:
    from multidict import MultiMapping  # aiohttp's headers: a name may come more than once

_LOGGER = logging.getLogger(__name__)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = bounded_json.MAX_BYTES  # Slack caps a message at 40,000 characters; its bodies stay far below
# Form bodies without an interactive ``payload``: slash commands and Slack's ssl_check.
_FORM_KEYS = ("command", "ssl_check")
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")  # slack_sdk's verifier calls int() on it: anything else raised ValueError
_SIGNATURE = re.compile(r"[\x21-\x7e]{1,200}")  # hmac.compare_digest raises TypeError on non-ASCII text


class Refused(CoachError):
    """A request the guard answers itself, with ``status`` and a reason that names no value."""

    status: int
    reason: str

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _unsupported_type(content_type: str) -> str:
    return f"expected {JSON} or {FORM}, got {content_type or 'no content type'}"


def _bad_body(kind: str) -> str:
    return f"malformed request body: {kind}"


def _too_large() -> str:
    return f"request body over {MAX_BODY_BYTES} bytes"


def _bad_header(name: str) -> str:
    return f"{name} is malformed"


def _json_object(text: str, what: str) -> dict:
    try:
        value = bounded_json.loads(text)
    except json.JSONDecodeError:
        raise Refused(400, _bad_body(f"{what} is not JSON")) from None
    except (
        ValueError
    ) as error:  # bounded_json's own refusals (too deep, too large) and int() limits say what, not the value
        raise Refused(400, _bad_body(f"{what}: {error}")) from None
    if not isinstance(value, dict):
        raise Refused(400, _bad_body(f"{what} is not a JSON object"))
    return value


def parse_slack_body(text: str, content_type: str) -> dict:
    """The body as Slack means it: a JSON object, an interactive ``payload``, or a form. Mirrors Bolt's parser.

    Raises:
        Refused: 400, with what is wrong.
    """
    if not text:
        raise Refused(400, _bad_body("empty"))
    if content_type == JSON or text.startswith("{"):
        return _json_object(text, "body")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        return _json_object(fields["payload"], "payload")
    if any(key in fields for key in _FORM_KEYS):
        return fields
    raise Refused(400, _bad_body("form without payload or command"))


def check_headers(headers: MultiMapping[str]) -> None:
    """Bolt's verifier takes the timestamp as an int and compares signatures as ASCII text: anything else is a 401.

    Raises:
        Refused: 401, naming the header.
    """
    for name, pattern in ((TIMESTAMP_HEADER, _TIMESTAMP), (SIGNATURE_HEADER, _SIGNATURE)):
        for value in headers.getall(name, ()):
            if not pattern.fullmatch(value):
                raise Refused(401, _bad_header(name))


def bolt_request(text: str, body: dict, request: web.Request) -> AsyncBoltRequest:
    """A Bolt request around the body parsed here: Bolt then neither parses it again nor sees its raw form unchecked.

    Only Bolt's public request class is used (no ``slack_bolt.request`` internals). The raw text alone, as
    slack_bolt.adapter.aiohttp passes it, would not do: Bolt's form reader takes any body that holds the
    word "payload" for an interactive payload, so a slash command whose text says "payload" would reach
    no listener (tests/test_slack_http.py pins it). Bolt still checks the signature over ``raw_body``.

    Raises:
        Refused: 400 if Bolt still cannot read the body's ids (a safety net behind ``body_problem``).
    """
    try:
        # Bolt takes a parsed body only in its Socket Mode shape; it builds the context from it once,
        # then the request becomes an HTTP one again, with the raw text its signature covers.
        bolt = AsyncBoltRequest(
            body=body, query=request.query_string, headers=dict(request.headers), mode="socket_mode"
        )
    except (AttributeError, IndexError, KeyError, TypeError):
        raise Refused(400, _bad_body("not a Slack payload")) from None
    bolt.mode = "http"
    bolt.raw_body = text
    return bolt


async def read_request(request: web.Request) -> tuple[str, dict]:
    """The raw text and the parsed body, once both are known to be what Bolt can take.

    Raises:
        Refused: 413 for a body over the limit, 415 for a wrong content type, 400 or 401 for a malformed one.
    """
    content_type = request.content_type if request.headers.get("Content-Type") else ""
    if content_type not in (JSON, FORM):
        raise Refused(415, _unsupported_type(content_type))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise Refused(413, _too_large())
    check_headers(request.headers)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # aiohttp's own client_max_size, for bodies sent without a length
        raise Refused(413, _too_large()) from None
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(413, _too_large())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, _bad_body("not UTF-8")) from None
    body = parse_slack_body(text, content_type)
    if not body:
        raise Refused(400, _bad_body("empty"))
    if problem := body_problem(body):
        raise Refused(400, _bad_body(problem))
    return text, body


def slack_route(bolt_app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The POST handler: the guard's 4xx for what Bolt could not take, otherwise Bolt's answer."""

    async def handle(request: web.Request) -> web.Response:
        try:
            text, body = await read_request(request)
            bolt = bolt_request(text, body, request)
        except Refused as refused:
            _LOGGER.info("Slack request refused with %d: %s", refused.status, refused.reason)
            return web.Response(status=refused.status, text=refused.reason)
        return await to_aiohttp_response(await bolt_app.async_dispatch(bolt))

    return handle
