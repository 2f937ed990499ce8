"""The outbox deliverer: sent once by its maker, or by any copy after the maker died; retried, then given up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from adapters.outbox import GIVE_UP_AFTER, LEASE, Deliverer, Permanent, RetryLater
from bot.store.sqlite import SQLiteStore
from tests.conftest import Clock


class Platform:
    """A far side that records what it took, and can refuse."""

    def __init__(self) -> None:
        self.took: list[dict] = []
        self.refuse: type[Exception] | None = None

    async def send(self, payload: dict) -> None:
        if self.refuse is not None:
            raise self.refuse("refused")
        self.took.append(payload)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(path=tmp_path / "c.db")


async def test_the_maker_sends_in_order_and_nothing_is_left(store):
    platform, clock = Platform(), Clock()
    copy = Deliverer(store=store, platform="slack", send=platform.send, clock=clock)
    items = copy.items([{"n": 1}, {"n": 2}, {"n": 3}])
    await store.put_outbox(items, clock())
    copy.deliver_soon(items)
    await copy.close()
    assert platform.took == [{"n": 1}, {"n": 2}, {"n": 3}]
    clock.now += 10 * LEASE
    assert await store.claim_outbox("slack", "x", clock(), clock() + 1, 10) == []


async def test_what_a_dead_copy_left_is_sent_once_by_another_after_its_lease(store):
    platform, clock = Platform(), Clock()
    dead = Deliverer(store=store, platform="slack", send=platform.send, clock=clock)
    await store.put_outbox(dead.items([{"n": 1}, {"n": 2}]), clock())  # stored, acknowledged, then kill -9
    survivors = [Deliverer(store=store, platform="slack", send=platform.send, clock=clock) for _ in range(2)]
    assert [await s.sweep() for s in survivors] == [0, 0]  # the lease still holds
    clock.now += LEASE + 1
    assert sum(await asyncio.gather(*(s.sweep() for s in survivors))) == 2
    assert sorted(p["n"] for p in platform.took) == [1, 2]
    clock.now += LEASE + 1
    assert [await s.sweep() for s in survivors] == [0, 0]


async def test_a_refusal_is_retried_later_and_a_hopeless_one_dropped(store):
    platform, clock = Platform(), Clock()
    copy = Deliverer(store=store, platform="slack", send=platform.send, clock=clock)
    platform.refuse = ConnectionError
    items = copy.items([{"n": 1}])
    await store.put_outbox(items, clock())
    copy.deliver_soon(items)
    await copy.close()
    assert platform.took == []
    platform.refuse = None
    clock.now += 3
    assert await copy.sweep() == 1 and platform.took == [{"n": 1}]

    platform.refuse = Permanent
    items = copy.items([{"n": 2}])
    await store.put_outbox(items, clock())
    copy.deliver_soon(items)
    await copy.close()
    clock.now += LEASE + 1
    assert await copy.sweep() == 0


async def test_an_item_never_delivered_is_given_up_after_its_time(store):
    platform, clock = Platform(), Clock()
    copy = Deliverer(store=store, platform="slack", send=platform.send, clock=clock)
    platform.refuse = TimeoutError
    await store.put_outbox(copy.items([{"n": 1}]), clock())
    for _ in range(200):
        clock.now += 30
        await copy.sweep()
        if clock.now - Clock().now > GIVE_UP_AFTER + 120:
            break
    platform.refuse = None
    clock.now += LEASE + 100
    assert await copy.sweep() == 0 and platform.took == []


async def test_a_send_slower_than_its_lease_is_cut_short_and_never_sent_twice_at_once(store, monkeypatch):
    """A platform that hangs: the maker gives up before its lease runs out, so the copy that takes the item over
    is the only one sending it (without the cut, both copies send, and the item goes out twice)."""
    monkeypatch.setattr("adapters.outbox.LEASE", 0.6)
    in_flight, most_at_once, took = 0, 0, []

    async def hangs(payload: dict) -> None:
        nonlocal in_flight, most_at_once
        in_flight += 1
        most_at_once = max(most_at_once, in_flight)
        try:
            await asyncio.sleep(60)
        finally:
            in_flight -= 1

    async def answers(payload: dict) -> None:
        nonlocal in_flight, most_at_once
        in_flight += 1
        most_at_once = max(most_at_once, in_flight)
        took.append(payload)
        in_flight -= 1

    maker = Deliverer(store=store, platform="slack", send=hangs)
    other = Deliverer(store=store, platform="slack", send=answers)
    items = maker.items([{"n": 1}])
    await store.put_outbox(items, time.time())
    maker.deliver_soon(items)
    deadline = time.monotonic() + 6.0  # the cut comes within the lease; the retry after a 2 s backoff
    while not took and time.monotonic() < deadline:
        await other.sweep()
        await asyncio.sleep(0.05)
    await maker.close(grace=1.0)
    assert took == [{"n": 1}] and most_at_once == 1 and in_flight == 0


async def test_a_later_item_of_a_turn_waits_while_an_earlier_one_is_retried(store):
    """The question card is refused for now: the note that follows it must not go out first."""
    clock = Clock()
    took: list[dict] = []
    refused_once: set[int] = set()

    async def send(payload: dict) -> None:
        if payload["n"] == 1 and 1 not in refused_once:
            refused_once.add(1)
            raise ConnectionError("rate limited")
        took.append(payload)

    copy = Deliverer(store=store, platform="slack", send=send, clock=clock)
    items = copy.items([{"n": 1}, {"n": 2}, {"n": 3}])
    await store.put_outbox(items, clock())
    copy.deliver_soon(items)
    await copy.close()
    assert took == []  # the card was refused, so nothing after it went out
    clock.now += 3
    assert await copy.sweep() == 3
    assert took == [{"n": 1}, {"n": 2}, {"n": 3}]


async def test_a_rate_limit_is_not_tried_again_before_its_retry_after_on_any_copy(store):
    """A platform that asked for quiet (Retry-After) gets none of this item until then, from this copy or a sweep."""
    clock, tried = Clock(), []

    async def limited(payload: dict) -> None:
        tried.append(clock())
        if len(tried) == 1:
            raise RetryLater(120.0)

    copies = [Deliverer(store=store, platform="slack", send=limited, clock=clock) for _ in range(2)]
    items = copies[0].items([{"n": 1}])
    await store.put_outbox(items, clock())
    copies[0].deliver_soon(items)
    await copies[0].close()
    for _ in range(5):  # well past the lease and the usual backoff, still inside the platform's window
        clock.now += 20
        assert [await c.sweep() for c in copies] == [0, 0]
    clock.now += 21
    assert sum([await c.sweep() for c in copies]) == 1
    assert len(tried) == 2 and tried[1] - tried[0] >= 120


async def test_a_rate_limit_that_ends_after_the_answer_stops_being_of_use_drops_the_item(store, caplog):
    clock = Clock()

    async def limited(payload: dict) -> None:
        raise RetryLater(GIVE_UP_AFTER + 1)

    copy = Deliverer(store=store, platform="slack", send=limited, clock=clock)
    items = copy.items([{"n": 1}])
    await store.put_outbox(items, clock())
    copy.deliver_soon(items)
    await copy.close()
    assert "rate-limited past" in caplog.text
    clock.now += GIVE_UP_AFTER + LEASE
    assert await copy.sweep() == 0
