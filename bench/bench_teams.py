"""Teams benchmark: activity POST to reply received by a fake connector, ours against a stock CloudAdapter echo bot.

Run:  python bench/bench_teams.py [--concurrency 20] [--seconds 5] [--rounds 3] [--coach real|echo]
                                  [--store memory|sqlite] [--gc-freeze]

Four processes on loopback: this one is the load generator (aiohttp client, one conversation per
concurrent worker, each worker waits for its answer before the next message); a fake Bot Framework
connector; the stock echo bot (CloudAdapter + an ActivityHandler that sends one text reply, as in
the Bot Framework samples); and Frontline Coach's Teams adapter with the real Coach. Rounds alternate
stock and ours. A turn counts only if the POST succeeded and the connector received a reply to that
very activity id. Auth is off for both (as with the Emulator).

Target (Teams issue): at least 5x the echo bot's turns per second and p99 under 60 ms at 20 concurrent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = [
    "cx furious, blender smoked on day 2",
    "2",
    "lady at the counter wants a refund, parcel came late, she's fuming",
    "tip",
    "we called him about the renewal offer, he's been with us since 2012",
    "just tell me",
    "checklist billing",
    "he has the spec sheet open and is comparing our router with two others",
    "help",
    "cx on the line, need help",
    "regular",
    "more",
]
TEMPLATE: dict[str, Any] = {
    "type": "message",
    "channelId": "msteams",
    "from": {"id": "29:bench-user", "name": "Bench", "aadObjectId": "6d415fdd-f97e-4f70-ac45-e69601e4ecb2"},
    "recipient": {"id": "28:cd59cf47-aca1-41e0-8441-387faee8331e", "name": "Frontline Coach"},
    "conversation": {"conversationType": "personal", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "id": ""},
    "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
    "textFormat": "plain",
    "locale": "en-US",
}


# ---------------------------------------------------------------------- the server processes


GC_FREEZE = "--gc-freeze" in sys.argv


async def _serve_forever(app) -> None:
    from aiohttp import web

    if GC_FREEZE:  # everything built so far is long-lived: keep it out of the collector's full scans
        import gc

        gc.collect()
        gc.freeze()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


def run_connector() -> None:
    """Answers the reply routes with an id and remembers which activity each reply answered."""
    from aiohttp import web

    replied: set[str] = set()

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        replied.add(request.match_info.get("reply_to_id", ""))
        return web.json_response({"id": "r"})

    async def collect(request: web.Request) -> web.Response:
        prefix = request.query["prefix"]
        found = [rid for rid in replied if rid.startswith(prefix)]
        replied.difference_update(found)
        return web.json_response(found)

    app = web.Application()
    app.router.add_post("/v3/conversations/{cid}/activities", receive)
    app.router.add_post("/v3/conversations/{cid}/activities/{reply_to_id}", receive)
    app.router.add_get("/collect", collect)
    asyncio.run(_serve_forever(app))


def run_stock() -> None:
    """The reference: the samples' echo bot on a stock CloudAdapter."""
    from aiohttp import web
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class Settings:
        APP_ID = ""
        APP_PASSWORD = ""

    class EchoBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(f"Echo: {turn_context.activity.text}")

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Settings()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    asyncio.run(_serve_forever(app))


def run_ours(coach_kind: str, store_kind: str) -> None:
    from aiohttp import web

    from adapters.teams import mount_teams, teams_config
    from bot.messages import Reply
    from bot.ports import CoachPort
    from bot.store import Store
    from bot.store.memory import MemoryStore

    async def main() -> None:
        if store_kind == "sqlite":
            from bot.store.sqlite import SQLiteStore

            store: Store = SQLiteStore(path=Path(tempfile.mkdtemp()) / "bench.sqlite3")
        else:
            store = MemoryStore()
        if coach_kind == "echo":

            class EchoCoach:
                def __init__(self) -> None:
                    self.store = store

                def clock(self) -> float:
                    return time.time()

                async def handle(self, incoming):
                    return [Reply(kind="info", title=f"Echo: {incoming.text}")]

                def welcome(self) -> Reply:
                    return Reply(kind="info", title="Hi")

            coach = cast(CoachPort, EchoCoach())  # a stub with only what the Teams route asks of it
        else:
            from bot.coach import build_coach

            coach = build_coach(store=store)
        app = web.Application(client_max_size=1024 * 1024)
        mount_teams(app, coach, teams_config({}))
        await _serve_forever(app)

    asyncio.run(main())


# ---------------------------------------------------------------------- the load generator


def start(role: str, *extra: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--role", role, *extra], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None  # stdout=PIPE
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"{role} server did not start")
    return process, int(line)


