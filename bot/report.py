"""How the coach does in real work, from agents' one-tap feedback: counts per week and team, never text, never who.

Why counts only: the coach keeps no words an agent typed, and staff must not feel scored, so
what is kept is a handful of numbers per ISO week and team (a Slack workspace, a Teams tenant):
answers given and confirmed, corrections from one type to another, questions asked per dialog,
and scripts that helped or did not. The store adds one to a count in one atomic statement
(``Store.tally``), so several copies of the bot count together without loss or double count.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from bot.knowledge import ANY, Knowledge
from bot.messages import Reply, Section
from bot.weeks import period_of, utc

MAX_WEEKS = 12
TOP = 5  # corrections and unhelpful scripts shown
BAR_WIDTH = 12  # characters of the longest text bar


def weeks_back(now: float, weeks: int) -> list[str]:
    """The ISO weeks from ``weeks`` - 1 weeks ago up to this one."""
    today = utc(now).date()
    return sorted({period_of(today - dt.timedelta(weeks=n)) for n in range(weeks)})


def weeks_since(start: dt.date, now: float) -> list[str]:
    """Every ISO week from the one holding ``start`` to this one."""
    today = utc(now).date()
    days = max((today - start).days, 0)
    return sorted({period_of(start + dt.timedelta(days=d)) for d in range(0, days + 1, 7)} | {period_of(today)})


def summarise(rows: list[dict[str, Any]], periods: list[str]) -> dict[str, Any]:
    """The report's figures from tally rows: what ``render`` shows and ``app.py report`` prints."""
    by: dict[str, Counter[str]] = {}
    for row in rows:
        by.setdefault(row["metric"], Counter())[row["key"]] += row["n"]
    answered = sum(by.get("answered", Counter()).values())
    confirmed = sum(by.get("confirmed", Counter()).values())
    questions = by.get("questions", Counter())
    dialogs = sum(questions.values())
    script = by.get("script", Counter())
    unhelpful = Counter({k.partition(":")[2]: n for k, n in script.items() if k.startswith("unhelpful:")})
    helped = Counter({k.partition(":")[2]: n for k, n in script.items() if k.startswith("helped:")})
    return {
        "weeks": periods,
        "answered": answered,
        "confirmed": confirmed,
        "corrected": sum(by.get("corrected", Counter()).values()),
        "situations": dict(by.get("identified", Counter()).most_common()),
        "corrections": dict(by.get("corrected", Counter()).most_common()),
        "questions_per_dialog": round(sum(int(k) * n for k, n in questions.items()) / dialogs, 2) if dialogs else None,
        "questions": {k: questions[k] for k in sorted(questions)},
        "scripts_helped": dict(helped.most_common()),
        "scripts_unhelpful": dict(unhelpful.most_common()),
    }


def render(figures: dict[str, Any], knowledge: Knowledge) -> Reply:
    """The manager's report as a reply: the same words on every platform, text bars where a chart reads better."""
    weeks = figures["weeks"]
    span = weeks[0] if len(weeks) == 1 else f"{weeks[0]} to {weeks[-1]}"
    if not figures["answered"]:
        return Reply(
            kind="info", title=f"Coach report, {span}", text="No answers given in that time yet.", private=True
        )
    names = {
        **{k: v.name for k, v in knowledge.interactions.items()},
        **{k: v.name for k, v in knowledge.customers.items()},
        ANY: "not clear",
    }

    def pair(key: str) -> str:
        interaction, _, customer = key.partition("/")
        return f"{names.get(interaction, interaction)} · {names.get(customer, customer)}"

    def change(key: str) -> str:
        dimension, _, moved = key.partition(":")
        read, _, picked = moved.partition(">")
        return f"{dimension}: {names.get(read, read)} read, {names.get(picked, picked)} meant"

    def script(key: str) -> str:
        found = next((s for s in knowledge.situations if s.id == key), None)  # else the key is a type pair
        return found.name if found is not None else pair(key)

    situations = figures["situations"]
    biggest = max(situations.values(), default=1)
    sections = [
        Section(
            title="Situations",
            lines=tuple(f"{_bar(n, biggest)} {n:>4}  {pair(k)}" for k, n in list(situations.items())[:8]),
        ),
        Section(
            title="Answers",
            lines=(
                f"{figures['answered']} given; {figures['confirmed']} marked right "
                f"({_share(figures['confirmed'], figures['answered'])}), {figures['corrected']} corrected",
                f"Questions per dialog: {figures['questions_per_dialog']}"
                if figures["questions_per_dialog"] is not None
                else "Questions per dialog: none counted",
            ),
        ),
    ]
    if figures["corrections"]:
        sections.append(
            Section(
                title="Top corrections",
                lines=tuple(f"{change(k)}: {n}" for k, n in list(figures["corrections"].items())[:TOP]),
            )
        )
    if figures["scripts_unhelpful"]:
        sections.append(
            Section(
                title="Scripts that didn't help",
                lines=tuple(f"{script(k)}: {n}" for k, n in list(figures["scripts_unhelpful"].items())[:TOP]),
            )
        )
    return Reply(
        kind="info",
        title=f"Coach report, {span}",
        text="Counts only: no words and no names are kept.",
        sections=tuple(sections),
        private=True,
    )


def _bar(n: int, biggest: int) -> str:
    filled = max(1, round(BAR_WIDTH * n / biggest)) if n else 0
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"
