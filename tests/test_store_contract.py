"""The storage contract: every backend (memory, SQLite, PostgreSQL) must pass the same tests.

A backend is given as a way to open a store on some storage, and to open a second instance on the
same storage, as a second copy of the bot would (for memory there is only one instance). PostgreSQL
tests use tests/pg.py: a fresh schema on COACH_TEST_PG_DSN, skipped with the reason when no server answers.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.store import Store
from bot.store.memory import MemoryStore
from bot.store.sqlite import SQLiteStore
from tests.pg import DSN_ENV, PgTarget, TcpProxy, probe, via

NOW = 1_795_000_000.0

UNICODE_STATE: dict[str, Any] = {
    "text": 'Ça va? 你好 مرحبا Привет 😀👍🏽 "quoted" back\\slash \n\t',
    "nul": "a\x00b",
    "nested": {"answers": ["non, pas fâché", "ñ", 3, 2.5, True, None], "empty": {}, "list": []},
    "emoji_key_😀": "value",
    "big": 2**53,
}


@dataclass
class Backend:
    name: str
    _open: Callable[[], Awaitable[Store]]
    shared: bool  # a second instance sees the first one's data (memory: there is only one instance)
    durable: bool  # data survive closing and reopening
    opened: list[Store] = field(default_factory=list)

    async def open(self) -> Store:
        store = await self._open()
        self.opened.append(store)
        return store


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        only = MemoryStore()

        async def open_memory() -> Store:
            return only

        return Backend("memory", open_memory, shared=False, durable=False)
    if request.param == "sqlite":
        path = tmp_path / "coach.db"

        async def open_sqlite() -> Store:
            return SQLiteStore(path=path)

        return Backend("sqlite", open_sqlite, shared=True, durable=True)
    target: PgTarget = request.getfixturevalue("pg_target")
    from bot.store.postgres import PostgresStore

    async def open_postgres() -> Store:
        return await PostgresStore.connect(dsn=target.dsn, schema=target.schema, max_size=10)

    return Backend("postgres", open_postgres, shared=True, durable=True)


@pytest.fixture
async def store(backend: Backend) -> Store:
    store = await backend.open()
    yield store
    closed: set[int] = set()
    for opened in backend.opened:
        if id(opened) not in closed:
            closed.add(id(opened))
            await opened.close()


# --- dialogs -------------------------------------------------------------------------------------


async def test_missing_dialog_is_none(store: Store) -> None:
    assert await store.get_dialog("nobody") is None


async def test_dialog_round_trip_keeps_unicode_and_types(store: Store) -> None:
    await store.put_dialog("test:W1:C1:U1", UNICODE_STATE, NOW)
    assert await store.get_dialog("test:W1:C1:U1") == UNICODE_STATE


async def test_dialog_returned_is_a_copy(store: Store) -> None:
    state = {"answers": ["x"]}
    await store.put_dialog("k", state, NOW)
    state["answers"].append("changed after saving")
    got = await store.get_dialog("k")
    assert got == {"answers": ["x"]}
    got["answers"].append("changed after loading")
    assert await store.get_dialog("k") == {"answers": ["x"]}


async def test_put_dialog_replaces(store: Store) -> None:
    await store.put_dialog("k", {"step": 1, "old": True}, NOW)
    await store.put_dialog("k", {"step": 2}, NOW + 1)
    assert await store.get_dialog("k") == {"step": 2}


async def test_dialogs_are_kept_apart_by_key(store: Store) -> None:
    await store.put_dialog("slack:W1:C1:U1", {"who": "u1"}, NOW)
    await store.put_dialog("slack:W1:C1:U2", {"who": "u2"}, NOW)
    assert await store.get_dialog("slack:W1:C1:U1") == {"who": "u1"}
    assert await store.get_dialog("slack:W1:C1:U2") == {"who": "u2"}


async def test_delete_dialog_and_deleting_a_missing_one_is_fine(store: Store) -> None:
    await store.put_dialog("k", {"a": 1}, NOW)
    await store.put_dialog("other", {"b": 2}, NOW)
    await store.delete_dialog("k")
    await store.delete_dialog("k")
    await store.delete_dialog("never-there")
    assert await store.get_dialog("k") is None
    assert await store.get_dialog("other") == {"b": 2}


async def test_purge_dialogs_by_idle_time(store: Store) -> None:
    await store.put_dialog("old", {"n": 1}, NOW - 3600)
    await store.put_dialog("older", {"n": 2}, NOW - 7200)
    await store.put_dialog("edge", {"n": 3}, NOW - 1800)
    await store.put_dialog("fresh", {"n": 4}, NOW)
    assert await store.purge_dialogs(NOW - 1800) == 2
    assert await store.get_dialog("old") is None
    assert await store.get_dialog("older") is None
    assert await store.get_dialog("edge") == {"n": 3}  # last activity exactly at idle_since is kept
    assert await store.get_dialog("fresh") == {"n": 4}
    assert await store.purge_dialogs(NOW - 1800) == 0


async def test_put_dialog_refreshes_activity(store: Store) -> None:
    await store.put_dialog("k", {"n": 1}, NOW - 3600)
    await store.put_dialog("k", {"n": 2}, NOW)
    assert await store.purge_dialogs(NOW - 60) == 0
    assert await store.get_dialog("k") == {"n": 2}


async def test_save_dialog_is_compare_and_set_on_the_version(store: Store) -> None:
    assert await store.load_dialog("k") is None
    assert await store.save_dialog("k", {"step": 1}, NOW, version=0)
    assert not await store.save_dialog("k", {"step": "late twin"}, NOW, version=0)  # someone created it first
    state, version = await store.load_dialog("k")
    assert state == {"step": 1} and version >= 1
    assert await store.save_dialog("k", {"step": 2}, NOW + 1, version=version)
    assert not await store.save_dialog("k", {"step": "stale"}, NOW + 2, version=version)
    assert await store.get_dialog("k") == {"step": 2}
    await store.delete_dialog("k")
    assert not await store.save_dialog("k", {"step": "after delete"}, NOW + 3, version=version + 1)
    assert await store.load_dialog("k") is None


def outbox_item(
    item_id: str, *, token: str = "copy-a", lease_until: float = NOW + 30, **payload: Any
) -> dict[str, Any]:
    return {
        "id": item_id,
        "platform": "slack",
        "payload": {"text": "Ça 😀", **payload},
        "token": token,
        "lease_until": lease_until,
    }


async def test_a_lost_save_queues_none_of_its_outbox(store: Store) -> None:
    assert await store.save_dialog("k", {"n": 1}, NOW, version=0, outbox=[outbox_item("first")])
    assert not await store.save_dialog("k", {"n": 2}, NOW, version=0, outbox=[outbox_item("lost")])
    taken = await store.claim_outbox("slack", "sweeper", NOW + 60, NOW + 90, 10)
    assert [i["id"] for i in taken] == ["first"] and taken[0]["payload"] == {"text": "Ça 😀"}


async def test_outbox_items_are_leased_sent_once_and_retried_after_release(store: Store) -> None:
    await store.put_outbox([outbox_item("a", lease_until=NOW + 30), outbox_item("b", lease_until=NOW + 30)], NOW)
    assert await store.claim_outbox("slack", "sweeper", NOW + 10, NOW + 40, 10) == []  # still leased to its maker
    assert await store.claim_outbox("teams", "sweeper", NOW + 60, NOW + 90, 10) == []  # another platform's sweeper
    assert await store.finish_outbox("a", "copy-a")  # its maker sent it
    assert not await store.finish_outbox("a", "copy-a")
    taken = await store.claim_outbox("slack", "sweeper", NOW + 60, NOW + 90, 10)  # "b": its maker died
    assert [i["id"] for i in taken] == ["b"]
    assert not await store.finish_outbox("b", "copy-a")  # the lease moved on
    assert await store.claim_outbox("slack", "other", NOW + 61, NOW + 91, 10) == []  # one holder at a time
    assert await store.release_outbox("b", "sweeper", NOW + 120)
    assert await store.claim_outbox("slack", "other", NOW + 100, NOW + 130, 10) == []  # not before retry_at
    assert [i["id"] for i in await store.claim_outbox("slack", "other", NOW + 121, NOW + 150, 10)] == ["b"]
    assert await store.finish_outbox("b", "other")
    assert await store.claim_outbox("slack", "late", NOW + 999, NOW + 1999, 10) == []


async def test_old_unsent_outbox_items_are_given_up(store: Store) -> None:
    await store.put_outbox([outbox_item("old")], NOW - 7200)
    await store.put_outbox([outbox_item("new")], NOW)
    assert await store.purge_outbox(NOW - 3600) == 1
    assert [i["id"] for i in await store.claim_outbox("slack", "s", NOW + 60, NOW + 90, 10)] == ["new"]


async def test_two_instances_saving_one_version_at_once_exactly_one_wins(backend: Backend, store: Store) -> None:
    if not backend.shared:
        pytest.skip(f"{backend.name}: one instance only")
    other = await backend.open()
    for n in range(10):
        key = f"race{n}"
        assert await store.save_dialog(key, {"q": 1}, NOW, version=0)
        (_, version) = await store.load_dialog(key)
        won = await asyncio.gather(
            store.save_dialog(key, {"by": "a"}, NOW, version=version, outbox=[outbox_item(f"{key}a")]),
            other.save_dialog(key, {"by": "b"}, NOW, version=version, outbox=[outbox_item(f"{key}b")]),
        )
        assert sorted(won) == [False, True]
        assert (await store.get_dialog(key))["by"] == ("a" if won[0] else "b")
    assert len(await store.claim_outbox("slack", "s", NOW + 60, NOW + 90, 100)) == 10


async def test_dialog_continues_on_another_instance(backend: Backend, store: Store) -> None:
    if not backend.shared:
        pytest.skip(f"{backend.name}: one instance only")
    other = await backend.open()
    await store.put_dialog("k", {"step": 1}, NOW)
    assert await other.get_dialog("k") == {"step": 1}
    await other.put_dialog("k", {"step": 2}, NOW + 1)
    assert await store.get_dialog("k") == {"step": 2}


async def test_dialog_survives_reopening(backend: Backend, store: Store) -> None:
    if not backend.durable:
        pytest.skip(f"{backend.name}: not durable by design")
    await store.put_dialog("k", UNICODE_STATE, NOW)
    await store.count_identified("2026-W48", "critical", "angry")
    await store.claim("slack-event", "Ev1", NOW)
    await store.close()
    backend.opened.remove(store)
    reopened = await backend.open()
    assert await reopened.get_dialog("k") == UNICODE_STATE
    assert await reopened.identified_counts("2026-W48") == {("critical", "angry"): 1}
    assert await reopened.claim("slack-event", "Ev1", NOW) is False


# --- claims --------------------------------------------------------------------------------------


async def test_claim_first_caller_only(store: Store) -> None:
    assert await store.claim("slack-event", "Ev1", NOW) is True
    assert await store.claim("slack-event", "Ev1", NOW) is False
    assert await store.claim("slack-event", "Ev1", NOW + 999) is False
    assert await store.claim("slack-event", "Ev2", NOW) is True


async def test_claim_scopes_are_independent(store: Store) -> None:
    assert await store.claim("slack-event", "X", NOW) is True
    assert await store.claim("weekly-tip", "X", NOW) is True
    assert await store.claim("weekly-tip", "X", NOW) is False


async def test_purge_claims_by_time_then_claimable_again(store: Store) -> None:
    assert await store.claim("slack-event", "old", NOW - 7200)
    assert await store.claim("slack-event", "new", NOW)
    assert await store.claim("weekly-tip", "old", NOW - 7200)
    assert await store.purge_claims("slack-event", NOW - 3600) == 1
    assert await store.purge_claims("slack-event", NOW - 3600) == 0
    assert await store.claim("slack-event", "old", NOW) is True  # purged: claimable again
    assert await store.claim("slack-event", "new", NOW) is False  # not purged
    assert await store.claim("weekly-tip", "old", NOW) is False  # other scope untouched


async def test_a_released_claim_can_be_won_again_and_only_that_one(store: Store) -> None:
    assert await store.claim("teams-welcome", "conv", NOW)
    assert await store.claim("teams-welcome", "other", NOW)
    assert await store.claim("slack-event", "conv", NOW)
    await store.release("teams-welcome", "conv")
    await store.release("teams-welcome", "never-claimed")  # nothing to undo: no error
    assert await store.claim("teams-welcome", "conv", NOW + 1) is True  # the next attempt wins it
    assert await store.claim("teams-welcome", "conv", NOW + 2) is False  # and only once again
    assert await store.claim("teams-welcome", "other", NOW) is False  # others untouched
    assert await store.claim("slack-event", "conv", NOW) is False  # so is the same key in another scope


@pytest.mark.parametrize("round_", range(3))
async def test_claim_race_has_exactly_one_winner(backend: Backend, store: Store, round_: int) -> None:
    """50 concurrent claims of one key, half through a second instance on the same storage."""
    other = await backend.open()
    key = f"Ev-race-{round_}"
    results = await asyncio.gather(*((store if i % 2 else other).claim("slack-event", key, NOW) for i in range(50)))
    assert results.count(True) == 1, results


async def test_sqlite_claim_race_across_threads(tmp_path: Path) -> None:
    """SQLite runs on the caller's thread: race separate connections on real threads too."""
    path = tmp_path / "coach.db"
    SQLiteStore(path=path)  # create the schema before the race
    start = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def contender() -> None:
        local = SQLiteStore(path=path)
        start.wait()
        won = asyncio.run(local.claim("slack-event", "Ev-threads", NOW))
        asyncio.run(local.close())
        with lock:
            results.append(won)

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False] * 7 + [True]


