"""Shared fixtures: a coach on the shipped knowledge with an in-memory store and a settable clock, fakes of Slack and
the Bot Framework connector, and a PostgreSQL schema of its own for each test that takes ``pg_target``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.coach import Coach
from bot.knowledge import SHIPPED_DIR, Knowledge, load_knowledge
from bot.messages import Incoming
from bot.store.memory import MemoryStore
from tests.fakes.bf_connector import FakeConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.pg import PgTarget, drop, pg_target_or_skip

_SHIPPED: Knowledge | None = None


def shipped_knowledge() -> Knowledge:
    """Loaded once per test run: every test reads the same files."""
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = load_knowledge()
    return _SHIPPED


class Clock:
    def __init__(self, now: float = 1_795_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def coach(clock: Clock) -> Coach:
    return Coach(knowledge=shipped_knowledge(), store=MemoryStore(), clock=clock)


@pytest.fixture
async def api() -> FakeSlackApi:
    """A fake Slack Web API on loopback that records what the bot sent."""
    fake = await FakeSlackApi().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def connector() -> FakeConnector:
    """A fake Bot Framework connector on loopback that records what the bot sent."""
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


@pytest.fixture
def pg_target() -> Iterator[PgTarget]:
    """A fresh, empty schema name on the PostgreSQL test server (the store creates it), dropped with everything in
    it after.

    Skips, naming the DSN, when no server answers (tests/pg.py).
    """
    target = pg_target_or_skip()
    yield target
    drop(target)


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge folder, for breaking things on purpose."""
    target = tmp_path / "knowledge"
    shutil.copytree(SHIPPED_DIR, target)
    return target


def say(
    text: str = "", *, user: str = "U1", conversation: str = "C1", choice: str | None = None, platform: str = "test"
) -> Incoming:
    return Incoming(platform=platform, workspace="W1", conversation=conversation, user=user, text=text, choice=choice)
