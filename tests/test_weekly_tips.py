"""Weekly tips end to end on the real Slack and Teams adapters, the loopback fakes, and a store on disk.

Managers talk to the bot through signed Slack slash commands and Teams activities; the weekly job
posts through the real posters (chat.postMessage to the fake Slack Web API, continue_conversation to
the fake Bot Framework connector). Time is simulated: each run is given the moment to act as of.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import slack_config, translate, web_client
from adapters.slack.weekly import SlackPoster
from adapters.teams import TeamsConfig, mount_teams
from adapters.teams.weekly import TeamsPoster
from bot.coach import Coach
from bot.store.sqlite import SQLiteStore
from bot.tips import Managers
from bot.weekly import LEASE, RETRY_AFTER, WeeklyJob
from tests.conftest import Clock, shipped_knowledge
from tests.fakes.bf_connector import FakeConnector, serve
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi
from tests.pg import PgTarget
from tests.test_slack_http import FORM, SECRET, Harness, blocks_of, fixture_text, header, start_bot
from tests.test_teams_http import fixture as teams_fixture

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
# Who is who in the fixtures: the slash command comes from W111 in C111 of T111; the Teams channel
# mention from Dave (AAD 6b703ce3-…); the Teams personal message from another person.
SLACK_TEAM, SLACK_CHANNEL, SLACK_MANAGER, GROUP, GROUP_MEMBER = "T111", "C111", "W111", "S0614TZR7", "U0GROUPMGR"
TEAMS_MANAGER = "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4"
TEAMS_CHANNEL = "19:097e6717fd7245bdbeba6baa13840db8@thread.skype"
TEAMS_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MANAGERS = f"slack:{SLACK_MANAGER}, slack:{GROUP}, teams:{TEAMS_MANAGER}"


def make_posters(store: Any, api: FakeSlackApi) -> dict[str, Any]:
    client = web_client(
        slack_config({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url})
    )
    return {"slack": SlackPoster(client=client), "teams": TeamsPoster(config=TeamsConfig(), store=store)}


def make_job(store: Any, api: FakeSlackApi) -> WeeklyJob:
    return WeeklyJob(
        store=store, library=shipped_knowledge().tips, posters=make_posters(store, api), default_timezone="Europe/Paris"
    )


class Bot:
    """One copy of the bot: a store on ``path``, the Coach, Slack and Teams mounted, the weekly job."""

    def __init__(self, api: FakeSlackApi, connector: FakeConnector, path: Path) -> None:
        self.api, self.connector, self.path = api, connector, path
        self.clock = Clock(dt.datetime(2026, 11, 18, 10, 0, tzinfo=UTC).timestamp())

    async def start(self, store: Any = None) -> Bot:
        """Start (again): by default on a new SQLite store instance on the same file, as a restarted process would."""
        self.store = store or SQLiteStore(path=self.path)
        self.coach = Coach(
            knowledge=shipped_knowledge(),
            store=self.store,
            clock=self.clock,
            managers=Managers.parse(MANAGERS),
            timezone="Europe/Paris",
            posters=make_posters(self.store, self.api),
        )
        self.job = self.coach.tips.job
        self.slack_runner, slack_url = await start_bot(self.api, self.coach)
        teams_app = web.Application()
        mount_teams(teams_app, self.coach, TeamsConfig())
        self.teams_runner, self.teams_url = await serve(teams_app)
        self.session = aiohttp.ClientSession()
        self.slack = Harness(self.api, slack_url, self.session, self.coach)
        self._ids = 0
        return self

    async def stop(self) -> None:
        await self.session.close()
        await self.slack_runner.cleanup()
        await self.teams_runner.cleanup()
        await self.job.posters["teams"].close()
        await self.store.close()

    async def slash(self, text: str, *, user: str = SLACK_MANAGER) -> dict[str, Any]:
        """``/tip TEXT`` from ``user`` in C111; the ephemeral answer's blocks."""
        self._ids += 1
        fields = dict(parse_qsl(fixture_text("slash_command.form.txt"), keep_blank_values=True))
        fields.update(command="/tip", text=text, user_id=user, response_url=self.api.response_url(f"r{self._ids}"))
        before = len(self.api.of(RESPONSE_URL))
        status, _ = await self.slack.post(urlencode(fields), content_type=FORM)
        assert status == 200
        sent = (await self.api.wait_for(RESPONSE_URL, before + 1))[-1]
        assert sent.body["response_type"] == "ephemeral"
        return sent.body

    async def teams(self, text: str, *, name: str = "message_channel_mention.json") -> dict[str, Any]:
        """A Teams message (a channel @mention by default); the card of the one reply."""
        self._ids += 1
        body = teams_fixture(name, self.connector.url)
        body["id"] = f"activity-{self._ids}"
        body["text"] = ("<at>My Combined</at> " if "channel" in name else "") + text
        before = len(self.connector.sent)
        async with self.session.post(self.teams_url + "/api/messages", json=body) as response:
            assert response.status == 201
        (sent,) = self.connector.sent[before:]
        return sent.body["attachments"][0]["content"]

    async def run(self, at: dt.datetime):
        return await self.job.run(at)


