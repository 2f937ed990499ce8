"""Operations: /healthz, /readyz and /metrics, turn metrics and the store's apology, DATABASE_URL, graceful shutdown.

Most tests run in-process on loopback. The last ones start ``python app.py serve`` on SQLite with Slack
pointed at the fake Web API; they need complete knowledge (the shipped folder, or it with
COACH_KNOWLEDGE_DIR laid over) and skip, saying so, while it is not.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from adapters.server import listen_host, mount_ops
from adapters.settings import Settings
from adapters.teams import TeamsConfig
from bot.coach import STORE_APOLOGY, Coach
from bot.errors import CoachError, KnowledgeError, StoreUnavailable
from bot.messages import Incoming, Reply
from bot.metrics import MeteredStore, Metrics
from bot.store.connect import dsn_and_schema, open_store
from bot.store.memory import MemoryStore
from tests.fakes.slack_api import FakeSlackApi
from tests.pg import PgTarget
from tests.test_slack_http import SECRET, SECRET_WORDS, Harness

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_795_000_000.0


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` with these labels in a Prometheus text exposition (0 when none)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def say(text: str = "hello", platform: str = "slack") -> Incoming:
    return Incoming(platform=platform, workspace="W1", conversation="C1", user="U1", text=text)


class FailingStore(MemoryStore):
    """A memory store that can be switched to "database gone"."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def get_dialog(self, key: str):
        if self.down:
            raise StoreUnavailable("PostgreSQL unavailable: ConnectionRefusedError")
        return await super().get_dialog(key)

    async def load_dialog(self, key: str):
        if self.down:
            raise StoreUnavailable("PostgreSQL unavailable: ConnectionRefusedError")
        return await super().load_dialog(key)

    async def ping(self) -> None:
        if self.down:
            raise StoreUnavailable("PostgreSQL unavailable: ConnectionRefusedError")


class StubCoach:
    """Just what ``Coach.handle``'s guard and the ops routes use: ``_handle``, ``meter``, ``store``, ``knowledge``."""

    def __init__(self, store: Any, *, fail: BaseException | None = None) -> None:
        self.store = store
        self.meter: Metrics | None = None
        self.fail = fail
        self.knowledge = type("Knowledge", (), {"scripts": {("critical", "angry"): 1}, "questions": {"contact": 1}})()

    async def _handle(self, incoming: Incoming, outbox: Any = None, claims: Any = ()) -> list[Reply]:
        if self.fail is not None:
            raise self.fail
        await self.store.get_dialog(incoming.dialog_key)
        return [Reply(kind="question", title="Q1"), Reply(kind="info", title="note")]


# ---------------------------------------------------------------------------------------- the turn guard


async def test_turn_counts_replies_by_platform_and_kind():
    metrics = Metrics()
    coach = StubCoach(MemoryStore())
    coach.meter = metrics
    replies = await Coach.handle(coach, say(platform="teams"))
    assert [r.kind for r in replies] == ["question", "info"]
    text = metrics.render()[0].decode()
    assert sample(text, "coach_turns_total", platform="teams") == 1
    assert sample(text, "coach_replies_total", platform="teams", kind="question") == 1
    assert sample(text, "coach_turn_seconds_count", platform="teams") == 1
    assert sample(text, "coach_turns_in_flight") == 0


async def test_lost_store_gives_an_apology_and_counts_an_error():
    store = FailingStore()
    store.down = True
    metrics = Metrics()
    coach = StubCoach(store)
    coach.meter = metrics
    assert await Coach.handle(coach, say()) == [STORE_APOLOGY]
    assert STORE_APOLOGY.kind == "error" and STORE_APOLOGY.private and len(STORE_APOLOGY.title) < 60
    text = metrics.render()[0].decode()
    assert sample(text, "coach_errors_total", source="slack", error="StoreUnavailable") == 1
    assert sample(text, "coach_replies_total", platform="slack", kind="error") == 1


async def test_other_errors_still_raise_and_are_counted():
    metrics = Metrics()
    coach = StubCoach(MemoryStore(), fail=RuntimeError("the agent's words"))
    coach.meter = metrics
    with pytest.raises(RuntimeError):
        await Coach.handle(coach, say())
    text = metrics.render()[0].decode()
    assert sample(text, "coach_errors_total", source="slack", error="RuntimeError") == 1
    assert sample(text, "coach_turns_in_flight") == 0