async def test_sqlite_claims_in_one_loop_turn_share_a_transaction_and_each_gets_its_answer(tmp_path: Path) -> None:
    """Group commit: many claims at once, repeats among them, and a cancelled caller's claim is given back."""
    store = SQLiteStore(path=tmp_path / "coach.db")
    keys = [f"Ev{i % 40}" for i in range(100)]
    results = await asyncio.gather(*(store.claim("slack-event", key, NOW) for key in keys))
    assert sum(results) == 40
    assert {key for key, won in zip(keys, results, strict=True) if won} == {f"Ev{i}" for i in range(40)}
    cancelled = asyncio.ensure_future(store.claim("slack-event", "Ev-cancelled", NOW))
    await asyncio.sleep(0)  # the claim is queued for this loop turn's commit
    cancelled.cancel()
    await asyncio.sleep(0.01)
    assert await store.claim("slack-event", "Ev-cancelled", NOW) is True  # the retry wins
    await store.close()


async def test_sqlite_file_from_the_first_schema_is_migrated(tmp_path: Path) -> None:
    """A file whose claims table still has a rowid keeps its claims and its dialogs, and is upgraded once."""
    path = tmp_path / "coach.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE claims (scope TEXT NOT NULL, key TEXT NOT NULL, made REAL NOT NULL, PRIMARY KEY (scope, key));"
        "CREATE TABLE dialogs (key TEXT PRIMARY KEY, state TEXT NOT NULL, touched REAL NOT NULL);"
        "INSERT INTO claims VALUES ('slack-event', 'Ev-old', 1.0);"
        """INSERT INTO dialogs VALUES ('k', '{"asked": 1}', 1.0);"""
    )
    old.commit()
    old.close()
    store = SQLiteStore(path=path)
    assert await store.claim("slack-event", "Ev-old", NOW) is False
    assert await store.claim("slack-event", "Ev-new", NOW) is True
    assert await store.get_dialog("k") == {"asked": 1}
    await store.close()
    check = sqlite3.connect(path)
    table_sql = check.execute("SELECT sql FROM sqlite_master WHERE name = 'claims'").fetchone()[0]
    assert "WITHOUT ROWID" in table_sql
    assert check.execute("SELECT count(*) FROM claims").fetchone()[0] == 2
    check.close()
    reopened = SQLiteStore(path=path)  # a second start finds nothing left to do
    assert await reopened.claim("slack-event", "Ev-new", NOW) is False
    await reopened.close()


