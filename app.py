"""Frontline Coach's one entry point: reads the environment once, then chats, serves, or runs a tool.

    python app.py                      chat in the terminal (embedded defaults: console, SQLite)
    python app.py serve                Slack and Teams on one aiohttp server
    python app.py check-knowledge [DIR]
    python app.py classify "TEXT"  |  python app.py classify --jsonl < situations.jsonl
    python app.py tips run [--at ISO_TIME]   the weekly tip job once, as if it were that time
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import CoachError, KnowledgeError, StoreUnavailable
from bot.tips import Managers

if TYPE_CHECKING:
    from adapters.slack import SlackConfig
    from adapters.teams import TeamsConfig
    from bot.store import Store
    from bot.weekly import Poster

_LOGGER = logging.getLogger("frontline_coach")


def read_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment with empty values dropped: a variable set to "" counts as unset."""
    return {key: value for key, value in environ.items() if value != ""}


def default_db_path(env: Mapping[str, str]) -> Path:
    """The user's data folder (XDG_DATA_HOME, else ~/.local/share)/frontline-coach/coach.sqlite3."""
    base = Path(env["XDG_DATA_HOME"]) if "XDG_DATA_HOME" in env else Path.home() / ".local" / "share"
    return base / "frontline-coach" / "coach.sqlite3"


