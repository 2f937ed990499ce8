"""PostgreSQL benchmark: 2 copies of ``python app.py serve`` on one PostgreSQL vs 1 on SQLite, then exactly-once.

Part 1, throughput. Signed Slack events at 100 concurrent connections for a bounded time, sent by wrk in
its own processes: one wrk at 100 connections on the SQLite copy; two wrk at 50 each, one per copy, on
the PostgreSQL pair (as a load balancer would spread them). Pre-signed bodies, each with an event_id,
ts and DM channel never used before. Two loads, in interleaved rounds:
  ack  channel messages: acknowledged, de-duplicated in the store, dispatched, then left alone
  dm   direct messages: also a coach turn (dialog read and written in the store) and a reply posted
       to the fake Slack Web API (its own process) after the ack
Reported: events/s of each setup and their ratio, and the p99 ack time (for the pair, the worse of its two).

Part 2, exactly once. N direct messages (default 10,000) spread over both PostgreSQL copies by a Python
client at 100 in flight; 10% are also sent a second time, at the same moment, to the other copy with
Slack's retry headers. Every message has its own DM channel, so counting chat.postMessage calls per
channel at the fake Slack API gives duplicates (a channel answered twice) and losses (never answered).

Run:  python bench/bench_pg.py [--duration 10] [--rounds 3] [--loads ack,dm] [--events 10000] [--dsn URL]
Needs wrk (Debian: apt-get install wrk) and a PostgreSQL server (--dsn, else COACH_TEST_PG_DSN, else
postgresql://postgres@127.0.0.1:5432/test); it makes its own schema there and drops it after.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_slack import (  # noqa: E402  (the same wrk command and pre-signed script, fixture reader and built-in bodies)
    CHANNEL_MESSAGE,
    DIRECT_MESSAGE,
    WRK_SCRIPT,
    fixture,
    wrk_command,
)

from tests.slack_signing import signature, signed_headers  # noqa: E402  (after the path is set)

SECRET = "bench-signing-secret"
CONNECTIONS = 100
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"

DM_TEXTS = (
    "cx furious, blender smoked on day 2",
    "lady at the counter wants a refund, parcel came late, she's fuming",
    "new customer just signed up, doesn't know how to log in",
    "customer on the line, need help",
    "regular of ten years, calm, asking about the new plan",
)


def template(name: str, fallback: dict) -> dict:
    body = fixture(name, fallback)
    body["event"].pop("blocks", None)
    body["event"].pop("client_msg_id", None)
    return body


class Events:
    """Event bodies, each with an event_id, ts, user and (for DMs) channel never used before in this run."""

    def __init__(self) -> None:
        self.serial = 0
        self.run = uuid.uuid4().hex[:6]
        self.templates = {
            "ack": template("event_message_channel_thread_reply.json", CHANNEL_MESSAGE),
            "dm": template("event_message_im.json", DIRECT_MESSAGE),
        }

    def next(self, load: str) -> tuple[str, bytes]:
        """(channel, body) of a new event."""
        self.serial += 1
        n = self.serial
        body = copy.deepcopy(self.templates[load])
        body["event_id"] = f"Ev{self.run}x{n}"
        body["event"]["ts"] = body["event"]["event_ts"] = f"{1726000000 + n // 1_000_000}.{n % 1_000_000:06d}"
        body["event"]["user"] = f"U{self.run}{n}"
        if load == "dm":
            body["event"]["channel"] = f"D{self.run}{n}"
            body["event"]["text"] = DM_TEXTS[n % len(DM_TEXTS)]
        return body["event"]["channel"], json.dumps(body, separators=(",", ":")).encode()

    def write(self, path: Path, load: str, count: int) -> None:
        ts = str(int(time.time()))
        with path.open("wb") as out:
            for _ in range(count):
                _, raw = self.next(load)
                out.write(f"{ts} {signature(SECRET, ts, raw)} {len(raw)}\n".encode() + raw)


# ------------------------------------------------------------------------ the fake Slack Web API (child process)


async def fake_slack() -> None:
    """FakeSlackApi plus a /stats route (posts per channel) and /reset, until SIGTERM."""
    from aiohttp import web

    from tests.fakes.slack_api import FakeSlackApi

    api = await FakeSlackApi().start()

    async def stats(_: web.Request) -> web.Response:
        channels: dict[str, int] = {}
        for call in api.of("chat.postMessage"):
            channel = str(call.body.get("channel"))
            channels[channel] = channels.get(channel, 0) + 1
        return web.json_response({"posts": sum(channels.values()), "channels": channels})

    async def reset(_: web.Request) -> web.Response:
        api.calls.clear()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(api.url, runner.addresses[0][1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await api.stop()


class Fake:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--fake-slack"], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None  # stdout=PIPE
        line = self.process.stdout.readline().split()
        if len(line) != 2:
            self.process.kill()
            raise SystemExit("the fake Slack API did not start")
        self.api_url, self.stats_url = line[0], f"http://127.0.0.1:{line[1]}"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.stats_url + "/stats", timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.stats_url + "/reset", method="POST"), timeout=30).read()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


# ---------------------------------------------------------------------------------------- copies of the bot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Copy:
    """``python app.py serve`` on a port of its own, WARNING logs only (no access log under load)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        full = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "Microsoft", "DATABASE_URL", "COACH_DB"))
        }
        full.update(PORT=str(self.port), HOST="127.0.0.1", LOG_LEVEL="WARNING", **env)
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "serve"],
            env=full,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9
        finally:
            self.log.close()


