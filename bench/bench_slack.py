"""Slack ack benchmark: signed event → 200, p50/p99 latency and events/s at 50 concurrent requests, with wrk.

Three servers, each in its own process, take the same load in turn (interleaved rounds):
  bare   a bare aiohttp handler that reads the body and answers 200 (ceiling a)
  bolt   a bare slack-bolt AsyncApp whose one listener only acks (ceiling b)
  coach  the bot's Slack adapter: body guard, signature, de-duplication in the store, dispatch
wrk runs in its own process and sends pre-signed bodies with a fresh timestamp and a unique event_id.

Two loads:
  ack    channel messages that are acked, de-duplicated, dispatched and then left alone: the ack path
  dm     direct messages: the coach also answers each one after the ack (a coach turn and a
         chat.postMessage to a fake Web API in a process of its own), and that work shares the CPU

Run:  python bench/bench_slack.py [--rounds 3] [--duration 8] [--store sqlite|memory] [--loads ack,dm]
Targets (Slack issue): coach ≥ 80% of bolt's events/s on the ack path, p99 ack < 50 ms.
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret"
CONNECTIONS = 50
TARGETS = ("bare", "bolt", "coach")
FIXTURES = ROOT.parent / "shared" / "fixtures" / "slack"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/slack")

# Built-in copies of the two fixture bodies, used when the shared fixtures are not next to the repo.
CHANNEL_MESSAGE = {
    "token": "verification_token",
    "team_id": "T111",
    "enterprise_id": "E111",
    "api_app_id": "A111",
    "event": {
        "user": "W222",
        "type": "message",
        "ts": "1726133700.887259",
        "text": "When Slack was released?",
        "team": "T111",
        "thread_ts": "1726133698.626339",
        "parent_user_id": "W222",
        "channel": "C111",
        "event_ts": "1726133700.887259",
        "channel_type": "channel",
    },
    "type": "event_callback",
    "event_id": "Ev111",
    "event_time": 1599616881,
    "authorizations": [
        {"enterprise_id": "E111", "team_id": "T111", "user_id": "W111", "is_bot": True, "is_enterprise_install": False}
    ],
}
DIRECT_MESSAGE = {
    "token": "verification_token",
    "team_id": "T111",
    "enterprise_id": "E111",
    "api_app_id": "A111",
    "event": {
        "user": "W222",
        "type": "message",
        "ts": "1726133700.887259",
        "text": "A top-level DM, not in a thread",
        "channel": "D111",
        "event_ts": "1726133700.887259",
        "channel_type": "im",
    },
    "type": "event_callback",
    "event_id": "Ev111",
    "event_time": 1599616881,
    "authorizations": [
        {"enterprise_id": "E111", "team_id": "T111", "user_id": "W111", "is_bot": True, "is_enterprise_install": False}
    ],
}
DM_TEXTS = (
    "cx furious, blender smoked on day 2",
    "lady at the counter wants a refund, parcel came late, she's fuming",
    "new customer just signed up, doesn't know how to log in",
    "customer on the line, need help",
)

WRK_SCRIPT = r"""
-- Pre-signed requests: each record is "timestamp signature length\n" followed by the body.
local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  reqs = {}
  wrapped = 0
  local f = assert(io.open(args[1], "rb"))
  while true do
    local line = f:read("*l")
    if not line then break end
    local ts, sig, len = line:match("^(%S+) (%S+) (%d+)$")
    local body = f:read(tonumber(len))
    reqs[#reqs + 1] = wrk.format("POST", "/slack/events", {
      ["Content-Type"] = "application/json",
      ["X-Slack-Request-Timestamp"] = ts,
      ["X-Slack-Signature"] = sig,
    }, body)
  end
  f:close()
  idx = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1; wrapped = wrapped + 1 end
  return reqs[idx]
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"non2xx": %d, "errors": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, w))
end
"""


def fixture(name: str, fallback: dict) -> dict:
    path = FIXTURES / name
    return json.loads(path.read_text()) if path.is_file() else copy.deepcopy(fallback)


# ---------------------------------------------------------------------------------------- servers (child processes)


async def serve_api() -> None:
    """The fake Slack Web API in a process of its own, so its work is not counted against the bot."""
    from tests.fakes.slack_api import FakeSlackApi

    api = await FakeSlackApi().start()
    api.identity.update(user_id="W111", bot_id="B111", team_id="T111")
    print(api.url, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(
        json.dumps({"chat.postMessage": len(api.of("chat.postMessage")), "auth.test": len(api.of("auth.test"))}),
        file=sys.stderr,
        flush=True,
    )
    await api.stop()


async def serve(target: str, store_kind: str, gc_freeze: bool, knowledge: str | None, api_url: str) -> None:
    from aiohttp import web

    logging.basicConfig(level=logging.WARNING)
    web_app = web.Application()
    if target == "bare":

        async def bare(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=200)

        web_app.router.add_post("/slack/events", bare)
    else:
        if target == "bolt":
            from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
            from slack_bolt.async_app import AsyncApp
            from slack_sdk.web.async_client import AsyncWebClient

            app = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=api_url), signing_secret=SECRET)

            @app.event("message")
            async def only_ack(ack) -> None:
                await ack()

            async def bolt(request: web.Request) -> web.Response:
                return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

            web_app.router.add_post("/slack/events", bolt)
        else:
            from adapters.slack import mount_slack, slack_config
            from bot.coach import build_coach
            from bot.store import Store

            if store_kind == "sqlite":
                from bot.store.sqlite import SQLiteStore

                store: Store = SQLiteStore(path=Path(tempfile.mkdtemp(prefix="bench-slack-")) / "coach.sqlite3")
            else:
                from bot.store.memory import MemoryStore

                store = MemoryStore()
            coach = build_coach(knowledge_dir=knowledge, store=store)
            config = slack_config(
                {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url}
            )
            assert config is not None  # both Slack variables are set
            mount_slack(web_app, coach, config)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    if gc_freeze:  # everything built so far is long-lived: keep it out of the collector's full scans
        import gc

        gc.collect()
        gc.freeze()
    print(runner.addresses[0][1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


# ---------------------------------------------------------------------------------------- driver


class Bodies:
    """Signed bodies, each with an event_id (and for DMs a ts) never used before in this run."""

    def __init__(self) -> None:
        self.serial = 0
        self.templates = {
            "ack": fixture("event_message_channel_thread_reply.json", CHANNEL_MESSAGE),
            "dm": fixture("event_message_im_bolt.json", DIRECT_MESSAGE),
        }

    def write(self, path: Path, load: str, count: int) -> None:
        template = self.templates[load]
        ts = str(int(time.time()))
        key = SECRET.encode()
        with path.open("wb") as out:
            for _ in range(count):
                self.serial += 1
                body = copy.deepcopy(template)
                body["event_id"] = f"EvBench{os.getpid()}x{self.serial}"
                body["event"]["ts"] = body["event"]["event_ts"] = f"1726133700.{self.serial:06d}"
                if load == "dm":
                    body["event"]["text"] = DM_TEXTS[self.serial % len(DM_TEXTS)]
                    body["event"]["user"] = f"W{self.serial % 5000}"
                raw = json.dumps(body, separators=(",", ":")).encode()
                signature = "v0=" + hmac.new(key, b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
                out.write(f"{ts} {signature} {len(raw)}\n".encode() + raw)


def wrk_command(port: int, requests_file: Path, script: Path, connections: int, duration: float) -> list[str]:
    """One wrk thread on loopback, replaying ``requests_file`` through the pre-signed ``script``."""
    return [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(requests_file),
    ]


def run_wrk(port: int, requests_file: Path, script: Path, duration: float) -> dict:
    command = wrk_command(port, requests_file, script, CONNECTIONS, duration)
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
    result = json.loads(line)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def start_server(target: str, args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    options = [
        "--api-url",
        args.api_url or "",
        "--store",
        args.store,
        *(["--gc-freeze"] if args.gc_freeze else []),
        *(["--knowledge", args.knowledge] if args.knowledge else []),
    ]
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", target, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None  # both PIPE
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"{target} server did not start: {line}{process.stderr.read()}")
    return process, int(line)


def start_api() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", "api"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None  # both PIPE
    line = process.stdout.readline().strip()
    if not line.startswith("http://127.0.0.1:"):
        process.kill()
        raise SystemExit(f"fake Slack API did not start: {line}{process.stderr.read()}")
    return process, line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per target per round")
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--loads", default="ack,dm")
    parser.add_argument("--knowledge", help="knowledge folder for the coach (default: the shipped one)")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() in every server after start-up (what app.py could do)"
    )
    parser.add_argument("--targets", default=",".join(TARGETS), help="a subset, for trying the script out")
    parser.add_argument("--serve", choices=(*TARGETS, "api"), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.serve == "api":
            asyncio.run(serve_api())
        else:
            asyncio.run(serve(args.serve, args.store, args.gc_freeze, args.knowledge, args.api_url))
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-slack-wrk-"))
    script = work / "signed.lua"
    script.write_text(WRK_SCRIPT)
    bodies = Bodies()
    targets = [t for t in TARGETS if t in args.targets.split(",")]
    api_process, args.api_url = start_api()
    servers = {target: start_server(target, args) for target in targets}
    loads = [load.strip() for load in args.loads.split(",") if load.strip()]
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        for load in loads:
            rate = {target: 3000.0 for target in targets}
            for target in targets:  # warm-up: auth.test, imports, caches; and a first rate estimate
                file = work / f"{target}.req"
                bodies.write(file, load, 6000)
                rate[target] = max(run_wrk(servers[target][1], file, script, 2)["rps"], 500.0)
            for number in range(1, args.rounds + 1):
                for target in targets:
                    file = work / f"{target}.req"
                    count = int(rate[target] * args.duration * 1.6) + 2000
                    bodies.write(file, load, count)
                    result = run_wrk(servers[target][1], file, script, args.duration)
                    rate[target] = max(rate[target], result["rps"])
                    results.setdefault((load, target), []).append(result)
                    print(
                        f"{load:>3} round {number} {target:>5}: {result['rps']:8.0f} events/s  p50 "
                        f"{result['p50_us'] / 1000:6.2f} ms  p99 {result['p99_us'] / 1000:6.2f} ms  non-2xx "
                        f"{result['non2xx']}  errors {result['errors']}  reused bodies {result['wrapped']}",
                        flush=True,
                    )
    finally:
        for process, _ in [*servers.values(), (api_process, "")]:
            process.send_signal(signal.SIGTERM)
        for name, (process, _) in [*servers.items(), ("api", (api_process, ""))]:
            try:
                _, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                err = ""
            if name == "api" and err.strip():
                print(f"fake Web API received: {err.strip().splitlines()[-1]}")
        shutil.rmtree(work, ignore_errors=True)

    freeze = ", gc.freeze() after start-up" if args.gc_freeze else ""
    print(
        f"\n{CONNECTIONS} concurrent, wrk in its own process, {args.rounds} interleaved rounds of {args.duration:g} s, "
        f"store {args.store}{freeze}"
    )
    print("load  target   events/s   p50 ms   p99 ms   p99 ms worst round   vs bare   vs bolt   (medians over rounds)")
    verdicts = []

    def median_of(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    for load in loads:
        rps = {target: median_of([r["rps"] for r in results[(load, target)]]) for target in targets}
        for target in targets:
            runs = results[(load, target)]
            p50 = median_of([r["p50_us"] for r in runs]) / 1000
            p99 = median_of([r["p99_us"] for r in runs]) / 1000
            worst = max(r["p99_us"] for r in runs) / 1000
            vs = "   ".join(
                f"{rps[target] / rps[base]:7.1%}" if base in rps else "      -" for base in ("bare", "bolt")
            )
            print(f"{load:>4}  {target:>6}   {rps[target]:8.0f}   {p50:6.2f}   {p99:6.2f}   {worst:19.2f}   {vs}")
        if load == "ack" and {"bolt", "coach"} <= set(rps):
            runs = results[(load, "coach")]
            p99 = median_of([r["p99_us"] for r in runs]) / 1000
            bad = sum(r["non2xx"] + r["errors"] for t in ("bolt", "coach") for r in results[(load, t)])
            verdicts.append(
                f"ack path: coach/bolt {rps['coach'] / rps['bolt']:.1%} (target ≥ 80%), coach p99 {p99:.2f} ms median "
                f"of rounds, {max(r['p99_us'] for r in runs) / 1000:.2f} ms worst (target < 50 ms), non-2xx/errors "
                f"{bad}"
            )
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