def text_of(blocks: list[dict[str, Any]]) -> str:
    """Every section's text, one after the other (what the person reads under the header)."""
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def card_title(card: dict[str, Any]) -> str:
    return card["body"][0]["items"][0]["text"]


def card_text(card: dict[str, Any]) -> str:
    return card["body"][0]["items"][1]["text"]


def slack_posts(api: FakeSlackApi) -> list[tuple[str, str]]:
    """(channel, tip text as Slack shows it) of every chat.postMessage."""
    found = []
    for call in api.of("chat.postMessage"):
        blocks = blocks_of(call)
        assert header(blocks) == "Tip of the week"
        found.append((call.body["channel"], blocks[1]["text"]["text"]))
    return found


def teams_posts(connector: FakeConnector) -> list[tuple[str, str]]:
    """(conversation, tip text) of every new (not a reply) Teams post."""
    return [
        (s.conversation_id, card_text(s.body["attachments"][0]["content"]))
        for s in connector.sent
        if s.reply_to_id is None
    ]


@pytest.fixture
async def api():
    fake = await FakeSlackApi().start()
    fake.usergroups[GROUP] = [GROUP_MEMBER, "U0SOMEONE"]
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(api: FakeSlackApi, connector: FakeConnector, tmp_path: Path):
    running = await Bot(api, connector, tmp_path / "coach.sqlite3").start()
    yield running
    await running.stop()


async def subscribe_both(bot: Bot) -> None:
    assert header((await bot.slash("subscribe"))["blocks"]) == "This channel now gets the weekly tip."
    assert card_title(await bot.teams("tip subscribe")) == "This channel now gets the weekly tip."


# --- managers and the commands --------------------------------------------------------------------


async def test_manager_adds_and_schedules_a_non_manager_is_refused_and_the_post_reaches_both_after_a_restart(
    bot: Bot, api: FakeSlackApi, connector: FakeConnector
):
    refused = await bot.slash("add Buy everyone donuts", user="U0NOBODY")
    assert header(refused["blocks"]) == "Sorry, that one is for managers."
    assert (
        card_title(await bot.teams("tip add Buy donuts", name="message_personal.json"))
        == "Sorry, that one is for managers."
    )
    assert header((await bot.slash("", user="U0NOBODY"))["blocks"]) == "Tip of the week"  # "tip" alone: anyone

    added = await bot.slash("add Greet every caller by name before anything else.")
    assert header(added["blocks"]) == "Tip 1 queued."
    scheduled = await bot.slash("schedule friday 14:30 Europe/Paris")
    assert header(scheduled["blocks"]) == "Weekly tip: Friday 14:30 (Europe/Paris)"
    assert (
        card_title(await bot.teams("tip schedule")) == "Weekly tip: Monday 09:00 (Europe/Paris)"
    )  # Teams: the default
    await subscribe_both(bot)

    # A restart: a new process, a new store instance on the same file.
    await bot.stop()
    await bot.start()
    assert header((await bot.slash("list"))["blocks"]) == "1 tip(s) queued, next first"

    friday = lambda h, m: dt.datetime(2026, 11, 20, h, m, tzinfo=PARIS)  # noqa: E731
    report = await bot.run(friday(14, 29))
    assert report.posted == [("teams", TEAMS_CHANNEL)]  # Monday 09:00 is past; Slack's Friday 14:30 is not
    ((conversation, text),) = teams_posts(connector)
    assert conversation == TEAMS_CHANNEL  # a new post in the channel, not a reply in the thread it came from
    assert text == shipped_knowledge().tips[0].text  # no tip queued for that tenant: the library's first
    assert api.of("chat.postMessage") == []

    report = await bot.run(friday(14, 31))
    assert report.posted == [("slack", SLACK_CHANNEL)]
    assert slack_posts(api) == [(SLACK_CHANNEL, "Greet every caller by name before anything else.")]
    assert header((await bot.slash("list"))["blocks"]) == "No tips are queued."  # used, so retired

    for hour in (15, 18, 23):  # more runs that week: nothing more
        assert (await bot.run(friday(hour, 0))).posted == []
    await bot.stop()
    await bot.start()
    assert (await bot.run(friday(23, 59))).posted == []
    assert len(slack_posts(api)) == 1 and len(teams_posts(connector)) == 1
    history = await bot.slash("history")
    assert header(history["blocks"]) == "Weekly tips, latest first"
    assert "2026-W47 · C111 · manager tip 1 · posted: Greet every caller" in text_of(history["blocks"])


