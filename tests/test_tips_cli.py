"""``python app.py tips run --at`` and the weekly job inside ``serve``, as real processes against the loopback fakes."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.store.sqlite import SQLiteStore
from tests.fakes.bf_connector import FakeConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.pg import PgTarget
from tests.test_multi_copy import database_url
from tests.test_slack_http import SECRET
from tests.test_teams_http import fixture as teams_fixture
from tests.test_weekly_tips import SLACK_CHANNEL, SLACK_TEAM, TEAMS_CHANNEL, TEAMS_TENANT, slack_posts, teams_posts

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC).timestamp()


def environment(tmp_path: Path, api: FakeSlackApi, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "Microsoft", "COACH_", "DATABASE_URL"))}
    env.update(
        COACH_DB=str(tmp_path / "coach.sqlite3"),
        HOME=str(tmp_path),
        COACH_TIMEZONE="Europe/Paris",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api.url,
    )
    env.update(extra)
    return env


async def subscribed(tmp_path: Path, connector: FakeConnector, *, slack_schedule: dict | None = None) -> None:
    """A store as the bot leaves it after a manager subscribed a Slack and a Teams channel and queued a tip."""
    await subscribe_both(SQLiteStore(path=tmp_path / "coach.sqlite3"), connector, slack_schedule=slack_schedule)


async def subscribe_both(store, connector: FakeConnector, *, slack_schedule: dict | None = None) -> None:
    """Subscribe a Slack and a Teams channel and queue one tip, in ``store``; then close it."""
    await store.subscribe_tips("slack", SLACK_CHANNEL, SLACK_TEAM, SLACK_CHANNEL, NOW)
    await store.add_tip("slack", SLACK_TEAM, "Say the customer's name twice.", "W111", NOW)
    if slack_schedule:
        await store.put_tip_schedule("slack", SLACK_TEAM, slack_schedule, NOW)
    activity = teams_fixture("message_channel_mention.json", connector.url)
    reference = TurnContext.get_conversation_reference(Activity().deserialize(activity))
    reference.conversation.tenant_id = TEAMS_TENANT
    await store.put_conversation("teams", activity["conversation"]["id"], reference.serialize(), NOW)
    await store.subscribe_tips("teams", TEAMS_CHANNEL, TEAMS_TENANT, activity["conversation"]["id"], NOW)
    await store.close()


async def app(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "app.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_tips_run_at_posts_what_is_due_once(tmp_path: Path, api: FakeSlackApi, connector: FakeConnector):
    await subscribed(tmp_path, connector, slack_schedule={"weekday": 4, "time": "14:30", "timezone": "Europe/Paris"})
    env = environment(tmp_path, api)

    code, out, err = await app("tips", "run", "--at", "2026-11-20T14:29", env=env)  # no offset: COACH_TIMEZONE
    assert code == 0, err
    assert f"posted   teams {TEAMS_CHANNEL}" in out and f"skipped  slack {SLACK_CHANNEL}: not due yet" in out
    code, out, err = await app("tips", "run", "--at", "2026-11-20T13:31:00+00:00", env=env)  # 14:31 in Paris
    assert code == 0, err
    assert f"posted   slack {SLACK_CHANNEL}" in out and "posted 1, skipped 1, failed 0" in out
    code, out, _ = await app("tips", "run", "--at", "2026-11-22T23:00", env=env)
    assert "posted 0, skipped 2" in out
    assert slack_posts(api) == [(SLACK_CHANNEL, "Say the customer's name twice.")]
    assert [conversation for conversation, _ in teams_posts(connector)] == [TEAMS_CHANNEL]
    assert "Say the customer" not in err  # tips are stored, never logged


async def test_two_copies_on_postgresql_post_once_per_channel(
    tmp_path: Path, api: FakeSlackApi, connector: FakeConnector, pg_target: PgTarget
):
    """Two ``tips run`` processes for the same week at the same moment, one database: one post per channel."""
    from bot.store.postgres import PostgresStore

    await subscribe_both(await PostgresStore.connect(dsn=pg_target.dsn, schema=pg_target.schema), connector)
    env = environment(tmp_path, api, DATABASE_URL=database_url(pg_target.dsn, pg_target.schema))
    runs = await asyncio.gather(*(app("tips", "run", "--at", "2026-11-20T13:31:00+00:00", env=env) for _ in range(2)))
    assert [code for code, _, _ in runs] == [0, 0], [err for _, _, err in runs]
    assert sum(out.count("posted   ") for _, out, _ in runs) == 2  # each channel posted by exactly one copy
    assert slack_posts(api) == [(SLACK_CHANNEL, "Say the customer's name twice.")]
    assert [conversation for conversation, _ in teams_posts(connector)] == [TEAMS_CHANNEL]


@pytest.mark.parametrize(
    "args, extra, message",
    [
        (["--at", "next friday"], {}, "is not an ISO 8601 time"),
        ([], {"COACH_TIMEZONE": "Europe/Atlantis"}, "COACH_TIMEZONE='Europe/Atlantis' is not an IANA time zone"),
        ([], {"COACH_MANAGERS": "slack:U024BE7LH,U999"}, "COACH_MANAGERS: 'U999' is not platform:id"),
    ],
)
async def test_tips_run_refuses_bad_settings_clearly(
    tmp_path: Path, api: FakeSlackApi, args: list[str], extra: dict[str, str], message: str
):
    code, _, err = await app("tips", "run", *args, env=environment(tmp_path, api, **extra))
    assert code == 2 and message in err


async def serve_once(env: dict[str, str], *, until) -> str:
    """Start ``app.py serve``, await ``until()`` once it listens, stop it with SIGTERM; its log."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", "serve", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    log = []
    try:
        while not any("serving on" in line for line in log):
            line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
            assert line, "".join(log)
            log.append(line.decode())
        await until()
    finally:
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stderr.read(), timeout=30)
        await process.wait()
    return "".join(log) + rest.decode()


@pytest.mark.slow
async def test_serve_posts_on_its_own_schedule_once_across_a_restart(
    tmp_path: Path, api: FakeSlackApi, connector: FakeConnector
):
    now = dt.datetime.now(dt.UTC)
    this_minute = {"weekday": now.weekday(), "time": f"{now:%H:%M}", "timezone": "UTC"}  # due from now on, this week
    await subscribed(tmp_path, connector, slack_schedule=this_minute)
    env = environment(tmp_path, api, PORT="0", COACH_TIMEZONE="UTC")
    store = SQLiteStore(path=tmp_path / "coach.sqlite3")
    await store.put_tip_schedule("teams", TEAMS_TENANT, this_minute, now.timestamp())
    await store.close()

    async def both_posted() -> None:
        await api.wait_for("chat.postMessage", timeout=15)
        await connector.wait_for(1, timeout=15)

    log = await serve_once(env, until=both_posted)
    assert "weekly tips: posted 2, skipped 0, failed 0" in log
    log = await serve_once(
        env, until=lambda: asyncio.sleep(1.5)
    )  # a restart in the same week: its first run finds both done
    assert slack_posts(api) == [(SLACK_CHANNEL, "Say the customer's name twice.")]
    assert len(teams_posts(connector)) == 1
    assert "Say the customer" not in log
