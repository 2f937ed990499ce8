"""Frontline Coach's one entry point: reads the environment once, then chats, serves, or runs a tool.

    python app.py                      chat in the terminal (embedded defaults: console, SQLite)
    python app.py serve                Slack and Teams on one aiohttp server
    python app.py check-knowledge [DIR]
    python app.py classify "TEXT"  |  python app.py classify --jsonl < situations.jsonl
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import CoachError, KnowledgeError

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
        )


async def open_store(settings: Settings):
    """PostgreSQL when DATABASE_URL is set, else the SQLite file at COACH_DB."""
    if settings.database_url:
        from bot.store.postgres import PostgresStore

        return await PostgresStore.connect(dsn=settings.database_url)
    from bot.store.sqlite import SQLiteStore

    return SQLiteStore(path=settings.db_path)


async def _build(settings: Settings):
    from bot.coach import build_coach

    store = await open_store(settings)
    coach = build_coach(overlay=settings.knowledge_overlay, store=store, dialog_ttl=settings.dialog_ttl)
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


async def serve(settings: Settings, env: Mapping[str, str]) -> int:
    """Slack on /slack/events and Teams on /api/messages, one aiohttp server, until SIGTERM or Ctrl-C."""
    import signal

    from aiohttp import web

    from adapters.slack import mount_slack, slack_config
    from adapters.teams import mount_teams, teams_config

    slack = slack_config(env)  # a partial configuration stops here, before anything starts
    teams = teams_config(env)
    coach = await _build(settings)
    web_app = web.Application(client_max_size=1024 * 1024)
    if slack is not None:
        mount_slack(web_app, coach, slack)
    if teams is not None:
        mount_teams(web_app, coach, teams)
    host = settings.host
    if host is None:
        host = "127.0.0.1" if teams is None or teams.open else "0.0.0.0"
        if teams is not None and teams.open:
            _LOGGER.warning("Teams runs without authentication (no MicrosoftAppId): listening on 127.0.0.1 only; set HOST to change")

    async def sweep() -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            try:
                expired = await coach.expire()
                await coach.store.purge_claims("slack-event", coach.clock() - EVENT_ID_KEEP)
                if expired:
                    _LOGGER.info("expired %d abandoned dialog(s)", expired)
            except Exception:
                _LOGGER.exception("sweep of abandoned dialogs failed; will retry")

    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
    await site.start()
    _LOGGER.info("serving on http://%s:%d (slack: %s, teams: %s)", host, settings.port, "on" if slack else "off", "on" if teams else "off")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sweeper = asyncio.create_task(sweep())
    try:
        await stop.wait()
    finally:
        sweeper.cancel()
        await runner.cleanup()
        await coach.store.close()
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
        if args.command == "serve" or (args.command is None and _platform_configured(env)):
            return asyncio.run(serve(settings, env))
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
        asyncio.run(chat(settings))
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