async def test_a_slack_user_group_makes_managers_looked_up_once_per_few_minutes(bot: Bot, api: FakeSlackApi):
    assert header((await bot.slash("add From the group", user=GROUP_MEMBER))["blocks"]) == "Tip 1 queued."
    assert header((await bot.slash("list", user=GROUP_MEMBER))["blocks"]) == "1 tip(s) queued, next first"
    assert header((await bot.slash("list", user="U0NOBODY"))["blocks"]) == "Sorry, that one is for managers."
    calls = api.of("usergroups.users.list")
    assert len(calls) == 1 and calls[0].body["usergroup"] == GROUP


async def test_subscribe_unsubscribe_and_post_now(bot: Bot, api: FakeSlackApi, connector: FakeConnector):
    await subscribe_both(bot)
    assert header((await bot.slash("subscribe"))["blocks"]) == "This channel gets the weekly tip already."
    now = dt.datetime.fromtimestamp(bot.clock(), UTC)
    posted = await bot.slash("post-now")
    assert "Posted to 1 channel(s)." in text_of(posted["blocks"])
    again = await bot.slash("post-now")
    assert "1 channel(s) had this week's tip already." in text_of(again["blocks"])
    assert len(slack_posts(api)) == 1
    assert (await bot.run(now + dt.timedelta(days=4))).posted == [("teams", TEAMS_CHANNEL)]  # Slack had it this week
    assert card_title(await bot.teams("tip unsubscribe")) == "This channel no longer gets the weekly tip."
    assert (await bot.run(now + dt.timedelta(days=8))).posted == [("slack", SLACK_CHANNEL)]
    assert len(teams_posts(connector)) == 1


# --- injection ------------------------------------------------------------------------------------


async def test_injection_attempts_are_sanitised_before_they_reach_a_channel(
    bot: Bot, api: FakeSlackApi, connector: FakeConnector
):
    await subscribe_both(bot)
    await bot.slash(
        "add <!channel> <!here|here> @everyone <@U024BE7LH> Smile <!subteam^S0614TZR7|@leads> when you answer."
    )
    await bot.teams("tip add <at>Dave Taniguchi</at> @here listen first.")
    empty = await bot.slash("add <!channel> <@U024BE7LH>")
    assert header(empty["blocks"]) == "That tip was not queued." and "needs some words" in text_of(empty["blocks"])
    long = await bot.slash("add " + "x" * 501)
    assert "501 characters; keep it to 500" in text_of(long["blocks"])
    await bot.run(dt.datetime(2026, 11, 23, 9, 1, tzinfo=PARIS))
    ((_, slack_text),) = slack_posts(api)
    assert slack_text == "everyone Smile when you answer."
    ((_, teams_text),) = teams_posts(connector)
    assert teams_text == "Dave Taniguchi here listen first."
    for text in (slack_text, teams_text):
        assert "<!" not in text and "<@" not in text and "@" not in text and "<at>" not in text


# --- catch-up, crashes and refusals ---------------------------------------------------------------


async def test_catch_up_within_the_week_but_never_for_a_week_gone_by(bot: Bot, api: FakeSlackApi):
    await bot.slash("schedule friday 14:30")
    await bot.slash("subscribe")
    assert (await bot.run(dt.datetime(2026, 11, 20, 14, 0, tzinfo=PARIS))).posted == []
    # Down from Friday 14:00 to Sunday evening: still that week, so it posts on coming back.
    assert (await bot.run(dt.datetime(2026, 11, 22, 20, 0, tzinfo=PARIS))).posted == [("slack", SLACK_CHANNEL)]
    # The next week: down from Friday 14:00 until the Monday after; that week's tip is not posted late.
    assert (await bot.run(dt.datetime(2026, 11, 27, 14, 0, tzinfo=PARIS))).posted == []
    assert (await bot.run(dt.datetime(2026, 11, 30, 8, 0, tzinfo=PARIS))).posted == []
    assert (await bot.run(dt.datetime(2026, 12, 4, 14, 31, tzinfo=PARIS))).posted == [("slack", SLACK_CHANNEL)]
    periods = [row["period"] for row in await bot.store.tip_posts("slack")]
    assert periods == ["2026-W47", "2026-W49"]
    assert len(slack_posts(api)) == 2


