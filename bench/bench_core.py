"""Core benchmark: start-up to ready, turn latency over 10,000 mixed turns on SQLite, and memory.

Run:  python bench/bench_core.py [--turns 10000]
Targets (foundation issue): p99 turn < 2 ms, start-up < 1.5 s, RSS < 150 MB after 10,000 dialogs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.coach import build_coach, freeze_startup_objects  # noqa: E402
from bot.messages import Incoming  # noqa: E402
from bot.store.sqlite import SQLiteStore  # noqa: E402

OPENINGS = [
    "cx furious, blender smoked on day 2",
    "lady at the counter wants a refund, parcel came late, she's fuming",
    "we called him about the renewal offer, he's been with us since 2012",
    "new customer just signed up, doesn't know how to log in",
    "guy grabbed the headphones at the till and now says they don't pair, in a hurry",
    "he has the spec sheet open and is comparing our router with two others",
    "cx on the line, need help",
    "weird one here",
    "her smart lock locked her inside and the app shows a language none of us can read",
    "comes in every saturday for the same loaf, asking about the new sourdough club",
]
ANSWERS = ["1", "2", "complaint", "she's upset", "just tell me", "regular", "first time"]
COMMANDS = ["help", "tip", "checklist billing", "checklist", "more", "checklist sale"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def startup_seconds() -> tuple[float, float]:
    """Wall time of a fresh process from start to a Coach ready for its first turn, and its RSS then."""
    probe = (
        f"import time, sys; t0 = time.perf_counter(); sys.path.insert(0, {str(ROOT)!r})\n"
        "from bot.coach import build_coach; from bot.store.sqlite import SQLiteStore\n"
        "import tempfile, os; c = build_coach(store=SQLiteStore(path=os.path.join(tempfile.mkdtemp(), 'c.sqlite3')))\n"
        "from bot.coach import freeze_startup_objects; freeze_startup_objects()\n"
        "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
        "print(time.perf_counter() - t0, int(rss) / 1024)\n"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    whole = time.perf_counter() - start  # includes the interpreter's own start
    return whole, float(out[1])


async def turns(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        coach = build_coach(store=SQLiteStore(path=Path(folder) / "bench.sqlite3"))
        freeze_startup_objects()  # as the server and the chat do after start-up
        print(f"after start-up in-process: RSS {rss_mb():.0f} MB")
        rng = random.Random(7)
        latencies: list[float] = []
        users = 0
        last_choices: dict[str, list[str]] = {}
        for _ in range(n):
            kind = rng.random()
            if kind < 0.45 or users == 0:
                users += 1
                user = f"U{users}"
                text, choice = rng.choice(OPENINGS), None
            else:
                user = f"U{rng.randint(max(1, users - 50), users)}"
                if kind < 0.75 and last_choices.get(user):
                    text, choice = "", rng.choice(last_choices[user])
                elif kind < 0.9:
                    text, choice = rng.choice(ANSWERS), None
                else:
                    text, choice = rng.choice(COMMANDS), None
            incoming = Incoming(
                platform="bench", workspace="T1", conversation=f"D{user}", user=user, text=text, choice=choice
            )
            start = time.perf_counter()
            replies = await coach.handle(incoming)
            latencies.append(time.perf_counter() - start)
            last_choices[user] = [c.value for r in replies for c in r.choices]
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(
            f"{n} turns over {users} dialogs: p50 {p(0.50):.3f} ms, p90 {p(0.90):.3f} ms, p99 {p(0.99):.3f} ms, max "
            f"{latencies[-1] * 1000:.2f} ms, mean {statistics.mean(latencies) * 1000:.3f} ms"
        )
        while users < 10_000:  # open further dialogs so the memory figure is after 10,000 of them
            users += 1
            await coach.handle(
                Incoming(
                    platform="bench",
                    workspace="T1",
                    conversation=f"DU{users}",
                    user=f"U{users}",
                    text=rng.choice(OPENINGS),
                )
            )
        print(f"after {users} dialogs: RSS {rss_mb():.0f} MB")
        await coach.store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=10_000)
    args = parser.parse_args()
    runs = [startup_seconds() for _ in range(3)]
    print(
        "start-up to ready (fresh process, 3 runs): "
        + ", ".join(f"{s:.2f} s" for s, _ in runs)
        + f"; RSS then {runs[-1][1]:.0f} MB"
    )
    asyncio.run(turns(args.turns))


if __name__ == "__main__":
    main()