async def one_round(
    session,
    target_url: str,
    connector_url: str,
    connector_port: int,
    tag: str,
    concurrency: int,
    seconds: float,
    warmup: float,
) -> dict:
    latencies: list[float] = []
    ok_ids: list[str] = []
    failures = 0
    start_at = time.perf_counter()
    measure_from = start_at + warmup
    stop_at = measure_from + seconds

    async def worker(number: int) -> None:
        nonlocal failures
        conversation = f"a:{tag}-conversation-{number}"
        sequence = 0
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            sequence += 1
            activity_id = f"{tag}-{number}-{sequence}"
            body = dict(
                TEMPLATE, id=activity_id, serviceUrl=connector_url, text=MESSAGES[(number + sequence) % len(MESSAGES)]
            )
            body["conversation"] = dict(TEMPLATE["conversation"], id=conversation)
            data = json.dumps(body).encode()
            sent_at = time.perf_counter()
            try:
                async with session.post(
                    target_url, data=data, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    good = response.status in (200, 201)
            except Exception:
                good = False
            done_at = time.perf_counter()
            if sent_at >= measure_from and done_at <= stop_at:
                if good:
                    latencies.append(done_at - sent_at)
                    ok_ids.append(activity_id)
                else:
                    failures += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    async with session.get(f"http://127.0.0.1:{connector_port}/collect", params={"prefix": f"{tag}-"}) as response:
        replied = set(await response.json())
    undelivered = [i for i in ok_ids if i not in replied]
    latencies.sort()
    return {
        "turns": len(latencies),
        "turns_per_s": len(latencies) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
        "failures": failures,
        "undelivered": len(undelivered),
        "latencies": latencies,
    }


def summary(rounds: list[dict], seconds: float) -> dict:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    turns = len(latencies)
    return {
        "turns": turns,
        "turns_per_s": turns / (seconds * len(rounds)),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(turns - 1, int(turns * 0.99))] if latencies else float("nan"),
        "failures": sum(r["failures"] for r in rounds),
        "undelivered": sum(r["undelivered"] for r in rounds),
    }


async def load(args: argparse.Namespace, stock_port: int, ours_port: int, connector_port: int) -> int:
    import aiohttp

    connector_url = f"http://127.0.0.1:{connector_port}/"
    targets = {
        "stock": f"http://127.0.0.1:{stock_port}/api/messages",
        "ours": f"http://127.0.0.1:{ours_port}/api/messages",
    }
    results: dict[str, list[dict]] = {"stock": [], "ours": []}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency * 2)) as session:
        for number in range(1, args.rounds + 1):
            for name in ("stock", "ours"):
                result = await one_round(
                    session,
                    targets[name],
                    connector_url,
                    connector_port,
                    f"{name}{number}",
                    args.concurrency,
                    args.seconds,
                    args.warmup,
                )
                results[name].append(result)
                print(
                    f"round {number} {name:5}  {result['turns_per_s']:7.1f} turns/s  p50 {result['p50_ms']:6.1f} ms  "
                    f"p99 {result['p99_ms']:6.1f} ms  failed {result['failures']}  undelivered {result['undelivered']}",
                    flush=True,
                )
    stock, ours = summary(results["stock"], args.seconds), summary(results["ours"], args.seconds)
    ratio = ours["turns_per_s"] / stock["turns_per_s"] if stock["turns_per_s"] else float("inf")
    print()
    print(
        f"{args.concurrency} concurrent conversations, {args.rounds} x {args.seconds:g} s per bot, interleaved, CPUs: "
        f"{os.cpu_count()}"
    )
    for name, total in (("stock echo", stock), ("Frontline Coach", ours)):
        print(
            f"  {name:16} {total['turns_per_s']:7.1f} turns/s  p50 {total['p50_ms']:6.1f} ms  p99 "
            f"{total['p99_ms']:6.1f} ms  turns {total['turns']}  failed {total['failures']}  undelivered "
            f"{total['undelivered']}"
        )
    print(f"  throughput ratio {ratio:.1f}x (target >= 5x); p99 {ours['p99_ms']:.1f} ms (target < 60 ms)")
    passed = ratio >= 5 and ours["p99_ms"] < 60 and ours["failures"] == 0 and ours["undelivered"] == 0
    print("  PASS" if passed else "  MISS")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--role", choices=["load", "connector", "stock", "ours"], default="load", help=argparse.SUPPRESS
    )
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round and bot")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds at the start of each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--coach", choices=["real", "echo"], default="real", help="echo: a trivial coach, to see the adapter alone"
    )
    parser.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() in both bot servers after start-up (what app.py could do)"
    )
    args = parser.parse_args()
    if args.role == "connector":
        run_connector()
        return 0
    if args.role == "stock":
        run_stock()
        return 0
    if args.role == "ours":
        run_ours(args.coach, args.store)
        return 0
    processes = []
    try:
        connector, connector_port = start("connector")
        processes.append(connector)
        freeze = ["--gc-freeze"] if args.gc_freeze else []
        stock, stock_port = start("stock", *freeze)
        processes.append(stock)
        ours, ours_port = start("ours", "--coach", args.coach, "--store", args.store, *freeze)
        processes.append(ours)
        return asyncio.run(load(args, stock_port, ours_port, connector_port))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    raise SystemExit(main())
