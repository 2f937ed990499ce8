"""Issue 16 on Teams, end to end: answer, Not quite, a pick, then the counts in the manager's report and on /metrics."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from adapters.teams import TeamsConfig, mount_teams
from bot.coach import Coach
from bot.metrics import MeteredStore, Metrics
from bot.store.memory import MemoryStore
from bot.tips import Managers
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.bf_connector import serve
from tests.test_teams_clients import MANAGER, RecordingConnector, Teams, answer_card, buttons, texts, title


async def test_a_correction_on_teams_shows_in_the_managers_report_and_on_metrics():
    metrics = Metrics()
    coach = Coach(
        knowledge=shipped_knowledge(),
        store=MeteredStore(inner=MemoryStore(), metrics=metrics),
        clock=Clock(),
        managers=Managers.parse(f"teams:{MANAGER}"),
    )
    connector = await RecordingConnector().start()
    app = web.Application()
    mount_teams(app, coach, TeamsConfig())
    runner, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as session:
            teams = Teams(url=url, session=session, connector=connector, coach=coach)
            answer = await answer_card(teams)
            read = title(answer.card).split(" interaction")[0]
            (menu,) = await teams.press(answer, "Not quite")
            pick = next(b["title"] for b in buttons(menu.card) if b["title"].endswith(" interaction"))
            redone = next(c for c in await teams.press(menu, pick) if c.method == "POST")
            assert title(redone.card).startswith(pick)
            report = await teams.say("report")  # the sender of the fixture is the manager
            shown = " ".join(texts(report.card))
            assert "1 given; 0 marked right (0%), 1 corrected" in shown
            assert f"interaction: {read} read, {pick.split(' ')[0]} meant: 1" in shown
    finally:
        await runner.cleanup()
        await connector.stop()
    exposed = metrics.render()[0].decode()
    assert 'coach_feedback_total{kind="corrected"} 1.0' in exposed
    assert f'picked="{pick.split(" ")[0].lower()}",read="{read.lower()}"' in exposed
