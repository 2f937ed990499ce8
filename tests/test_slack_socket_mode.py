"""Slack in Socket Mode: the client starts and stops with the aiohttp app and talks to a fake Slack WebSocket."""

from __future__ import annotations

import asyncio
import copy

import aiohttp
from aiohttp import web

from adapters.slack import EVENTS_PATH, mount_slack, slack_config
from tests.fakes.slack_api import FakeSlackApi
from tests.test_slack_http import DM, ScriptedCoach, fixture


async def test_socket_mode_dm_is_acked_answered_and_retries_ignored(api: FakeSlackApi):
    coach = ScriptedCoach()
    config = slack_config({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test", "SLACK_API_URL": api.url})
    web_app = web.Application()
    mount_slack(web_app, coach, config)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()  # on_startup: the Socket Mode client connects
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        await api.connected()
        opened = api.of("apps.connections.open")
        assert len(opened) == 1 and opened[0].headers["Authorization"] == "Bearer xapp-test"

        dm = copy.deepcopy(fixture("event_message_im.json"))
        dm["event"]["text"] = "customer is furious"
        ack = await api.send_envelope(dm)
        assert set(ack) == {"envelope_id"}
        posted = (await api.wait_for("chat.postMessage"))[0]
        assert posted.body["channel"] == DM and posted.headers["Authorization"] == "Bearer xoxb-test"

        # Slack resends the same event (retry_attempt 1): acknowledged, nothing posted again.
        await api.send_envelope(dm, retry_attempt=1)
        await api.settle()
        assert len(api.of("chat.postMessage")) == 1 and len(coach.seen) == 1

        # Without a signing secret there is no HTTP route to forge requests against.
        port = site._server.sockets[0].getsockname()[1]
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}{EVENTS_PATH}", json=dm) as response:
                assert response.status == 404
    finally:
        await runner.cleanup()  # on_cleanup: the client disconnects
    for _ in range(200):
        if not api._sockets:
            break
        await asyncio.sleep(0.01)
    assert not api._sockets


async def test_socket_mode_slash_command_acks_over_the_socket(api: FakeSlackApi):
    coach = ScriptedCoach()
    web_app = web.Application()
    mount_slack(
        web_app,
        coach,
        slack_config({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test", "SLACK_API_URL": api.url}),
    )
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        command = dict(fixture("slash_command.json"), command="/tip", text="", response_url=api.response_url("sock"))
        ack = await api.send_envelope(command, kind="slash_commands")
        assert "envelope_id" in ack
        sent = (await api.wait_for("response_url"))[0]
        assert sent.body["response_type"] == "ephemeral" and sent.body["blocks"][0]["text"]["text"] == "Tip of the week"
    finally:
        await runner.cleanup()
