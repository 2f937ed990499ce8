"""How long the coach's replies are where an agent reads them, measured through the console's rendering.

Run:  python bench/reply_words.py [FILE ...]   (default: the labelled sets in tests/data)

For each situation it reads the first reply and, where that is a question, the answer reached by
"skip"; it counts the words shown before the first option (the console's "[1]"), and lists any digit
inside a line to say that the agent did not type.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.console import render  # noqa: E402
from bot.coach import Coach  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.messages import Incoming, Reply  # noqa: E402
from bot.replies import NOTHING_TO_GUESS_FROM  # noqa: E402
from bot.store.memory import MemoryStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["situations.yaml", "situations_b.yaml", "situations_c.yaml", "real_dev.yaml"]


def words_before_options(reply: Reply) -> int:
    shown = render(reply).split("\n  [1] ")[0]
    return len(shown.split())


def invented_digits(reply: Reply, typed: str) -> list[str]:
    """Lines to say (numbered "Say" lines, quoted sample sentences) with a digit the agent never typed."""
    lines = [line for s in reply.sections if s.title == "Say" for line in s.lines]
    lines += [m for s in reply.sections for line in s.lines for m in re.findall(r"“([^”]*)”", line)]
    return [line for line in lines if any(d not in typed for d in re.findall(r"\d+", line))]


async def measure(coach: Coach, texts: list[str]) -> tuple[list[int], list[int], list[str]]:
    first_counts, answer_counts, invented = [], [], []
    for n, text in enumerate(texts):
        person: dict[str, Any] = dict(platform="console", workspace="bench", conversation="c", user=f"u{n}")
        (first,) = await coach.handle(Incoming(**person, text=text))
        first_counts.append(words_before_options(first))
        answer = first
        for _ in range(6):
            if answer.kind != "question":
                break
            # With nothing to guess from, "skip" asks again: the agent then picks the first option.
            pick = answer.text == NOTHING_TO_GUESS_FROM
            turn = Incoming(**person, choice=answer.choices[0].value) if pick else Incoming(**person, text="skip")
            (answer,) = await coach.handle(turn)
        if answer.kind == "answer":
            answer_counts.append(words_before_options(answer))
            invented += invented_digits(answer, text)
    return first_counts, answer_counts, invented


def summary(counts: list[int]) -> str:
    if not counts:
        return "none"
    p90 = statistics.quantiles(counts, n=10)[-1] if len(counts) > 1 else counts[0]
    return f"median {statistics.median(counts):.0f}, p90 {p90:.0f}, max {max(counts)} ({len(counts)} replies)"


def main() -> None:
    names = sys.argv[1:] or DEFAULT
    coach = Coach(knowledge=load_knowledge(), store=MemoryStore())
    for name in names:
        path = Path(name) if Path(name).exists() else ROOT / "tests/data" / name
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts = [i["text"] for i in (items["examples"] if isinstance(items, dict) else items)]
        first, answers, invented = asyncio.run(measure(coach, texts))
        print(
            f"{path.name}: first reply {summary(first)}; answer {summary(answers)}; lines with an invented digit: "
            f"{len(invented)}"
        )
        for line in invented[:5]:
            print("   ", line)


if __name__ == "__main__":
    main()