# --- conversations -------------------------------------------------------------------------------


async def test_missing_conversation_is_none(store: Store) -> None:
    assert await store.get_conversation("slack", "C404") is None


async def test_conversation_put_replace_get(store: Store) -> None:
    first = {"channel": "C1", "team": "T1", "service_url": "https://example.invalid/", "name": "équipe 😀"}
    await store.put_conversation("slack", "C1", first, NOW)
    assert await store.get_conversation("slack", "C1") == first
    second = {"channel": "C1", "team": "T2", "nested": {"ids": [1, 2]}}
    await store.put_conversation("slack", "C1", second, NOW + 1)
    assert await store.get_conversation("slack", "C1") == second
    assert await store.get_conversation("teams", "C1") is None  # platforms are apart


# --- identified counts ---------------------------------------------------------------------------


async def test_identified_counts_per_period(store: Store) -> None:
    assert await store.identified_counts("2026-W48") == {}
    for _ in range(3):
        await store.count_identified("2026-W48", "critical", "angry")
    await store.count_identified("2026-W48", "planned", "new")
    await store.count_identified("2026-W49", "critical", "angry")
    assert await store.identified_counts("2026-W48") == {("critical", "angry"): 3, ("planned", "new"): 1}
    assert await store.identified_counts("2026-W49") == {("critical", "angry"): 1}
    assert await store.identified_counts("2026-W50") == {}