# ---------------------------------------------------------------------------------------- part 1: wrk


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def cpu_snapshot(copies: list[Copy], fake: Fake) -> dict[str, float]:
    return {
        "bot": sum(cpu_seconds(c.process.pid) for c in copies),
        "postgres": sum(cpu_seconds(pid) for pid in postgres_pids()),
        "fake Slack": cpu_seconds(fake.process.pid),
    }


def start_wrk(port: int, requests_file: Path, script: Path, connections: int, duration: float) -> subprocess.Popen:
    command = wrk_command(port, requests_file, script, connections, duration)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wrk_result(process: subprocess.Popen, duration: float) -> dict:
    out, err = process.communicate(timeout=duration + 120)
    line = next((line for line in out.splitlines() if line.startswith("{")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result: {out}{err}")
    result = json.loads(line)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def load_setup(
    copies: list[Copy], load: str, events: Events, work: Path, script: Path, duration: float, rate: float
) -> dict:
    """All copies of one setup under load at once, CONNECTIONS split evenly; events/s summed, the worst p99."""
    count = int(rate * duration * 1.5 / len(copies)) + 2000
    processes = []
    for copy_ in copies:
        file = work / f"{copy_.name}.req"
        events.write(file, load, count)
        processes.append(start_wrk(copy_.port, file, script, CONNECTIONS // len(copies), duration))
    results = [wrk_result(process, duration) for process in processes]
    return {
        "rps": sum(r["rps"] for r in results),
        "p50_us": max(r["p50_us"] for r in results),
        "p99_us": max(r["p99_us"] for r in results),
        "bad": sum(r["non2xx"] + r["errors"] for r in results),
        "wrapped": any(r["requests"] > count for r in results),
    }


def part_one(setups: dict[str, list[Copy]], fake: Fake, loads: list[str], rounds: int, duration: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-pg-wrk-"))
    script = work / "signed.lua"
    script.write_text(WRK_SCRIPT)
    events = Events()
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        for load in loads:
            rate = {}
            for name, copies in setups.items():  # warm-up: imports, auth.test, pools, caches; a first rate estimate
                rate[name] = max(load_setup(copies, load, events, work, script, 2, 3000)["rps"], 500.0)
                fake.reset()
            for number in range(1, rounds + 1):
                for name, copies in setups.items():
                    before = cpu_snapshot(copies, fake)
                    result = load_setup(copies, load, events, work, script, duration, rate[name])
                    after = cpu_snapshot(copies, fake)
                    result["cpu"] = {
                        key: (after[key] - before[key]) / (result["rps"] * duration) * 1e6 for key in before
                    }  # µs per event
                    rate[name] = max(rate[name], result["rps"])
                    results.setdefault((load, name), []).append(result)
                    print(
                        f"{load:>3} round {number} {name:>13}: {result['rps']:8.0f} events/s  p50 "
                        f"{result['p50_us'] / 1000:6.2f} ms  p99 {result['p99_us'] / 1000:7.2f} ms  non-2xx/errors "
                        f"{result['bad']}{'  (bodies reused!)' if result['wrapped'] else ''}  "
                        "CPU µs/event: " + ", ".join(f"{key} {value:.0f}" for key, value in result["cpu"].items()),
                        flush=True,
                    )
                    time.sleep(1.0)  # let replies still being posted drain before the other setup's turn
                    fake.reset()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


# ---------------------------------------------------------------------------------------- part 2: exactly once


async def part_two(copies: list[Copy], fake: Fake, total: int, twice: float, concurrency: int) -> dict:
    import aiohttp

    events = Events()
    rng = random.Random(7)
    statuses: dict[int, int] = {}
    channels: list[str] = []
    doubled = 0

    async def post(session: aiohttp.ClientSession, target: Copy, raw: bytes, retry: int | None) -> None:
        headers = signed_headers(SECRET, raw, content_type="application/json", retry_num=retry)
        try:
            async with session.post(target.url + "/slack/events", data=raw, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
        except (TimeoutError, aiohttp.ClientError):
            statuses[0] = statuses.get(0, 0) + 1

    fake.reset()
    started = time.monotonic()
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(n: int) -> None:
            nonlocal doubled
            channel, raw = events.next("dm")
            channels.append(channel)
            first, other = copies[n % 2], copies[(n + 1) % 2]
            async with limit:
                if rng.random() < twice:  # the same event to the other copy at the same moment, as Slack's retry
                    doubled += 1
                    await asyncio.gather(post(session, first, raw, None), post(session, other, raw, 1))
                else:
                    await post(session, first, raw, None)

        await asyncio.gather(*(one(n) for n in range(total)))
    sent = time.monotonic() - started

    # Replies go out after the acks: wait until every channel has one, or nothing has moved for 10 s.
    last, still = -1, time.monotonic()
    while True:
        stats = fake.stats()
        if stats["posts"] >= total and len(stats["channels"]) >= total:
            break
        if stats["posts"] != last:
            last, still = stats["posts"], time.monotonic()
        elif time.monotonic() - still > 10:
            break
        await asyncio.sleep(0.5)
    time.sleep(2.0)  # and a little longer, for any late duplicate
    stats = fake.stats()
    answered = stats["channels"]
    return {
        "events": total,
        "sent_twice": doubled,
        "deliveries": total + doubled,
        "acks": statuses,
        "seconds": sent,
        "replies": stats["posts"],
        "duplicates": sum(count - 1 for count in answered.values() if count > 1),
        "lost": sum(1 for channel in channels if channel not in answered),
    }


# ---------------------------------------------------------------------------------------- driver


def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    async def run() -> None:
        con = await asyncpg.connect(dsn, timeout=5)
        try:
            await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await con.close()

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per setup per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loads", default="ack,dm")
    parser.add_argument("--events", type=int, default=10_000, help="direct messages in part 2")
    parser.add_argument("--twice", type=float, default=0.10, help="share of part 2's events sent to both copies")
    parser.add_argument("--dsn", default=os.environ.get("COACH_TEST_PG_DSN") or DEFAULT_DSN)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--fake-slack", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_slack:
        asyncio.run(fake_slack())
        return 0
    if shutil.which("wrk") is None and not args.skip_throughput:
        raise SystemExit("wrk not found: apt-get install wrk")

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    database_url = f"{args.dsn}{'&' if '?' in args.dsn else '?'}search_path={schema}"
    work = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    fake = Fake()
    slack_env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url}
    pg = [Copy(f"pg-{n}", {**slack_env, "DATABASE_URL": database_url}, work) for n in (1, 2)]
    sqlite = [Copy("sqlite", {**slack_env, "COACH_DB": str(work / "coach.sqlite3")}, work)]
    copies = pg + sqlite
    codes: list[int] = []
    try:
        for copy_ in copies:
            copy_.wait_ready()
        print(
            f"ready: 2 copies on PostgreSQL ({schema}), 1 copy on SQLite; {os.cpu_count()} CPUs shared by all, wrk "
            "and the fake Slack API",
            flush=True,
        )
        loads = [load.strip() for load in args.loads.split(",") if load.strip()]
        throughput = (
            {}
            if args.skip_throughput
            else part_one({"2x PostgreSQL": pg, "1x SQLite": sqlite}, fake, loads, args.rounds, args.duration)
        )
        once = asyncio.run(part_two(pg, fake, args.events, args.twice, CONNECTIONS))
    finally:
        codes = [copy_.stop() for copy_ in copies]
        fake.stop()
        drop_schema(args.dsn, schema)

    if throughput:
        print(
            f"\nPart 1: {CONNECTIONS} concurrent connections, wrk in its own processes, {args.rounds} interleaved "
            f"rounds of {args.duration:g} s"
        )
        print("load  setup            events/s (median)   p50 ms   p99 ms (worst round)   non-2xx/errors")
        for load in loads:
            median = {}
            for name in ("2x PostgreSQL", "1x SQLite"):
                runs = results = throughput[(load, name)]
                median[name] = sorted(r["rps"] for r in runs)[len(runs) // 2]
                p50 = sorted(r["p50_us"] for r in results)[len(results) // 2] / 1000
                p99 = max(r["p99_us"] for r in results) / 1000
                print(
                    f"{load:>4}  {name:<15}  {median[name]:17.0f}   {p50:6.2f}   {p99:7.2f}                "
                    f"{sum(r['bad'] for r in runs)}"
                )
            print(f"{load:>4}  ratio 2x PostgreSQL / 1x SQLite: {median['2x PostgreSQL'] / median['1x SQLite']:.2f}")
    print(
        f"\nPart 2: {once['events']} direct messages over the 2 PostgreSQL copies, {once['sent_twice']} of them also "
        "sent to the other copy at the same moment"
    )
    print(f"  deliveries {once['deliveries']} in {once['seconds']:.1f} s, acks by status {once['acks']}")
    print(f"  replies at the fake Slack API {once['replies']}: duplicates {once['duplicates']}, lost {once['lost']}")
    print(f"  copies exited with {codes}")
    ok = once["duplicates"] == 0 and once["lost"] == 0 and set(once["acks"]) == {200}
    print("exactly once: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
