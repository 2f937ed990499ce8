"""Frontline Coach's one entry point: reads the environment once, then chats, serves, or runs a tool.

    python app.py                      chat in the terminal (embedded defaults: console, SQLite)
    python app.py serve                Slack and Teams on one aiohttp server
    python app.py check-knowledge [DIR]
    python app.py classify "TEXT"  |  python app.py classify --jsonl < situations.jsonl
    python app.py report --since DATE  the managers' report for every team, as JSON
    python app.py tips run [--at ISO_TIME]   the weekly tip job once, as if it were that time

The commands live in adapters/cli.py, the server in adapters/server.py, the settings in adapters/settings.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from adapters import cli
from adapters.settings import Settings, platform_configured, read_env
from bot.errors import CoachError, KnowledgeError


def command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Frontline Coach")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("chat", help="chat in the terminal (the default)")
    commands.add_parser("serve", help="serve Slack and Teams over HTTP")
    check = commands.add_parser("check-knowledge", help="validate a knowledge folder")
    check.add_argument("directory", nargs="?")
    cls = commands.add_parser("classify", help="print how the coach reads a situation, as JSON")
    cls.add_argument("text", nargs="?")
    cls.add_argument("--jsonl", action="store_true", help='read JSON lines with a "text" field on stdin')
    report_parser = commands.add_parser(
        "report", help="print how the coach did, from agents' feedback, as JSON (counts only)"
    )
    report_parser.add_argument("--since", required=True, help="first day, as 2026-11-30")
    tips = commands.add_parser("tips", help="weekly tips for operators").add_subparsers(
        dest="tips_command", required=True
    )
    tips_run_parser = tips.add_parser("run", help="post the weekly tip to every due channel that has not had it, once")
    tips_run_parser.add_argument(
        "--at", help="act as if it were this ISO 8601 time (default: now; no offset: COACH_TIMEZONE)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = command_line()
    args = parser.parse_args(argv)
    env = read_env()
    try:
        settings = Settings.from_env(env)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "check-knowledge":
            return cli.check_knowledge(args.directory, settings)
        if args.command == "classify":
            if not args.jsonl and args.text is None:
                parser.error("classify needs TEXT or --jsonl")
            return cli.classify(args.text, args.jsonl, settings)
        if args.command == "tips":
            return asyncio.run(cli.tips_run(settings, env, args.at))
        if args.command == "report":
            return asyncio.run(cli.feedback_report(settings, args.since))
        if args.command == "serve" or (args.command is None and platform_configured(env)):
            from adapters.server import serve  # imports Slack's and Teams' SDKs: only the server pays for them

            return asyncio.run(serve(settings, env))
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
        return cli.chat(settings)
    except KnowledgeError as error:
        print("Frontline Coach cannot start: the knowledge files have problems:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except CoachError as error:
        print(f"Frontline Coach cannot start: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