async def test_concurrent_counts_from_two_instances_add_up(backend: Backend, store: Store) -> None:
    other = await backend.open()
    await asyncio.gather(
        *((store if i % 2 else other).count_identified("2026-W48", "surprise", "loyal") for i in range(200))
    )
    assert await store.identified_counts("2026-W48") == {("surprise", "loyal"): 200}
    assert await other.identified_counts("2026-W48") == {("surprise", "loyal"): 200}


# --- weekly tips: queue, schedules, subscriptions, posts ----------------------------------------


async def test_tip_queue_add_list_remove(store: Store) -> None:
    assert await store.queued_tips("slack", "T1") == []
    first = await store.add_tip("slack", "T1", "Greet every caller by name. 😀", "U1", NOW)
    second = await store.add_tip("slack", "T1", "Second", "U2", NOW + 1)
    other = await store.add_tip("teams", "T1", "Other platform", "A1", NOW)
    assert second > first and other != second
    assert await store.queued_tips("slack", "T1") == [
        {"id": first, "text": "Greet every caller by name. 😀", "author": "U1", "added": NOW},
        {"id": second, "text": "Second", "author": "U2", "added": NOW + 1},
    ]
    assert await store.remove_tip("slack", "T1", other) is False  # another workspace's tip
    assert await store.remove_tip("slack", "T1", first) is True
    assert await store.remove_tip("slack", "T1", first) is False
    assert [t["id"] for t in await store.queued_tips("slack", "T1")] == [second]
    assert [t["id"] for t in await store.queued_tips("teams", "T1")] == [other]