async def test_a_copy_that_died_after_claiming_is_taken_over_after_its_lease(bot: Bot, api: FakeSlackApi):
    await bot.slash("subscribe")
    due = dt.datetime(2026, 11, 23, 9, 0, tzinfo=PARIS)
    assert await bot.store.claim_tip_post(
        "slack", SLACK_CHANNEL, "2026-W48", SLACK_TEAM, "dead-copy", due.timestamp(), due.timestamp() + LEASE
    )
    assert (await bot.run(due + dt.timedelta(minutes=1))).posted == []  # the lease still holds
    assert (await bot.run(due + dt.timedelta(seconds=LEASE + 60))).posted == [("slack", SLACK_CHANNEL)]
    assert len(slack_posts(api)) == 1


async def test_a_copy_that_died_while_sending_is_never_posted_twice(bot: Bot, api: FakeSlackApi):
    await bot.slash("subscribe")
    due = dt.datetime(2026, 11, 23, 9, 0, tzinfo=PARIS).timestamp()
    await bot.store.claim_tip_post("slack", SLACK_CHANNEL, "2026-W48", SLACK_TEAM, "dead-copy", due, due + LEASE)
    await bot.store.start_tip_post(
        "slack", SLACK_CHANNEL, "2026-W48", "dead-copy", source="library", tip="x", text="X", now=due
    )
    for hours in (1, 24, 100):
        assert (await bot.run(dt.datetime.fromtimestamp(due + hours * 3600, UTC))).posted == []
    assert slack_posts(api) == []
    assert "outcome unknown" in text_of((await bot.slash("history"))["blocks"])


async def test_a_refused_post_is_tried_again_later_the_same_week(bot: Bot, connector: FakeConnector):
    await bot.teams("tip subscribe")
    connector.fail_status = 403
    due = dt.datetime(2026, 11, 23, 9, 0, tzinfo=PARIS)
    report = await bot.run(due)
    assert report.posted == [] and report.failed and report.failed[0][:2] == ("teams", TEAMS_CHANNEL)
    connector.fail_status = None
    assert (await bot.run(due + dt.timedelta(minutes=5))).posted == []  # waits RETRY_AFTER
    assert (await bot.run(due + dt.timedelta(seconds=RETRY_AFTER + 60))).posted == [("teams", TEAMS_CHANNEL)]
    assert (await bot.run(due + dt.timedelta(days=2))).posted == []
    assert [row["state"] for row in await bot.store.tip_posts("teams")] == ["posted"]


# --- two schedulers racing over 50 weeks ----------------------------------------------------------

WEEKS = 50
FIRST_MONDAY = dt.datetime(2027, 1, 4, tzinfo=UTC)  # through December 2027: both DST changes on both sides
# When each scheduler runs within a week (from Monday 00:00 UTC): before anything is due, just after
# Slack's Monday 09:00 Paris, mid-week, just after Teams' Wednesday 18:00 New York, Sunday night.
RUN_OFFSETS = (
    dt.timedelta(hours=6),
    dt.timedelta(hours=8, minutes=30),
    dt.timedelta(days=2, hours=12),
    dt.timedelta(days=3, minutes=30),
    dt.timedelta(days=6, hours=22),
)
QUEUED = 20


def racer(
    open_store, api: FakeSlackApi, barrier: threading.Barrier, seed: int, errors: list[BaseException], outcomes: Counter
) -> None:
    """One scheduler in its own thread and event loop, with its own store connection: a second process, in effect."""

    async def weeks() -> None:
        store = await open_store()
        job = make_job(store, api)
        jitter = random.Random(seed)
        try:
            for week in range(WEEKS):
                barrier.wait(timeout=60)  # both schedulers work on the same week at the same time
                for offset in RUN_OFFSETS:
                    report = await job.run(
                        FIRST_MONDAY + dt.timedelta(weeks=week) + offset + dt.timedelta(seconds=jitter.uniform(0, 30))
                    )
                    outcomes[f"{seed}:posted"] += len(report.posted)
                    outcomes[f"{seed}:lost the claim"] += sum(why.startswith("taken") for *_, why in report.skipped)
                    outcomes[f"{seed}:failed"] += len(report.failed)
        finally:
            await job.posters["teams"].close()
            await store.close()

    try:
        asyncio.run(weeks())
    except BaseException as error:  # reported by the test
        errors.append(error)
        barrier.abort()


