"""A fake Slack on 127.0.0.1: the Web API methods the bot calls, response_url posts, and a Socket Mode WebSocket.

Whole request bodies are recorded (``calls``), not just counts. ``fail_once(method)`` answers the
next call of a method with 429 and ``Retry-After``, ``refusals[method]`` makes Slack say no to every
call of it, and ``delays[method]`` makes it slow (failure injection by configuration).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

# The slack-web capture's identity (see ../shared/fixtures/README.md, "Who is who").
DEFAULT_IDENTITY = {
    "ok": True,
    "url": "https://example.slack.com/",
    "team": "Fake Workspace",
    "user": "frontline-coach",
    "team_id": "T043DB835ML",
    "user_id": "U0442US8QGH",
    "bot_id": "B0439P161B9",
}
RESPONSE_URL = "response_url"  # the ``method`` under which response_url posts are recorded


@dataclass
class Call:
    """One request the bot made: the Web API method (or "response_url"), its decoded body, its headers."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str = ""
    answer: dict[str, Any] = field(default_factory=dict)
    peer: tuple = ()  # the caller's (host, port): the same port means a reused connection


@dataclass
class FakeSlackApi:
    """Point ``AsyncWebClient(base_url=api.url)`` at it; use ``response_url(name)`` in payloads.

    Args:
        identity: what ``auth.test`` answers (who "self" is for Bolt).
    """

    identity: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_IDENTITY))
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # what usergroups.users.list answers, by group id
    post_delay: float = 0.0  # seconds a chat.* call or a response_url post takes to be accepted (a slow Slack)
    refusals: dict[str, str] = field(
        default_factory=dict
    )  # method -> the error every call of it gets ({"ok": false}, HTTP 200)
    delays: dict[str, float] = field(
        default_factory=dict
    )  # method -> seconds each call of it takes (a slow Slack, per method)
    received: list[Call] = field(
        default_factory=list
    )  # every request as it arrives, before any delay: what was in flight
    calls: list[Call] = field(default_factory=list)
    rejected: list[Call] = field(default_factory=list)
    socket_acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: str = ""
    _failures: dict[str, list[tuple[int, int | str]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _envelopes: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base}/response/{name}"

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads a few methods (usergroups.users.list) with GET
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ configuration and queries

    def fail_once(self, method: str, *, status: int = 429, retry_after: int | str = 0) -> None:
        """The next call of ``method`` gets ``status`` (with ``Retry-After``); the one after succeeds."""
        self._failures.setdefault(method, []).append((status, retry_after))

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, method: str, count: int = 1, *, timeout: float = 5.0) -> list[Call]:
        """The first ``count`` calls of ``method``, polling for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.of(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{method}: {len(self.of(method))} call(s) after {timeout}s, wanted {count}; all: "
                    f"{[c.method for c in self.calls]}"
                )
            await asyncio.sleep(0.005)
        return self.of(method)[:count]

    async def settle(self, quiet: float = 0.15) -> None:
        """Wait until no new call has arrived for ``quiet`` seconds (to assert that nothing more comes)."""
        seen = -1
        for _ in range(int(5 / quiet)):
            if len(self.calls) + len(self.rejected) == seen:
                return
            seen = len(self.calls) + len(self.rejected)
            await asyncio.sleep(quiet)

    def posted(self) -> list[Call]:
        """Every call that shows something to a person (not auth.test or the Socket Mode handshake)."""
        return [c for c in self.calls if c.method not in ("auth.test", "apps.connections.open")]

    # ------------------------------------------------------------------ handlers

    async def _record(self, request: web.Request, method: str) -> Call:
        raw = await request.read()
        if request.method == "GET":
            body = dict(request.query)
        elif request.content_type == "application/json":
            body = json.loads(raw or b"{}")
        else:
            body = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        peer = request.transport.get_extra_info("peername") if request.transport else ()
        call = Call(method=method, body=body, headers=dict(request.headers), path=request.path, peer=tuple(peer or ()))
        self.received.append(call)
        return call

    def _injected(self, call: Call) -> web.Response | None:
        pending = self._failures.get(call.method)
        if not pending:
            return None
        status, retry_after = pending.pop(0)
        self.rejected.append(call)
        return web.json_response(
            {"ok": False, "error": "ratelimited"}, status=status, headers={"Retry-After": str(retry_after)}
        )

    async def _api(self, request: web.Request) -> web.Response:
        call = await self._record(request, request.match_info["method"])
        if self.post_delay and call.method.startswith("chat."):
            await asyncio.sleep(self.post_delay)
        if self.delays.get(call.method):
            await asyncio.sleep(self.delays[call.method])
        failure = self._injected(call)
        if failure is not None:
            return failure
        self.calls.append(call)
        if not call.headers.get("Authorization", "").startswith("Bearer x"):
            return web.json_response({"ok": False, "error": "not_authed"})
        call.answer = (
            {"ok": False, "error": self.refusals[call.method]} if call.method in self.refusals else self._answer(call)
        )
        return web.json_response(call.answer)

    def _answer(self, call: Call) -> dict[str, Any]:
        body = call.body
        if call.method == "auth.test":
            return self.identity
        if call.method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return {
                "ok": True,
                "channel": body.get("channel"),
                "ts": ts,
                "message": {"ts": ts, "text": body.get("text")},
            }
        if call.method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text")}
        if call.method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if call.method == "views.publish":
            view = body.get("view")
            return {"ok": True, "view": json.loads(view) if isinstance(view, str) else view}
        if call.method == "usergroups.users.list":
            group = body.get("usergroup")
            return (
                {"ok": True, "users": list(self.usergroups[group])}
                if group in self.usergroups
                else {"ok": False, "error": "no_such_subteam"}
            )
        if call.method == "assistant.threads.setSuggestedPrompts":
            prompts = body.get("prompts")
            prompts = json.loads(prompts) if isinstance(prompts, str) else prompts
            if not body.get("channel_id") or not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
                return {"ok": False, "error": "invalid_arguments"}
            if not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True}
        if call.method == "apps.connections.open":
            return {"ok": True, "url": self.base.replace("http://", "ws://") + "/socket"}
        return {"ok": False, "error": "unknown_method"}

    async def _response_url(self, request: web.Request) -> web.Response:
        call = await self._record(request, RESPONSE_URL)
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        failure = self._injected(call)
        if failure is not None:
            return failure
        self.calls.append(call)
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": "A0442TUPHGR"},
            }
        )
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                if "envelope_id" in data:
                    self.socket_acks[data["envelope_id"]] = data
        self._sockets.remove(ws)
        return ws

    async def connected(self, *, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._sockets:
            if time.monotonic() > deadline:
                raise AssertionError("no Socket Mode connection")
            await asyncio.sleep(0.005)

    async def send_envelope(
        self, payload: dict[str, Any], *, kind: str = "events_api", retry_attempt: int = 0, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Push one envelope over the socket as Slack does and return the bot's acknowledgement."""
        await self.connected(timeout=timeout)
        envelope_id = f"env-{next(self._envelopes)}"
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        deadline = time.monotonic() + timeout
        while envelope_id not in self.socket_acks:
            if time.monotonic() > deadline:
                raise AssertionError(f"envelope {envelope_id} not acknowledged within {timeout}s")
            await asyncio.sleep(0.005)
        return self.socket_acks[envelope_id]
