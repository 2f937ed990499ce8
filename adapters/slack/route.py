"""The aiohttp route for /slack/events: a guard against malformed bodies, then Bolt's own dispatch.

Bolt parses the body before it checks the signature, and its parser raises on broken JSON, so
without this guard a stray request would become a 500. The guard only looks at the shape;
signatures, timestamps and everything else stay Bolt's job (401 for a forged or stale request).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

_LOGGER = logging.getLogger(__name__)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# Form bodies without an interactive ``payload``: slash commands and Slack's ssl_check.
_FORM_KEYS = ("command", "ssl_check")


def _unsupported_type(content_type: str) -> str:
    return f"expected {JSON} or {FORM}, got {content_type or 'no content type'}"


def _bad_body(kind: str) -> str:
    return f"malformed request body: {kind}"


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_slack_body(text: str, content_type: str) -> tuple[dict | None, str]:
    """The body as Slack means it, or (None, why not). Mirrors what Bolt will do with it, minus the raising."""
    if not text:
        return None, _bad_body("empty")
    if content_type == JSON or text.startswith("{"):
        body = _json_object(text)
        return (body, "") if body is not None else (None, _bad_body("not a JSON object"))
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        body = _json_object(fields["payload"])
        return (body, "") if body is not None else (None, _bad_body("payload is not a JSON object"))
    if any(key in fields for key in _FORM_KEYS):
        return fields, ""
    return None, _bad_body("form without payload or command")


def slack_route(bolt_app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The POST handler: 415 for a wrong content type, 400 for a malformed body, otherwise Bolt's answer."""

    async def handle(request: web.Request) -> web.Response:
        content_type = request.content_type if request.headers.get("Content-Type") else ""
        if content_type not in (JSON, FORM):
            return web.Response(status=415, text=_unsupported_type(content_type))
        try:
            text = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return web.Response(status=400, text=_bad_body("not UTF-8"))
        body = None
        if content_type == FORM and not text.startswith("{"):
            body, problem = parse_slack_body(text, content_type)
            if body is None:
                return web.Response(status=400, text=problem)
        try:
            # JSON is parsed once, by Bolt; a broken one raises here, before any listener could run.
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=dict(request.headers))
        except ValueError:
            return web.Response(status=400, text=_bad_body("not JSON"))
        except Exception:  # Bolt reading fields of a well-formed body of the wrong shape (a list, say)
            return web.Response(status=400, text=_bad_body("not a Slack payload"))
        if body is not None and bolt_request.body != body:
            # Bolt's parser returns {} for a form that merely contains the word "payload" (a slash
            # command saying "payload", say); hand it the fields this guard read instead.
            bolt_request.body = body
            bolt_request.context = build_async_context(AsyncBoltContext({}), body)
        if not isinstance(bolt_request.body, dict) or not bolt_request.body:
            return web.Response(status=400, text=_bad_body("empty"))
        return await to_aiohttp_response(await bolt_app.async_dispatch(bolt_request))

    return handle