@pytest.fixture(params=["sqlite", "postgres"])
def race_on(request: pytest.FixtureRequest) -> PgTarget | None:
    """Where the schedulers race: the bot's SQLite file (None), or a PostgreSQL schema (skipped without a server)."""
    return request.getfixturevalue("pg_target") if request.param == "postgres" else None


async def test_two_schedulers_racing_over_50_weeks_post_exactly_once(
    race_on: PgTarget | None, bot: Bot, api: FakeSlackApi, connector: FakeConnector
):
    kind = "sqlite" if race_on is None else "postgres"
    if race_on is None:
        path = bot.path

        async def open_store():
            return SQLiteStore(path=path)

        main_store = bot.store
    else:
        target = race_on
        from bot.store.postgres import PostgresStore

        async def open_store():
            return await PostgresStore.connect(dsn=target.dsn, schema=target.schema, max_size=4)

        # The bot on PostgreSQL: the managers' commands go to the same database the schedulers use.
        await bot.stop()
        main_store = await open_store()
        await bot.start(main_store)

    await subscribe_both(bot)
    assert (
        card_title(await bot.teams("tip schedule wednesday 18:00 America/New_York"))
        == "Weekly tip: Wednesday 18:00 (America/New_York)"
    )
    for n in range(1, QUEUED + 1):
        await bot.slash(f"add Queued tip number {n}.")

    barrier, errors, outcomes = threading.Barrier(2), [], Counter()
    threads = [
        threading.Thread(target=racer, args=(open_store, api, barrier, seed, errors, outcomes)) for seed in (1, 2)
    ]
    for thread in threads:
        thread.start()
    await asyncio.gather(*(asyncio.to_thread(thread.join, 300) for thread in threads))
    assert not errors, errors
    print(f"{kind}: {dict(sorted(outcomes.items()))}")
    assert outcomes["1:failed"] == outcomes["2:failed"] == 0

    expected = {f"2027-W{w:02d}" for w in range(1, WEEKS + 1)}
    for platform, delivered in (("slack", slack_posts(api)), ("teams", teams_posts(connector))):
        rows = sorted(
            (r for r in await main_store.tip_posts(platform) if r["state"] == "posted"), key=lambda r: r["period"]
        )
        missed = expected - {r["period"] for r in rows}
        duplicates = len(delivered) - len(rows)
        print(
            f"{kind} {platform}: {len(delivered)} posts over {WEEKS} weeks, {duplicates} duplicate(s), {len(missed)} "
            "missed"
        )
        assert duplicates == 0 and not missed and len(rows) == WEEKS
        # What reached the platform is exactly the store's one row per week, in week order.
        assert [text for _, text in delivered] == [
            translate.escape(r["text"]) if platform == "slack" else r["text"] for r in rows
        ]
        texts = [r["text"] for r in rows]
        if platform == "slack":  # the queue first, each queued tip once, then the library without repeats
            assert texts[:QUEUED] == [f"Queued tip number {n}." for n in range(1, QUEUED + 1)]
            library = texts[QUEUED:]
        else:
            library = texts
        fresh = min(len(library), len(shipped_knowledge().tips))
        assert len(set(library[:fresh])) == fresh
        assert max(Counter(library).values()) <= -(-len(library) // len(shipped_knowledge().tips))


async def test_the_weekly_poster_waits_out_a_rate_limit_that_a_reply_hands_to_the_outbox(api: FakeSlackApi, tmp_path):
    """Replies wait out at most WAIT_IN_CALL seconds in the call (the outbox waits the rest); the weekly post, which
    no lease hurries, waits it out instead of putting the channel off for a quarter of an hour."""
    from adapters.server import close_posters, platform_posters
    from adapters.slack.listeners import WAIT_IN_CALL
    from bot.messages import Reply

    config = slack_config({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.url})
    posters = platform_posters(slack=config, teams=TeamsConfig(), store=SQLiteStore(path=tmp_path / "w.db"))
    try:
        api.fail_once("chat.postMessage", retry_after=int(WAIT_IN_CALL) + 1)
        started = asyncio.get_running_loop().time()
        tip = Reply(kind="info", title="Tip of the week", text="Say the customer's name.")
        await posters["slack"].post(channel=SLACK_CHANNEL, conversation=SLACK_CHANNEL, reply=tip)
        waited = asyncio.get_running_loop().time() - started
        assert WAIT_IN_CALL + 1 <= waited < WAIT_IN_CALL + 8
        assert [c.method for c in api.rejected] == ["chat.postMessage"] and len(api.of("chat.postMessage")) == 1
    finally:
        await close_posters(posters)
