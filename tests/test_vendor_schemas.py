"""What the bot really sends, checked against the vendors' own definitions, offline.

Replies are captured from a real Coach over many kinds of turn (questions, answers short and full,
the correction menu, checklists, tips and the tip queue, the manager's report, help, errors), then
rendered by the real adapters: each Adaptive Card is validated against Microsoft's 1.5 schema, each
Slack message and the App Home view with slack_sdk's Block Kit models, and both app manifests
against their schemas (tests/data/schemas, with their sources and licences).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from adapters.slack import translate
from adapters.teams.cards import to_card
from bot.coach import Coach
from bot.messages import Reply
from bot.store.memory import MemoryStore
from bot.tips import Managers
from tests.conftest import say, shipped_knowledge

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"
MANAGER = "MGR"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def validator(name: str, registry: Registry | None = None) -> jsonschema.protocols.Validator:
    found = schema(name)
    cls = jsonschema.validators.validator_for(found)
    return cls(found, registry=registry) if registry is not None else cls(found)


async def captured_replies() -> list[Reply]:
    """One of every kind of reply, from real turns."""
    coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore(), managers=Managers.parse(f"test:{MANAGER}"))
    replies: list[Reply] = []

    async def turn(text: str = "", *, choice: str | None = None, user: str = "U1") -> Reply:
        (reply, *rest) = await coach.handle(say(text, choice=choice, user=user))
        replies.extend([reply, *rest])
        return reply

    question = await turn("cx on the line, need help")
    answer = await turn(choice=question.choices[0].value)
    while answer.kind == "question":
        answer = await turn(choice=answer.choices[0].value)
    await turn(choice=next(c.value for c in answer.choices if c.label == "Right"))
    menu = await turn(choice=next(c.value for c in answer.choices if c.label == "Not quite"))
    redone = await turn(choice=menu.choices[0].value)
    full = await turn(choice=next(c.value for c in redone.choices if c.label == "More"))
    await turn(choice=next(c.value for c in full.choices if c.label == "Didn't help"))
    await turn("cx furious, blender smoked on day 2, third time, wants a refund now <b>&amp;</b> *bold*", user="U2")
    for text in (
        "help",
        "checklist",
        "checklist billing",
        "checklist nonsense",
        "tip",
        "more",
        "skip",
        "report",
        "frobnicate /x",
        "🙂",
        "x" * 3000,
    ):
        await turn(text, user="U3")
    for n in range(3):
        await turn(
            f"tip add Greet every caller by name and smile [{n}] <https://example.com|click> *now*", user=MANAGER
        )
    for text in ("tip list", "tip schedule", "tip history", "tip stats", "report 4", "tip help"):
        await turn(text, user=MANAGER)
    await turn(choice="d|nope|more", user="U4")
    await turn(choice="someone-elses-button", user="U4")
    return replies


@pytest.fixture(scope="module")
def replies() -> list[Reply]:
    found = asyncio.run(captured_replies())
    assert {r.kind for r in found} >= {"question", "answer", "info", "error"}
    return found


async def test_every_adaptive_card_is_valid_adaptive_card_1_5(replies: list[Reply]):
    check = validator("adaptive-card-1.5.schema.json")
    problems = [f"{r.title!r}: {e.message}" for r in replies for e in check.iter_errors(to_card(r))]
    assert not problems, "\n".join(problems[:20])


async def test_a_broken_card_is_caught():
    """The check above can fail: an element type that does not exist, and a button without its action data."""
    check = validator("adaptive-card-1.5.schema.json")
    card = to_card(Reply(kind="info", title="t", text="x"))
    broken = copy.deepcopy(card)
    broken["body"][0]["type"] = "TextBlok"
    assert list(check.iter_errors(broken))
    broken = copy.deepcopy(card)
    broken["actions"] = [{"type": "Action.Submit", "title": 5}]
    assert list(check.iter_errors(broken))


async def test_every_slack_message_is_valid_block_kit(replies: list[Reply]):
    problems = []
    for reply in replies:
        message = translate.to_message(reply)
        assert message["text"], reply.title
        for block in Block.parse_all(message["blocks"]):
            try:
                block.validate_json()
            except Exception as error:  # noqa: BLE001  slack_sdk raises SlackObjectFormationError
                problems.append(f"{reply.title!r}: {error}")
        assert len(message["blocks"]) <= 50
    assert not problems, "\n".join(problems[:20])


async def test_a_broken_block_is_caught():
    (block,) = Block.parse_all([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    with pytest.raises(SlackObjectFormationError):
        block.validate_json()


async def test_the_app_home_view_is_valid():
    coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore())
    view = translate.home_view(translate.home_parts(coach))
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100


def test_the_slack_manifest_is_valid_by_slacks_schema():
    registry = Registry().with_resources(
        (
            f"https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.{v}.json",
            Resource.from_contents(schema(f"slack-app-manifest.schema.{v}.json")),
        )
        for v in ("1.0.0", "2.0.0")
    )
    manifest = yaml.safe_load((ROOT / "adapters/slack/manifest.yaml").read_text(encoding="utf-8"))
    problems = [e.message for e in validator("slack-app-manifest.schema.json", registry).iter_errors(manifest)]
    assert not problems, problems
    broken = {**manifest, "display_information": {}}
    assert list(validator("slack-app-manifest.schema.json", registry).iter_errors(broken))


def test_the_teams_manifest_is_valid_by_microsofts_schema():
    manifest = json.loads((ROOT / "teams-app/manifest.json").read_text(encoding="utf-8"))
    check = validator("teams-manifest-1.22.schema.json")
    problems = [e.message for e in check.iter_errors(manifest)]
    assert not problems, problems
    assert list(check.iter_errors({**manifest, "bots": [{"botId": "not a guid", "scopes": ["nowhere"]}]}))