async def test_guard_works_without_metrics():
    store = FailingStore()
    store.down = True
    assert await Coach.handle(StubCoach(store), say()) == [STORE_APOLOGY]


async def test_real_coach_apologises_when_its_store_is_gone():
    try:
        from tests.conftest import shipped_knowledge

        knowledge = shipped_knowledge()
    except KnowledgeError:
        pytest.skip("the shipped knowledge is not complete in this tree yet")
    store = FailingStore()
    coach = Coach(knowledge=knowledge, store=store)
    store.down = True
    assert await coach.handle(say("customer is furious about a late delivery")) == [STORE_APOLOGY]
    store.down = False
    assert (await coach.handle(say("customer is furious about a late delivery")))[0].kind in ("answer", "question")


# ---------------------------------------------------------------------------------------- metrics and the metered store


async def test_each_metrics_has_its_own_registry():
    first, second = Metrics(), Metrics()
    first.turns.labels("slack").inc()
    assert sample(first.render()[0].decode(), "coach_turns_total", platform="slack") == 1
    assert sample(second.render()[0].decode(), "coach_turns_total", platform="slack") == 0


async def test_metered_store_counts_lost_claims_and_identified_types():
    metrics = Metrics()
    store = MeteredStore(inner=MemoryStore(), metrics=metrics)
    assert await store.claim("slack-event", "Ev1", NOW)
    assert not await store.claim("slack-event", "Ev1", NOW)
    assert not await store.claim("slack-event", "Ev1", NOW)
    await store.count_identified("2026-W48", "critical", "angry")
    await store.put_dialog("k", {"a": 1}, NOW)
    assert await store.get_dialog("k") == {"a": 1}
    assert await store.identified_counts("2026-W48") == {("critical", "angry"): 1}
    text = metrics.render()[0].decode()
    assert sample(text, "coach_dedupe_hits_total", scope="slack-event") == 2
    assert sample(text, "coach_identified_total", interaction="critical", customer="angry") == 1


async def test_metered_store_forwards_what_is_beyond_the_contract():
    inner = MemoryStore()
    inner.schema = "coach"  # as PostgresStore has
    assert MeteredStore(inner=inner, metrics=Metrics()).schema == "coach"


async def test_drain_waits_for_a_turn_task_until_its_replies_are_sent():
    metrics = Metrics()
    sent: list[str] = []

    async def listener() -> None:  # what Bolt runs after the ack: the turn, then the post
        started = metrics.turn_started()
        metrics.turn_finished("slack", started, [])
        await asyncio.sleep(0.2)
        sent.append("posted")

    task = asyncio.create_task(listener())
    await asyncio.sleep(0.01)
    assert await metrics.drain(5) == 0
    assert sent == ["posted"] and task.done()


async def test_drain_gives_up_after_its_timeout():
    metrics = Metrics()

    async def stuck() -> None:
        metrics.turn_started()
        await asyncio.sleep(30)

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0.01)
    started = time.monotonic()
    assert await metrics.drain(0.2) == 1
    assert time.monotonic() - started < 2
    task.cancel()


# ---------------------------------------------------------------------------------------- the routes