async def test_week_tip_takes_the_oldest_once_and_retires_it(store: Store) -> None:
    assert await store.week_tip("slack", "T1", "2026-W01") is None  # empty queue: that week is library
    first = await store.add_tip("slack", "T1", "one", "U1", NOW)
    second = await store.add_tip("slack", "T1", "two", "U1", NOW)
    assert await store.week_tip("slack", "T1", "2026-W01") is None  # decided already, stays decided
    assert await store.week_tip("slack", "T1", "2026-W02") == {"id": first, "text": "one"}
    assert await store.week_tip("slack", "T1", "2026-W02") == {"id": first, "text": "one"}
    assert [t["id"] for t in await store.queued_tips("slack", "T1")] == [second]
    assert await store.remove_tip("slack", "T1", first) is False  # used: history now, not queue
    assert await store.week_tip("slack", "T1", "2026-W03") == {"id": second, "text": "two"}
    assert await store.week_tip("slack", "T2", "2026-W03") is None  # another workspace has its own queue


async def test_week_tip_race_over_many_weeks_never_uses_a_tip_twice(backend: Backend, store: Store) -> None:
    other = await backend.open()
    ids = [await store.add_tip("slack", "T1", f"tip {n}", "U1", NOW) for n in range(10)]
    weeks = [f"2026-W{w:02d}" for w in range(1, 13)]
    results = await asyncio.gather(
        *((store if i % 2 else other).week_tip("slack", "T1", weeks[i // 4]) for i in range(4 * len(weeks)))
    )
    by_week: dict[str, set] = {}
    for i, result in enumerate(results):
        by_week.setdefault(weeks[i // 4], set()).add(result["id"] if result else None)
    assert all(len(chosen) == 1 for chosen in by_week.values()), by_week
    used = [next(iter(chosen)) for chosen in by_week.values()]
    assert sorted(u for u in used if u is not None) == ids and used.count(None) == 2


async def test_tip_schedule_put_replace_get(store: Store) -> None:
    assert await store.get_tip_schedule("slack", "T1") is None
    await store.put_tip_schedule("slack", "T1", {"weekday": 4, "time": "14:30", "timezone": "Europe/Paris"}, NOW)
    await store.put_tip_schedule("slack", "T1", {"weekday": 0, "time": "09:00", "timezone": "UTC"}, NOW + 1)
    assert await store.get_tip_schedule("slack", "T1") == {"weekday": 0, "time": "09:00", "timezone": "UTC"}
    assert await store.get_tip_schedule("teams", "T1") is None


async def test_tip_subscriptions(store: Store) -> None:
    assert await store.subscribe_tips("slack", "C1", "T1", "C1:1700.1", NOW) is True
    assert await store.subscribe_tips("slack", "C1", "T1", "C1", NOW) is False
    assert (
        await store.subscribe_tips("teams", "19:x@thread.skype", "tenant", "19:x@thread.skype;messageid=1", NOW) is True
    )
    assert await store.tip_subscriptions() == [
        {
            "platform": "slack",
            "channel": "C1",
            "workspace": "T1",
            "conversation": "C1:1700.1",
        },  # the first request's place stays
        {
            "platform": "teams",
            "channel": "19:x@thread.skype",
            "workspace": "tenant",
            "conversation": "19:x@thread.skype;messageid=1",
        },
    ]
    assert await store.unsubscribe_tips("slack", "C1") is True
    assert await store.unsubscribe_tips("slack", "C1") is False
    assert [s["platform"] for s in await store.tip_subscriptions()] == ["teams"]


async def test_tip_post_claim_send_post(store: Store) -> None:
    args = ("slack", "C1", "2026-W10")
    assert await store.claim_tip_post(*args, "T1", "a", NOW, NOW + 600) is True
    assert await store.claim_tip_post(*args, "T1", "b", NOW + 1, NOW + 601) is False  # leased to "a"
    assert await store.start_tip_post(*args, "b", source="library", tip="x", text="X", now=NOW) is False
    assert await store.start_tip_post(*args, "a", source="manager", tip="7", text="Smile 😀", now=NOW) is True
    assert await store.claim_tip_post(*args, "T1", "c", NOW + 9999, NOW + 99999) is False  # sending: never taken over
    assert await store.finish_tip_post(*args, "a", NOW + 2) is True
    assert await store.finish_tip_post(*args, "a", NOW + 3) is False
    assert await store.claim_tip_post(*args, "T1", "d", NOW + 9999, NOW + 99999) is False
    assert (
        await store.claim_tip_post("slack", "C1", "2026-W11", "T1", "e", NOW, NOW + 600) is True
    )  # next week is its own
    (row,) = await store.tip_posts("slack", period="2026-W10")
    assert row == {
        "channel": "C1",
        "workspace": "T1",
        "period": "2026-W10",
        "state": "posted",
        "source": "manager",
        "tip": "7",
        "text": "Smile 😀",
        "claimed": NOW,
        "posted": NOW + 2,
        "lease_until": NOW + 600,
    }
    assert [r["period"] for r in await store.tip_posts("slack", channel="C1")] == ["2026-W10", "2026-W11"]
    assert [r["period"] for r in await store.tip_posts("slack", workspace="T1", channel="C1", period="2026-W11")] == [
        "2026-W11"
    ]
    assert await store.tip_posts("slack", workspace="T2") == [] and await store.tip_posts("teams") == []


async def test_tip_post_lease_expiry_and_retry(store: Store) -> None:
    args = ("teams", "19:c", "2026-W10")
    assert await store.claim_tip_post(*args, "T1", "a", NOW, NOW + 600) is True
    assert await store.claim_tip_post(*args, "T1", "b", NOW + 600, NOW + 1200) is False  # lease ends at, not before
    assert await store.claim_tip_post(*args, "T1", "b", NOW + 601, NOW + 1201) is True  # "a" died before sending
    assert await store.start_tip_post(*args, "a", source="library", tip="x", text="X", now=NOW + 602) is False
    assert await store.start_tip_post(*args, "b", source="library", tip="x", text="X", now=NOW + 602) is True
    assert await store.retry_tip_post(*args, "a", NOW + 2000) is False
    assert await store.retry_tip_post(*args, "b", NOW + 2000) is True  # the platform said no: try again later
    assert await store.claim_tip_post(*args, "T1", "c", NOW + 1999, NOW + 3000) is False
    assert await store.claim_tip_post(*args, "T1", "c", NOW + 2001, NOW + 3000) is True
    assert (await store.tip_posts("teams"))[0]["state"] == "claimed"


@pytest.mark.parametrize("round_", range(2))
async def test_tip_post_claim_race_has_exactly_one_winner(backend: Backend, store: Store, round_: int) -> None:
    other = await backend.open()
    results = await asyncio.gather(
        *(
            (store if i % 2 else other).claim_tip_post(
                "slack", "C1", f"2026-W{round_ + 1:02d}", "T1", f"t{i}", NOW, NOW + 600
            )
            for i in range(40)
        )
    )
    assert results.count(True) == 1


async def test_tips_survive_reopening(backend: Backend, store: Store) -> None:
    if not backend.durable:
        pytest.skip(f"{backend.name}: not durable by design")
    tip = await store.add_tip("slack", "T1", "kept", "U1", NOW)
    await store.put_tip_schedule("slack", "T1", {"weekday": 2}, NOW)
    await store.subscribe_tips("slack", "C1", "T1", "C1", NOW)
    await store.claim_tip_post("slack", "C1", "2026-W10", "T1", "a", NOW, NOW + 600)
    await store.close()
    backend.opened.remove(store)
    reopened = await backend.open()
    assert [t["id"] for t in await reopened.queued_tips("slack", "T1")] == [tip]
    assert await reopened.get_tip_schedule("slack", "T1") == {"weekday": 2}
    assert len(await reopened.tip_subscriptions()) == 1
    assert await reopened.claim_tip_post("slack", "C1", "2026-W10", "T1", "b", NOW + 1, NOW + 600) is False


# --- ping and close ------------------------------------------------------------------------------


async def test_ping_when_reachable(store: Store) -> None:
    assert await store.ping() is None


async def test_close(backend: Backend) -> None:
    store = await backend.open()
    await store.put_dialog("k", {"a": 1}, NOW)
    await store.close()
    backend.opened.remove(store)


# --- PostgreSQL only: migrations, advisory locks, lost connections -------------------------------


async def _connect(target: PgTarget, **kwargs: Any):
    from bot.store.postgres import PostgresStore

    return await PostgresStore.connect(dsn=kwargs.pop("dsn", target.dsn), schema=target.schema, **kwargs)


async def _admin(target: PgTarget) -> asyncpg.Connection:
    return await asyncpg.connect(target.dsn, timeout=5)


async def test_pg_copies_starting_at_once_migrate_once(pg_target: PgTarget) -> None:
    from bot.store.postgres import MIGRATIONS

    stores = await asyncio.gather(*(_connect(pg_target, min_size=1, max_size=2) for _ in range(6)))
    try:
        admin = await _admin(pg_target)
        try:
            versions = await admin.fetch(f'SELECT version FROM "{pg_target.schema}".schema_version ORDER BY version')
        finally:
            await admin.close()
        assert [row["version"] for row in versions] == [version for version, _ in MIGRATIONS]
        assert await stores[0].schema_version() == MIGRATIONS[-1][0]
        again = await _connect(pg_target)  # a restart finds nothing to do
        assert await again.schema_version() == MIGRATIONS[-1][0]
        await again.close()
    finally:
        for store in stores:
            await store.close()


async def test_pg_migration_waits_for_the_advisory_lock(pg_target: PgTarget) -> None:
    from bot.store.postgres import _lock_key

    admin = await _admin(pg_target)
    try:
        await admin.execute("SELECT pg_advisory_lock($1)", _lock_key("migrate", pg_target.schema))
        starting = asyncio.create_task(_connect(pg_target))
        await asyncio.sleep(0.5)
        assert not starting.done(), "connect() migrated without taking the advisory lock"
        await admin.execute("SELECT pg_advisory_unlock($1)", _lock_key("migrate", pg_target.schema))
        store = await asyncio.wait_for(starting, timeout=10)
        await store.close()
    finally:
        await admin.close()


async def test_pg_purge_runs_on_one_copy_at_a_time(pg_target: PgTarget) -> None:
    from bot.store.postgres import _lock_key

    store = await _connect(pg_target)
    admin = await _admin(pg_target)
    try:
        await store.put_dialog("old", {"n": 1}, NOW - 7200)
        await admin.execute("SELECT pg_advisory_lock($1)", _lock_key("purge-dialogs", pg_target.schema))
        assert await store.purge_dialogs(NOW) == 0  # another copy is purging: do not queue behind it
        assert await store.get_dialog("old") == {"n": 1}
        await admin.execute("SELECT pg_advisory_unlock($1)", _lock_key("purge-dialogs", pg_target.schema))
        assert await store.purge_dialogs(NOW) == 1
    finally:
        await admin.close()
        await store.close()


async def test_pg_connection_killed_by_server_recovers(pg_target: PgTarget) -> None:
    from bot.store.postgres import StoreUnavailable

    store = await _connect(pg_target, min_size=1, max_size=1, connect_timeout=2, command_timeout=2)
    admin = await _admin(pg_target)
    try:
        await store.put_dialog("k", {"a": 1}, NOW)
        pid = await store._run(lambda con: con.fetchval("SELECT pg_backend_pid()"))
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.2)
        try:
            await store.ping()  # may fail once: the turn in flight gets an apology
        except StoreUnavailable:
            pass
        assert await store.get_dialog("k") == {"a": 1}
        assert await store._run(lambda con: con.fetchval("SELECT pg_backend_pid()")) != pid
    finally:
        await admin.close()
        await store.close()


async def test_pg_server_gone_raises_fast_and_recovers(pg_target: PgTarget) -> None:
    from bot.store.postgres import StoreUnavailable

    proxy = TcpProxy.for_dsn(pg_target.dsn)
    await proxy.start()
    store = await _connect(
        pg_target, dsn=via(pg_target.dsn, proxy.host, proxy.port), connect_timeout=1, command_timeout=1
    )
    try:
        await store.put_dialog("k", {"a": 1}, NOW)
        await proxy.cut()
        for call in (store.ping, lambda: store.get_dialog("k"), lambda: store.claim("s", "k", NOW)):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await call()
            assert time.monotonic() - started < 3
        await proxy.restore()
        await _eventually(store.ping)
        assert await store.get_dialog("k") == {"a": 1}
    finally:
        await store.close()
        await proxy.stop()


async def test_pg_silent_server_times_out_instead_of_hanging(pg_target: PgTarget) -> None:
    from bot.store.postgres import StoreUnavailable

    proxy = TcpProxy.for_dsn(pg_target.dsn)
    await proxy.start()
    store = await _connect(
        pg_target, dsn=via(pg_target.dsn, proxy.host, proxy.port), connect_timeout=1, command_timeout=1
    )
    try:
        await store.ping()
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.get_dialog("k"), timeout=10)
        assert time.monotonic() - started < 4
        proxy.thaw()
        await _eventually(store.ping)
        await store.put_dialog("k", {"back": True}, NOW)
        assert await store.get_dialog("k") == {"back": True}
    finally:
        await store.close()
        await proxy.stop()


async def test_pg_connect_to_nothing_raises_store_unavailable(pg_target: PgTarget) -> None:
    from bot.store.postgres import StoreUnavailable

    proxy = TcpProxy.for_dsn(pg_target.dsn)
    await proxy.start()
    closed = via(pg_target.dsn, proxy.host, proxy.port)
    await proxy.stop()  # the port is now closed
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await _connect(pg_target, dsn=closed, connect_timeout=1)
    assert time.monotonic() - started < 3


async def test_skip_reason_names_the_server_and_the_variable() -> None:
    reason = await probe("postgresql://someone:secret@127.0.0.1:1/test", timeout=1)
    assert reason is not None
    assert "127.0.0.1:1" in reason and DSN_ENV in reason
    assert "secret" not in reason
    assert await probe("postgresql://someone@127.0.0.1:1/test", timeout=1) is not None


async def _eventually(call: Callable[[], Awaitable[Any]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await call()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_sqlite_file_from_before_versions_keeps_its_dialogs(tmp_path: Path) -> None:
    """A file made by the previous release (user_version 1, dialogs without a version) is upgraded in place."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE dialogs (key TEXT PRIMARY KEY, state TEXT NOT NULL, touched REAL NOT NULL);CREATE TABLE claims "
        "(scope TEXT NOT NULL, key TEXT NOT NULL, made REAL NOT NULL, PRIMARY KEY (scope, key)) WITHOUT ROWID;"
        """INSERT INTO dialogs VALUES ('k', '{"step": 1}', 1.0); PRAGMA user_version = 1;"""
    )
    db.close()
    store = SQLiteStore(path=path)
    try:
        assert await store.load_dialog("k") == ({"step": 1}, 1)
        assert await store.save_dialog("k", {"step": 2}, NOW, version=1)
    finally:
        await store.close()


async def test_claims_made_with_a_turn_are_all_or_nothing(store: Store) -> None:
    from bot.errors import AlreadyClaimed

    assert await store.save_dialog("k", {"n": 1}, NOW, version=0, claims=[("ev", "e1")], outbox=[outbox_item("o1")])
    with pytest.raises(AlreadyClaimed):  # a retry of the same delivery: nothing of it is written
        await store.save_dialog("k", {"n": 2}, NOW, version=1, claims=[("ev", "e1")], outbox=[outbox_item("o2")])
    assert await store.get_dialog("k") == {"n": 1}
    assert not await store.save_dialog(
        "k", {"n": 3}, NOW, version=0, claims=[("ev", "e2")]
    )  # lost the race: claim rolled back
    assert await store.claim("ev", "e2", NOW)
    await store.put_outbox([outbox_item("o3")], NOW, claims=[("ev", "e3")])
    with pytest.raises(AlreadyClaimed):
        await store.put_outbox([outbox_item("o4")], NOW, claims=[("ev", "e3")])
    assert not await store.claim("ev", "e3", NOW)
    assert sorted(i["id"] for i in await store.claim_outbox("slack", "s", NOW + 60, NOW + 90, 10)) == ["o1", "o3"]


# --- feedback counts (bot/report.py) ------------------------------------------------------------


async def test_tallies_add_up_per_week_team_metric_and_key(store: Store) -> None:
    for _ in range(3):
        await store.tally("2026-W49", "slack:T1", "confirmed", "all")
    await store.tally("2026-W49", "slack:T1", "corrected", "interaction:critical>planned")
    await store.tally("2026-W49", "teams:tenant", "confirmed", "all")
    await store.tally("2026-W48", "slack:T1", "confirmed", "all")
    rows = await store.tallies(["2026-W49"], "slack:T1")
    assert {(r["metric"], r["key"]): r["n"] for r in rows} == {
        ("confirmed", "all"): 3,
        ("corrected", "interaction:critical>planned"): 1,
    }
    everyone = await store.tallies(["2026-W48", "2026-W49"])
    assert sum(r["n"] for r in everyone if r["metric"] == "confirmed") == 5
    assert await store.tallies([]) == []


async def test_tallies_from_two_instances_at_once_lose_nothing(backend: Backend, store: Store) -> None:
    other = store if not backend.shared else await backend.open()
    await asyncio.gather(
        *(s.tally("2026-W49", "slack:T1", "confirmed", "all") for _ in range(100) for s in (store, other))
    )
    (row,) = await store.tallies(["2026-W49"])
    assert row["n"] == 200


async def test_counts_made_with_a_save_land_with_it_or_not_at_all(store: Store) -> None:
    count = ("2026-W49", "slack:T1", "confirmed", "all")
    assert await store.save_dialog("k", {"n": 1}, NOW, version=0, counts=[count, count])
    assert not await store.save_dialog("k", {"n": 2}, NOW, version=0, counts=[count])  # lost the race: nothing counted
    (row,) = await store.tallies(["2026-W49"])
    assert row["n"] == 2
