"""Two answers to one question at once, and buttons from earlier cards: exactly one answer counts.

Two copies of the coach on one SQLite file stand in for two copies behind a load balancer (the
PostgreSQL contract test in tests/test_store_contract.py races the store itself). A barrier makes
both turns load the dialog before either saves, the interleaving that lost answers before.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.coach import Coach
from bot.messages import Reply
from bot.store.sqlite import SQLiteStore
from tests.conftest import say, shipped_knowledge

ANSWERED = "That question is answered already."


class LoadsTogether:
    """A store whose ``load_dialog`` waits until every racer has loaded."""

    def __init__(self, inner: Any, barrier: asyncio.Barrier) -> None:
        self.inner, self.barrier = inner, barrier

    async def load_dialog(self, key: str):
        loaded = await self.inner.load_dialog(key)
        try:
            await asyncio.wait_for(self.barrier.wait(), 0.2)  # a retry after losing loads alone
        except (TimeoutError, asyncio.BrokenBarrierError):
            pass
        return loaded

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def two_copies(tmp_path: Path) -> tuple[Coach, Coach, Coach]:
    """A plain coach to open dialogs with, and two racing copies on the same file."""
    barrier = asyncio.Barrier(2)
    path = tmp_path / "coach.db"
    plain = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=path))
    racers = [
        Coach(knowledge=shipped_knowledge(), store=LoadsTogether(SQLiteStore(path=path), barrier)) for _ in range(2)
    ]
    return plain, racers[0], racers[1]


def choice_for(question: Reply, index: int) -> str:
    return [c.value for c in question.choices if not c.value.endswith("|skip")][index]


@pytest.mark.slow
@pytest.mark.parametrize("typed", [False, True], ids=["buttons", "typed digits"])
async def test_two_answers_at_once_take_exactly_one(tmp_path: Path, typed: bool):
    for trial in range(5):
        plain, a, b = await two_copies(tmp_path / str(trial))
        (question,) = await plain.handle(say("cx on the line, need help"))
        assert question.kind == "question"
        turns = (
            [say("1"), say("2")]
            if typed
            else [say(choice=choice_for(question, 0)), say(choice=choice_for(question, 1))]
        )
        (first,), (second,) = await asyncio.gather(a.handle(turns[0]), b.handle(turns[1]))
        titles = [first.title, second.title]
        assert titles.count(ANSWERED) == 1, titles
        state = await plain.store.get_dialog(say().dialog_key)
        assert len(state["answers"]) == 1
        winner = first if second.title == ANSWERED else second
        # What the winner shows is what the store now waits for.
        if winner.kind == "question":
            assert (
                state["pending"]
                and not state["done"]
                and winner.title == plain.knowledge.questions[state["pending"]].text
            )


async def test_a_late_skip_from_an_earlier_card_changes_nothing(tmp_path: Path):
    coach = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=tmp_path / "c.db"))
    (first,) = await coach.handle(say("cx on the line, need help"))
    (second,) = await coach.handle(say(choice=choice_for(first, 0)))
    assert second.kind == "question" and second.title != first.title
    before = await coach.store.load_dialog(say().dialog_key)
    old_skip = (
        next(c.value for c in first.choices if c.value.endswith("|skip"))
        if any(c.value.endswith("|skip") for c in first.choices)
        else None
    )
    stale = old_skip or f"d|{before[0]['id']}|{before[0]['asked'][0]}|skip"
    for late in (stale, choice_for(first, 1)):
        (reply,) = await coach.handle(say(choice=late))
        assert reply.title == ANSWERED
    assert await coach.store.load_dialog(say().dialog_key) == before


async def test_an_old_cards_start_over_clears_nothing_and_the_current_one_does(tmp_path: Path):
    coach = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=tmp_path / "c.db"))
    (old,) = await coach.handle(say("cx furious, blender smoked on day 2, third time, wants a refund"))
    while old.kind == "question":
        (old,) = await coach.handle(say(choice=old.choices[0].value))
    old_start_over = next(c.value for c in old.choices if c.label == "Start over")
    (live,) = await coach.handle(say("cx on the line, need help"))  # a new situation, its question pending
    before = await coach.store.load_dialog(say().dialog_key)
    for stale in (
        old_start_over,
        "c|start-over",
    ):  # this app's earlier cards, then cards from before buttons were bound
        (reply,) = await coach.handle(say(choice=stale))
        assert reply.kind == "error" and "ended" in reply.title
    assert await coach.store.load_dialog(say().dialog_key) == before
    (answered,) = await coach.handle(say(choice=live.choices[0].value))
    assert answered.kind == "question"  # the live card still works


async def test_nothing_to_read_while_a_question_waits_asks_it_again(tmp_path: Path):
    coach = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=tmp_path / "c.db"))
    (question,) = await coach.handle(say("cx on the line, need help"))
    (again,) = await coach.handle(say(""))  # an image or a file with no words, as the adapters hand it on
    assert again.kind == "question" and again.title == question.title


async def test_a_button_that_is_not_the_coachs_is_named_so(tmp_path: Path):
    coach = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=tmp_path / "c.db"))
    (reply,) = await coach.handle(say(choice="approve-expense-42"))
    assert "isn't one of mine" in reply.title
