"""The commands ``python app.py`` runs in the terminal: the chat, and the tools for authors and operators.

Each takes the settings app.py read and returns the process's exit status. The Slack and Teams SDKs
are imported only by ``tips run``, which posts through them, and the reader only by the commands
that read: the knowledge tools start without paying for either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from adapters.settings import Settings
from bot import report
from bot.errors import CoachError, KnowledgeError
from bot.knowledge import load_knowledge
from bot.weekly import WeeklyJob


def chat(settings: Settings) -> int:
    """The terminal chat (the default command); Ctrl-C outside the prompt leaves quietly."""
    try:
        asyncio.run(_chat(settings))
    except KeyboardInterrupt:  # Ctrl-C outside the prompt (while the coach starts or answers): leave quietly
        print()
    return 0


async def _chat(settings: Settings) -> None:
    from adapters.console import run_console
    from bot.coach import freeze_startup_objects

    coach = settings.build_coach(await settings.open_store())
    freeze_startup_objects()
    await coach.expire()
    try:
        await run_console(coach)
    finally:
        await coach.store.close()


def parse_at(value: str | None, timezone: str) -> dt.datetime:
    """``--at``: an ISO 8601 time; without an offset it is read in COACH_TIMEZONE. None: now."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CoachError(
            f"--at {value!r} is not an ISO 8601 time, for example 2026-11-23T09:05 or 2026-11-23T09:05+01:00"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(timezone))


async def tips_run(settings: Settings, env: Mapping[str, str], at_text: str | None) -> int:
    """``tips run``: the weekly job once, as serve runs it, as if it were ``--at``; one line per channel."""
    from adapters.server import close_posters, platform_posters
    from adapters.slack import slack_config
    from adapters.teams import teams_config

    at = parse_at(at_text, settings.timezone)
    slack, teams = slack_config(env), teams_config(env)
    library = load_knowledge(overlay=settings.knowledge_overlay).tips
    store = await settings.open_store()
    posters = platform_posters(slack=slack, teams=teams, store=store)
    job = WeeklyJob(store=store, library=library, posters=posters, default_timezone=settings.timezone)
    try:
        outcome = await job.run(at)
    finally:
        await close_posters(posters)
        await store.close()
    for platform, channel in outcome.posted:
        print(f"posted   {platform} {channel}")
    for platform, channel, why in outcome.skipped:
        print(f"skipped  {platform} {channel}: {why}")
    for platform, channel, why in outcome.failed:
        print(f"failed   {platform} {channel}: {why}")
    print(f"weekly tips as of {at.isoformat()}: {outcome.summary()}")
    return 1 if outcome.failed else 0


async def feedback_report(settings: Settings, since: str) -> int:
    """``report --since DATE``: the managers' report for every team since DATE, as JSON (counts only)."""
    try:
        start = dt.date.fromisoformat(since)
    except ValueError:
        print(f"report: --since wants a date such as 2026-11-30, not {since!r}", file=sys.stderr)
        return 2
    store = await settings.open_store()
    try:
        periods = report.weeks_since(start, time.time())
        rows = await store.tallies(periods)
    finally:
        await store.close()
    teams = sorted({row["team"] for row in rows})
    out = {
        "since": since,
        "all": report.summarise(rows, periods),
        "teams": {t: report.summarise([r for r in rows if r["team"] == t], periods) for t in teams},
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def check_knowledge(directory: str | None, settings: Settings) -> int:
    """``check-knowledge [DIR]``: every problem with file and line on stderr (exit 1), else a count of what loaded."""
    overlay = None if directory else settings.knowledge_overlay
    try:
        knowledge = load_knowledge(directory, overlay=overlay) if directory else load_knowledge(overlay=overlay)
    except KnowledgeError as error:
        print(f"knowledge has {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"knowledge OK ({', '.join(knowledge.sources)}): {len(knowledge.cues)} cues, {len(knowledge.examples)} "
        f"examples, {len(knowledge.scripts)} scripts, {len(knowledge.questions)} questions, "
        f"{len(knowledge.departments)} checklists, {len(knowledge.tips)} tips"
    )
    return 0


def classify(text: str | None, jsonl: bool, settings: Settings) -> int:
    """``classify``: how the coach reads TEXT, or each ``{"text": ...}`` line on stdin, as JSON; nothing is stored."""
    from bot.coach import Coach
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
            result = {"error": f'line {number}: expected a JSON object with a "text" field ({type(error).__name__})'}
            status = 1
        print(json.dumps(result), flush=False)
    sys.stdout.flush()
    return status


__all__ = ["chat", "check_knowledge", "classify", "feedback_report", "parse_at", "tips_run"]
