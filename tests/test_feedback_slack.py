"""Issue 16 on Slack, end to end: answer, Not quite, a pick, then the counts in the manager's report and on /metrics."""

from __future__ import annotations

import json

import aiohttp

from bot.coach import Coach
from bot.metrics import MeteredStore, Metrics
from bot.store.memory import MemoryStore
from bot.tips import Managers
from tests.conftest import shipped_knowledge
from tests.fakes.slack_api import FakeSlackApi
from tests.test_slack_http import DM, HUMAN, TEAM, Harness, blocks_of, buttons, header, start_bot

RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"


def button(blocks: list[dict], label: str) -> dict:
    return next(b for b in buttons(blocks) if b["text"]["text"] == label)


def text_of(blocks: list[dict]) -> str:
    return " ".join(str(b) for b in blocks)


async def test_a_correction_on_slack_shows_in_the_managers_report_and_on_metrics(api: FakeSlackApi):
    metrics = Metrics()
    coach = Coach(
        knowledge=shipped_knowledge(),
        store=MeteredStore(inner=MemoryStore(), metrics=metrics),
        managers=Managers.parse(f"slack:{HUMAN}"),
        meter=metrics,
    )
    runner, url = await start_bot(api, coach)
    try:
        async with aiohttp.ClientSession() as session:
            slack = Harness(api, url, session, coach)
            dm = slack.fresh("event_message_im.json", text=RICH)
            dm["event"].pop("blocks", None)
            await slack.event(dm)
            posted = (await api.wait_for("chat.postMessage"))[0]
            ts, blocks, updates = posted.answer["ts"], blocks_of(posted), 0
            while " interaction · " not in header(blocks):  # questions first, if any: the first option
                await slack.click(buttons(blocks)[0], channel=DM, user=HUMAN, team=TEAM, message_ts=ts)
                updates += 1
                blocks = blocks_of((await api.wait_for("chat.update", updates))[-1])
            read = header(blocks).split(" interaction")[0]
            await slack.click(button(blocks, "Not quite"), channel=DM, user=HUMAN, team=TEAM, message_ts=ts)
            updates += 1
            menu = blocks_of((await api.wait_for("chat.update", updates))[-1])
            assert header(menu) == "What is it really?"
            pick = next(b["text"]["text"] for b in buttons(menu) if b["text"]["text"].endswith(" interaction"))
            await slack.click(button(menu, pick), channel=DM, user=HUMAN, team=TEAM, message_ts=ts)
            updates += 1
            redone = blocks_of((await api.wait_for("chat.update", updates))[-1])
            assert header(redone).startswith(pick) and "Redone with your correction." in text_of(redone)
            ask = slack.fresh("event_message_im.json", text="report", ts="1700000999.000001")
            ask["event"].pop("blocks", None)
            await slack.event(ask)
            report = blocks_of((await api.wait_for("chat.postMessage", 2))[-1])
            shown = text_of(report)
            assert header(report).startswith("Coach report") and "1 corrected" in shown
            assert f"{read} read, {pick.split(' ')[0]} meant: 1" in shown
    finally:
        await runner.cleanup()
    exposed = metrics.render()[0].decode()
    assert 'coach_feedback_total{kind="corrected"} 1.0' in exposed
    assert f'picked="{pick.split(" ")[0].lower()}",read="{read.lower()}"' in exposed


async def test_a_managers_app_home_shows_the_report_and_an_agents_does_not(api: FakeSlackApi):
    coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore(), managers=Managers.parse(f"slack:{HUMAN}"))
    runner, url = await start_bot(api, coach)
    try:
        async with aiohttp.ClientSession() as session:
            slack = Harness(api, url, session, coach)
            for number, user in enumerate((HUMAN, "UAGENT"), start=1):
                await slack.event(slack.fresh("event_app_home_opened_home.json", user=user, tab="home"))
                view = (await api.wait_for("views.publish", number))[-1].body["view"]
                view = json.loads(view) if isinstance(view, str) else view
                headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
                assert any(h.startswith("Coach report") for h in headers) == (user == HUMAN), headers
                assert any(h.startswith("Tip of the week") for h in headers)
    finally:
        await runner.cleanup()
