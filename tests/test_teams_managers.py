"""Manager identity on Teams: only the AAD object id that Teams itself sends makes a manager.

The real Coach with COACH_MANAGERS naming one Teams object id, over loopback HTTP (auth off). On the
Teams channel ``from.aadObjectId`` comes from the signed-in account; ``from.id`` is picked by the
client on Web Chat and Direct Line, as is everything in ``from`` there.
"""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from botbuilder.schema import Activity

from adapters import manager_ids
from adapters.teams import TeamsConfig, mount_teams
from adapters.teams.bot import sender_id, verified_aad_id
from bot.coach import Coach
from bot.store.memory import MemoryStore
from bot.tips import Managers
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.bf_connector import FakeConnector, serve
from tests.test_teams_http import fixture

MANAGER = "6d415fdd-f97e-4f70-ac45-e69601e4ecb2"  # the aadObjectId of message_personal.json
REFUSED = "Sorry, that one is for managers."


@pytest.fixture
async def teams():
    coach = Coach(
        knowledge=shipped_knowledge(),
        store=MemoryStore(),
        clock=Clock(),
        managers=Managers.parse(f"teams:{MANAGER.upper()}", ids=manager_ids.RULES),
    )
    connector = await FakeConnector().start()
    app = web.Application()
    mount_teams(app, coach, TeamsConfig())
    runner, url = await serve(app)
    counter = iter(range(1, 10_000))
    async with aiohttp.ClientSession() as session:

        async def say(text: str, *, change=None) -> str:
            """Send ``text`` as the personal-message fixture, changed by ``change``; the title of the reply's card."""
            body = fixture("message_personal.json", connector.url)
            body["id"] = f"turn-{next(counter)}"
            body["text"] = text
            if change:
                change(body)
            before = len(connector.sent)
            async with session.post(url + "/api/messages", json=body) as response:
                assert response.status == 201
            (sent,) = connector.sent[before:]
            return sent.body["attachments"][0]["content"]["body"][0]["items"][0]["text"]

        yield say
    await runner.cleanup()
    await connector.stop()


def without_aad(body: dict) -> None:
    """No aadObjectId, and a from.id equal to the manager's object id (as a Web Chat client may pick)."""
    body["from"].pop("aadObjectId")
    body["from"]["id"] = MANAGER


async def test_the_aad_object_id_on_the_teams_channel_makes_the_manager(teams):
    assert (await teams("tip add Greet every caller by name")).startswith("Tip 1 queued")
    assert await teams("tip list") == "1 tip(s) queued, next first"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(without_aad, id="from.id equal to the manager's object id, no aadObjectId"),
        pytest.param(
            lambda body: body["from"].update(id=MANAGER, aadObjectId="00000000-0000-0000-0000-000000000000"),
            id="from.id equal to it, another aadObjectId",
        ),
        pytest.param(lambda body: body["from"].update(id="29:someone", aadObjectId=None), id="aadObjectId null"),
        pytest.param(
            lambda body: (body["from"].pop("aadObjectId"), body["from"].update(id=f"from:{MANAGER}")),
            id="from.id that already carries the unverified mark",
        ),
        pytest.param(lambda body: body.update(channelId="webchat"), id="the manager's aadObjectId on Web Chat"),
        pytest.param(lambda body: body.update(channelId="directline"), id="the manager's aadObjectId on Direct Line"),
        pytest.param(lambda body: body.update(channelId="emulator"), id="the manager's aadObjectId in the Emulator"),
    ],
)
async def test_anything_but_a_teams_aad_object_id_is_not_a_manager(teams, change):
    assert await teams("tip add Buy donuts for the team", change=change) == REFUSED
    assert await teams("tip post-now", change=change) == REFUSED
    assert await teams("tip list") == "No tips are queued."  # asked by the real manager: nothing was queued


async def test_without_aad_the_person_still_gets_the_tip_of_the_week_and_checklists(teams):
    assert await teams("tip", change=without_aad) == "Tip of the week"
    assert await teams("checklist billing", change=without_aad) != REFUSED


def test_sender_keys():
    body = fixture("message_personal.json", "https://smba.trafficmanager.net/amer/")
    activity = Activity().deserialize(body)
    assert verified_aad_id(activity) == sender_id(activity) == MANAGER
    without_aad(body)
    activity = Activity().deserialize(body)
    assert verified_aad_id(activity) is None
    assert sender_id(activity) == f"from:{MANAGER}"  # keyed apart from the object id it imitates
    body = fixture("message_personal.json", "https://smba.trafficmanager.net/amer/")
    body["channelId"] = "webchat"
    activity = Activity().deserialize(body)
    assert verified_aad_id(activity) is None and sender_id(activity).startswith("from:29:")