@pytest.fixture
async def ops():
    store = FailingStore()
    metrics = Metrics()
    coach = StubCoach(MeteredStore(inner=store, metrics=metrics))
    coach.meter = metrics
    app = web.Application()
    mount_ops(app, coach=coach, metrics=metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with aiohttp.ClientSession() as session:
        yield session, url, store, coach, metrics
    await runner.cleanup()


async def test_healthz_readyz_and_metrics(ops):
    session, url, store, coach, metrics = ops
    async with session.get(url + "/healthz") as response:
        assert response.status == 200
    async with session.get(url + "/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"ready": True, "knowledge": "ok", "storage": "ok"}
    await Coach.handle(coach, say())
    await coach.store.claim("slack-event", "Ev1", NOW)
    await coach.store.claim("slack-event", "Ev1", NOW)
    await coach.store.count_identified("2026-W48", "planned", "loyal")
    async with session.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    families = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "coach_turns",
        "coach_replies",
        "coach_turn_seconds",
        "coach_turns_in_flight",
        "coach_identified",
        "coach_dedupe_hits",
        "coach_errors",
        "coach_ready",
    } <= families
    assert sample(text, "coach_turns_total", platform="slack") == 1
    assert sample(text, "coach_turn_seconds_bucket", platform="slack", le="+Inf") == 1
    assert sample(text, "coach_dedupe_hits_total", scope="slack-event") == 1
    assert sample(text, "coach_identified_total", interaction="planned", customer="loyal") == 1
    assert sample(text, "coach_ready") == 1


async def test_readyz_is_503_while_storage_is_gone_and_200_when_back(ops):
    session, url, store, _, metrics = ops
    store.down = True
    async with session.get(url + "/readyz") as response:
        assert response.status == 503
        assert await response.json() == {"ready": False, "knowledge": "ok", "storage": "StoreUnavailable"}
    async with session.get(url + "/healthz") as response:
        assert response.status == 200  # alive: not to be restarted for a database outage
    assert sample(metrics.render()[0].decode(), "coach_ready") == 0
    store.down = False
    async with session.get(url + "/readyz") as response:
        assert response.status == 200


async def test_readyz_times_out_on_a_silent_store(ops, monkeypatch):
    session, url, store, _, _ = ops
    monkeypatch.setattr("adapters.server.PING_TIMEOUT", 0.1)

    async def hang() -> None:
        await asyncio.sleep(10)

    store.ping = hang
    async with session.get(url + "/readyz") as response:
        assert response.status == 503 and (await response.json())["storage"] == "timeout"


async def test_readyz_needs_knowledge(ops):
    session, url, _, coach, _ = ops
    coach.knowledge = None
    async with session.get(url + "/readyz") as response:
        assert response.status == 503 and (await response.json())["knowledge"] == "not loaded"


# ---------------------------------------------------------------------------------------- where it listens


def test_without_an_app_id_the_server_listens_on_loopback_unless_host_says_otherwise(caplog: pytest.LogCaptureFixture):
    authenticated = TeamsConfig(app_id="00000000-0000-0000-0000-000000000001", app_password="x")
    assert listen_host(None, authenticated) == "0.0.0.0"
    assert listen_host("10.0.0.5", authenticated) == "10.0.0.5"
    assert not caplog.records
    assert listen_host(None, TeamsConfig()) == "127.0.0.1"  # Slack-only included: Teams is always served
    assert "listening on 127.0.0.1 only" in caplog.text
    caplog.clear()
    assert listen_host("127.0.0.1", TeamsConfig()) == "127.0.0.1"
    assert not caplog.records
    assert listen_host("0.0.0.0", TeamsConfig()) == "0.0.0.0"
    assert "takes anyone's activity" in caplog.text


# ---------------------------------------------------------------------------------------- DATABASE_URL


def test_search_path_in_database_url_names_the_schema():
    assert dsn_and_schema("postgresql://u@h:5432/db?search_path=coach&sslmode=disable") == (
        "postgresql://u@h:5432/db?sslmode=disable",
        "coach",
    )
    assert dsn_and_schema("postgres://u@h/db") == ("postgres://u@h/db", None)
    assert dsn_and_schema("postgresql://u@h/db?search_path=a,b") == ("postgresql://u@h/db?search_path=a,b", None)
    with pytest.raises(CoachError, match="postgresql://"):
        dsn_and_schema("mysql://u@h/db")


def settings(database_url: str | None, tmp_path: Path) -> dict[str, Any]:
    """What ``open_store`` gets from the settings read out of DATABASE_URL and COACH_DB."""
    read = Settings.from_env(
        {"DATABASE_URL": database_url, "COACH_DB": str(tmp_path / "c.db")}
        if database_url
        else {"COACH_DB": str(tmp_path / "c.db")}
    )
    return {"database_url": read.database_url, "db_path": read.db_path}


async def test_open_store_without_database_url_is_sqlite(tmp_path: Path):
    store = await open_store(**settings(None, tmp_path))
    try:
        assert type(store).__name__ == "SQLiteStore"
    finally:
        await store.close()


async def test_open_store_on_a_refusing_server_is_a_clear_error(pg_target: PgTarget, tmp_path: Path):
    parts = urlsplit(pg_target.dsn)
    url = urlunsplit(parts._replace(netloc=f"no_such_role_x@{parts.hostname}:{parts.port or 5432}"))
    with pytest.raises(CoachError, match="refused"):
        await open_store(**settings(url, tmp_path))


async def test_open_store_on_no_server_is_unavailable(tmp_path: Path):
    with pytest.raises(StoreUnavailable):
        await open_store(**settings("postgresql://postgres@127.0.0.1:1/test", tmp_path))


async def test_open_store_keeps_tables_in_the_search_path_schema(pg_target: PgTarget, tmp_path: Path):
    sep = "&" if "?" in pg_target.dsn else "?"
    store = await open_store(**settings(f"{pg_target.dsn}{sep}search_path={pg_target.schema}", tmp_path))
    try:
        assert store.schema == pg_target.schema
        await store.put_dialog("k", {"a": 1}, NOW)
        assert await store.get_dialog("k") == {"a": 1}
    finally:
        await store.close()


# ---------------------------------------------------------------------------------------- python app.py serve


def knowledge_or_skip() -> None:
    """Skip unless the knowledge a served copy would load (shipped, with COACH_KNOWLEDGE_DIR over it) is complete."""
    from bot.knowledge import load_knowledge

    try:
        load_knowledge(overlay=os.environ.get("COACH_KNOWLEDGE_DIR") or None)
    except KnowledgeError as error:
        pytest.skip(
            f"the knowledge a served copy would load is not complete yet ({len(error.problems)} problem(s)); python "
            "app.py check-knowledge"
        )


class Served:
    """One ``python app.py serve`` child process; its log lines are collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.url = ""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    @classmethod
    async def start(cls, env: dict[str, str], *, timeout: float = 60.0) -> Served:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "app.py"),
            "serve",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        served = cls(process)
        deadline = time.monotonic() + timeout
        while not served.url:
            for line in served.lines:
                if "serving on http://" in line:
                    served.url = line.split("serving on ", 1)[1].split(" ", 1)[0]
            if process.returncode is not None or time.monotonic() > deadline:
                await served.stop()
                raise AssertionError(f"serve did not start (exit {process.returncode}):\n{served.log}")
            await asyncio.sleep(0.05)
        return served

    async def status(self, session: aiohttp.ClientSession, path: str) -> int:
        try:
            async with session.get(self.url + path, timeout=aiohttp.ClientTimeout(total=5)) as response:
                return response.status
        except (TimeoutError, aiohttp.ClientError):
            return 0

    async def until(self, session: aiohttp.ClientSession, path: str, status: int, *, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while (got := await self.status(session, path)) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} answered {got}, not {status}, after {within}s:\n{self.log}")
            await asyncio.sleep(0.1)

    async def metrics(self, session: aiohttp.ClientSession) -> str:
        async with session.get(self.url + "/metrics") as response:
            return await response.text()

    async def stop(self, *, timeout: float = 30.0) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        await asyncio.wait_for(self._reader, 5)
        return code


def serve_env(api: FakeSlackApi, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a served copy: the caller's, minus any platform or database settings, plus these."""
    drop = ("SLACK_", "Microsoft", "DATABASE_URL", "COACH_DB", "PORT", "HOST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        PORT="0",
        HOST="127.0.0.1",
        LOG_LEVEL="INFO",
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        PYTHONUNBUFFERED="1",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api.url,
    )
    env.update(extra)
    return env


class SlowSlackApi(FakeSlackApi):
    """The fake Web API, taking ``delay`` seconds over each chat.postMessage (a reply still being sent at SIGTERM)."""

    delay: float = 0.0

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage":
            await asyncio.sleep(self.delay)
        return await super()._api(request)


async def test_sigterm_finishes_the_turn_in_flight_then_exits(tmp_path: Path):
    knowledge_or_skip()
    api = await SlowSlackApi().start()
    served = await Served.start(serve_env(api, tmp_path, COACH_DB=str(tmp_path / "coach.db")))
    try:
        async with aiohttp.ClientSession() as session:
            await served.until(session, "/readyz", 200)
            slack = Harness(api, served.url, session, None)
            await slack.event(
                slack.fresh("event_message_im.json", text="hello", ts="1700000001.000001")
            )  # warms Bolt up (auth.test)
            await api.wait_for("chat.postMessage")
            api.delay = 1.5
            dm = slack.fresh("event_message_im.json", text=SECRET_WORDS, ts="1700000001.000002")
            dm["event"].pop("blocks", None)
            assert (await slack.event(dm))[0] == 200  # acked; the turn and its reply go on after
            await asyncio.sleep(0.2)
            served.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert await served.status(session, "/healthz") == 0  # no longer listening
            assert await asyncio.wait_for(served.process.wait(), 30) == 0
        await api.wait_for("chat.postMessage", 2, timeout=1)  # the reply went out before the exit
        assert "stopped" in served.lines[-1]
        assert "Zyxwv" not in served.log and "Quimby" not in served.log  # ids and types only, never the words
    finally:
        await served.stop()
        await api.stop()