@dataclass(frozen=True)
class Settings:
    knowledge_overlay: str | None
    db_path: Path
    database_url: str | None
    dialog_ttl: float
    port: int
    host: str | None
    log_level: str
    managers: Managers = Managers()  # COACH_MANAGERS
    timezone: str = "UTC"  # COACH_TIMEZONE: the default weekly tip schedule's zone

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        try:
            dialog_ttl = float(env.get("COACH_DIALOG_TTL", 1800))
            port = int(env.get("PORT", 3978))
        except ValueError as error:
            raise CoachError(f"COACH_DIALOG_TTL and PORT must be numbers: {error}") from None
        return cls(
            knowledge_overlay=env.get("COACH_KNOWLEDGE_DIR"),
            db_path=Path(env["COACH_DB"]) if "COACH_DB" in env else default_db_path(env),
            database_url=env.get("DATABASE_URL"),
            dialog_ttl=dialog_ttl,
            port=port,
            host=env.get("HOST"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            **_tip_settings(env),
        )


def _tip_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """COACH_MANAGERS and COACH_TIMEZONE, checked: a bad entry or an unknown zone stops start-up (ConfigError)."""
    from bot.weekly import zone

    return {"managers": Managers.parse(env.get("COACH_MANAGERS")), "timezone": zone(env.get("COACH_TIMEZONE", "UTC")).key}


async def open_store(settings: Settings) -> Store:
    """The store DATABASE_URL or COACH_DB names (bot/store/connect.py)."""
    from bot.store.connect import open_store as open_configured

    return await open_configured(database_url=settings.database_url, db_path=settings.db_path)


def freeze_startup_objects() -> None:
    """Move everything built at start-up (knowledge, the reader's tables) out of the collector's reach.

    They live as long as the process; without this, each full collection walks them again and a
    turn that triggers one takes milliseconds instead of a tenth of one.
    """
    import gc

    gc.collect()
    gc.freeze()


async def _build(settings: Settings):
    from bot.coach import build_coach

    store = await open_store(settings)
    coach = build_coach(overlay=settings.knowledge_overlay, store=store, dialog_ttl=settings.dialog_ttl, managers=settings.managers, timezone=settings.timezone)
    freeze_startup_objects()
    await coach.expire()
    return coach


async def chat(settings: Settings) -> None:
    from adapters.console import run_console

    coach = await _build(settings)
    try:
        await run_console(coach)
    finally:
        await coach.store.close()


EXPIRY_INTERVAL = 300.0  # seconds between sweeps of abandoned dialogs and old event ids
EVENT_ID_KEEP = 24 * 3600.0  # Slack retries within minutes; a day of event ids is plenty
SHUTDOWN_GRACE = 20.0  # on SIGTERM: seconds for requests in flight, then as long again for turns in flight
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between attempts to reach a database that was down at start


async def serve(settings: Settings, env: Mapping[str, str]) -> int:
    """Slack on /slack/events, Teams on /api/messages and /healthz, /readyz, /metrics on one aiohttp server, until SIGTERM or Ctrl-C.

    Several copies may run on one PostgreSQL database: every turn reads and writes its dialog there,
    and every "only once" is decided there. A copy whose database is down at start serves anyway,
    not ready (/readyz 503), and connects as soon as the database answers. On SIGTERM it stops
    listening, finishes the requests and turns in flight, and closes the store last.
    """
    import signal

    from aiohttp import web

    from adapters.ops import mount_ops
    from adapters.slack import mount_slack, slack_config
    from adapters.teams import mount_teams, teams_config
    from bot.coach import build_coach
    from bot.metrics import MeteredStore, Metrics
    from bot.store.connect import NotConnected
    from bot.weekly import run_forever as run_weekly

    slack = slack_config(env)  # a partial configuration stops here, before anything starts
    teams = teams_config(env)
    metrics = Metrics()
    store = MeteredStore(inner=NotConnected(), metrics=metrics)
    posters = platform_posters(slack=slack, teams=teams, store=store)
    coach = build_coach(
        overlay=settings.knowledge_overlay, store=store, dialog_ttl=settings.dialog_ttl, managers=settings.managers, timezone=settings.timezone,
        meter=metrics, posters=posters,
    )
    freeze_startup_objects()
    try:
        store.inner = await open_store(settings)
    except StoreUnavailable as error:
        _LOGGER.warning("storage not reachable at start (%s): serving, not ready, until it answers", error)

    web_app = web.Application(client_max_size=1024 * 1024)
    mount_ops(web_app, coach=coach, metrics=metrics)
    if slack is not None:
        mount_slack(web_app, coach, slack)
    if teams is not None:
        mount_teams(web_app, coach, teams)

    async def finish_turns(_: web.Application) -> None:
        left = await metrics.drain(SHUTDOWN_GRACE)
        if left:
            _LOGGER.warning("%d turn(s) still running after %.0f s; stopping anyway", left, SHUTDOWN_GRACE)

    # First of the clean-ups: the platforms' clients are still open, so turns in flight can post their replies.
    web_app.on_cleanup.insert(0, finish_turns)
    host = settings.host
    if host is None:
        host = "127.0.0.1" if teams is None or teams.open else "0.0.0.0"
        if teams is not None and teams.open:
            _LOGGER.warning("Teams runs without authentication (no MicrosoftAppId): listening on 127.0.0.1 only; set HOST to change")

    stop = asyncio.Event()
    fatal: list[CoachError] = []

    async def keep_storage() -> None:
        """Connect if the database was down at start, then sweep now and every EXPIRY_INTERVAL."""
        delay = RETRY_FIRST
        while isinstance(store.inner, NotConnected):
            await asyncio.sleep(delay)
            try:
                store.inner = await open_store(settings)
                _LOGGER.info("storage connected")
            except StoreUnavailable as error:
                delay = min(delay * 2, RETRY_MAX)
                _LOGGER.warning("storage still not reachable (%s); next try in %.0f s", error, delay)
            except CoachError as error:
                fatal.append(error)
                stop.set()
                return
        while True:
            try:
                expired = await coach.expire()  # one copy at a time: the store holds a lock while it purges
                await store.purge_claims("slack-event", coach.clock() - EVENT_ID_KEEP)
                if expired:
                    _LOGGER.info("expired %d abandoned dialog(s)", expired)
            except StoreUnavailable as error:
                metrics.error("sweep", error)
                _LOGGER.warning("sweep of abandoned dialogs skipped: storage unavailable; will retry")
            except Exception as error:
                metrics.error("sweep", error)
                _LOGGER.exception("sweep of abandoned dialogs failed; will retry")
            await asyncio.sleep(EXPIRY_INTERVAL)

    runner = web.AppRunner(web_app, shutdown_timeout=SHUTDOWN_GRACE, access_log=None)  # no line per request on the ack path; logs carry ids, not traffic
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
    await site.start()
    address = runner.addresses[0] if runner.addresses else (host, settings.port)
    _LOGGER.info(
        "serving on http://%s:%d (slack: %s, teams: %s, storage: %s)",
        address[0], address[1], "on" if slack else "off", "on" if teams else "off", "PostgreSQL" if settings.database_url else "SQLite",
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    keeper = asyncio.create_task(keep_storage())
    tips_stop = asyncio.Event()
    tipper = asyncio.create_task(run_weekly(coach.tips.job, clock=coach.clock, stop=tips_stop, on_error=lambda error: metrics.error("weekly-tips", error)))
    try:
        await stop.wait()
    finally:
        _LOGGER.info("stopping: no new requests; finishing those and the turns in flight (up to %.0f s each)", SHUTDOWN_GRACE)
        keeper.cancel()
        tips_stop.set()  # a weekly run in flight finishes its posts: cut mid-send, a post would be lost for the week
        try:
            await asyncio.wait_for(tipper, SHUTDOWN_GRACE)
        except asyncio.TimeoutError:
            _LOGGER.warning("weekly tip run still going after %.0f s; stopping anyway", SHUTDOWN_GRACE)
        await close_posters(posters)
        await runner.cleanup()  # stop listening, finish requests, finish turns, close the platforms' clients
        await store.close()  # last: the turns in flight needed it
        _LOGGER.info("stopped")
    if fatal:
        raise fatal[0]
    return 0


def platform_posters(*, slack: SlackConfig | None, teams: TeamsConfig | None, store: Store) -> dict[str, Poster]:
    """A weekly tip poster for each platform that is configured (the same for serve and tips run)."""
    posters: dict[str, Poster] = {}
    if slack is not None:
        from adapters.slack import web_client
        from adapters.slack.weekly import SlackPoster

        posters["slack"] = SlackPoster(client=web_client(slack))
    if teams is not None:
        from adapters.teams.weekly import TeamsPoster

        posters["teams"] = TeamsPoster(config=teams, store=store)
    return posters


async def close_posters(posters: Mapping[str, Poster]) -> None:
    for poster in posters.values():
        close = getattr(poster, "close", None)
        if close is not None:
            await close()


def parse_at(value: str | None, timezone: str):
    """``--at``: an ISO 8601 time; without an offset it is read in COACH_TIMEZONE. None: now."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CoachError(f"--at {value!r} is not an ISO 8601 time, for example 2026-11-23T09:05 or 2026-11-23T09:05+01:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(timezone))


async def tips_run(settings: Settings, env: Mapping[str, str], at_text: str | None) -> int:
    """``tips run``: the weekly job once, as serve runs it, as if it were ``--at``; one line per channel."""
    from adapters.slack import slack_config
    from adapters.teams import teams_config
    from bot.knowledge import load_knowledge
    from bot.weekly import WeeklyJob

    at = parse_at(at_text, settings.timezone)
    slack, teams = slack_config(env), teams_config(env)
    library = load_knowledge(overlay=settings.knowledge_overlay).tips
    store = await open_store(settings)
    posters = platform_posters(slack=slack, teams=teams, store=store)
    job = WeeklyJob(store=store, library=library, posters=posters, default_timezone=settings.timezone)
    try:
        report = await job.run(at)
    finally:
        await close_posters(posters)
        await store.close()
    for platform, channel in report.posted:
        print(f"posted   {platform} {channel}")
    for platform, channel, why in report.skipped:
        print(f"skipped  {platform} {channel}: {why}")
    for platform, channel, why in report.failed:
        print(f"failed   {platform} {channel}: {why}")
    print(f"weekly tips as of {at.isoformat()}: {report.summary()}")
    return 1 if report.failed else 0


async def feedback_report(settings: Settings, since: str) -> int:
    """``report --since DATE``: the managers' report for every team since DATE, as JSON (counts only)."""
    from bot import report

    try:
        start = dt.date.fromisoformat(since)
    except ValueError:
        print(f"report: --since wants a date such as 2026-11-30, not {since!r}", file=sys.stderr)
        return 2
    store = await open_store(settings)
    try:
        periods = report.weeks_since(start, time.time())
        rows = await store.tallies(periods)
    finally:
        await store.close()
    teams = sorted({row["team"] for row in rows})
    out = {"since": since, "all": report.summarise(rows, periods), "teams": {t: report.summarise([r for r in rows if r["team"] == t], periods) for t in teams}}
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def check_knowledge(directory: str | None, settings: Settings) -> int:
    from bot.knowledge import load_knowledge

    overlay = None if directory else settings.knowledge_overlay
    try:
        knowledge = load_knowledge(directory, overlay=overlay) if directory else load_knowledge(overlay=overlay)
    except KnowledgeError as error:
        print(f"knowledge has {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"knowledge OK ({', '.join(knowledge.sources)}): {len(knowledge.cues)} cues, {len(knowledge.examples)} examples, "
        f"{len(knowledge.scripts)} scripts, {len(knowledge.questions)} questions, {len(knowledge.departments)} checklists, {len(knowledge.tips)} tips"
    )
    return 0


def classify(text: str | None, jsonl: bool, settings: Settings) -> int:
    from bot.coach import Coach
    from bot.knowledge import load_knowledge
    from bot.store.memory import MemoryStore

    coach = Coach(knowledge=load_knowledge(overlay=settings.knowledge_overlay), store=MemoryStore())
    if not jsonl:
        print(json.dumps(coach.classify(text or "")))
        return 0
    status = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            result = coach.classify(str(item["text"]))
        except (ValueError, KeyError, TypeError) as error:
            result = {"error": f"line {number}: expected a JSON object with a \"text\" field ({type(error).__name__})"}
            status = 1
        print(json.dumps(result), flush=False)
    sys.stdout.flush()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Frontline Coach")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("chat", help="chat in the terminal (the default)")
    commands.add_parser("serve", help="serve Slack and Teams over HTTP")
    check = commands.add_parser("check-knowledge", help="validate a knowledge folder")
    check.add_argument("directory", nargs="?")
    cls = commands.add_parser("classify", help="print how the coach reads a situation, as JSON")
    cls.add_argument("text", nargs="?")
    cls.add_argument("--jsonl", action="store_true", help="read JSON lines with a \"text\" field on stdin")
    report_parser = commands.add_parser("report", help="print how the coach did, from agents' feedback, as JSON (counts only)")
    report_parser.add_argument("--since", required=True, help="first day, as 2026-11-30")
    tips = commands.add_parser("tips", help="weekly tips for operators").add_subparsers(dest="tips_command", required=True)
    tips_run_parser = tips.add_parser("run", help="post the weekly tip to every due channel that has not had it, once")
    tips_run_parser.add_argument("--at", help="act as if it were this ISO 8601 time (default: now; no offset: COACH_TIMEZONE)")
    args = parser.parse_args(argv)

    env = read_env()
    try:
        settings = Settings.from_env(env)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "check-knowledge":
            return check_knowledge(args.directory, settings)
        if args.command == "classify":
            if not args.jsonl and args.text is None:
                parser.error("classify needs TEXT or --jsonl")
            return classify(args.text, args.jsonl, settings)
        if args.command == "tips":
            return asyncio.run(tips_run(settings, env, args.at))
        if args.command == "report":
            return asyncio.run(feedback_report(settings, args.since))
        if args.command == "serve" or (args.command is None and _platform_configured(env)):
            return asyncio.run(serve(settings, env))
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
        try:
            asyncio.run(chat(settings))
        except KeyboardInterrupt:  # Ctrl-C outside the prompt (while the coach starts or answers): leave quietly
            print()
        return 0
    except KnowledgeError as error:
        print("Frontline Coach cannot start: the knowledge files have problems:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except CoachError as error:
        print(f"Frontline Coach cannot start: {error}", file=sys.stderr)
        return 2


def _platform_configured(env: Mapping[str, str]) -> bool:
    names = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId", "MicrosoftAppPassword")
    return any(name in env for name in names)


if __name__ == "__main__":
    sys.exit(main())
