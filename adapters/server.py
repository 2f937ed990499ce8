"""The HTTP server ``python app.py serve`` runs: Slack, Teams and the operations routes on one aiohttp app.

It owns the process's life: start serving even while the database is down (not ready until it
answers), sweep abandoned dialogs and old event ids, run the weekly tips, and on SIGTERM stop in
an order that loses nothing (see ``serve``).

The operations routes: /healthz (alive), /readyz (can take turns), /metrics (Prometheus). A load
balancer sends traffic to a copy only while /readyz answers 200; an orchestrator restarts a copy
whose /healthz stops answering. /healthz never touches storage, so a database outage makes every
copy not ready (traffic waits) instead of having them all restarted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping

from aiohttp import web

from adapters.settings import Settings
from adapters.slack import SlackConfig, mount_slack, slack_config, web_client
from adapters.slack.listeners import EVENT_KEEP, EVENT_SCOPE, WEEKLY_WAIT_IN_CALL
from adapters.slack.weekly import SlackPoster
from adapters.teams import TeamsConfig, mount_teams, teams_config
from adapters.teams.weekly import TeamsPoster
from bot.coach import freeze_startup_objects
from bot.errors import CoachError, StoreUnavailable
from bot.metrics import MeteredStore, Metrics
from bot.ports import CoachPort
from bot.store import Store
from bot.store.connect import NotConnected
from bot.weekly import Poster
from bot.weekly import run_forever as run_weekly

_LOGGER = logging.getLogger("frontline_coach")  # the name the server logged under in app.py: log filters keep matching

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
PING_TIMEOUT = 2.0  # seconds the storage has to answer a readiness check
NO_STORE = {"Cache-Control": "no-store"}

EXPIRY_INTERVAL = 300.0  # seconds between sweeps of abandoned dialogs and old event ids
SHUTDOWN_GRACE = 20.0  # on SIGTERM: seconds for requests in flight, then as long again for turns in flight
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between attempts to reach a database that was down at start
LOOPBACK, EVERY_INTERFACE = "127.0.0.1", "0.0.0.0"


# ---------------------------------------------------------------------- the operations routes


def knowledge_loaded(coach: CoachPort) -> bool:
    """The coach holds checked knowledge with something to say (scripts and questions)."""
    knowledge = getattr(coach, "knowledge", None)
    return bool(knowledge is not None and getattr(knowledge, "scripts", None) and getattr(knowledge, "questions", None))


async def readiness(coach: CoachPort) -> dict[str, str]:
    """One word per check, "ok" when it passes; the reason otherwise (an exception type, never its text)."""
    checks = {"knowledge": "ok" if knowledge_loaded(coach) else "not loaded"}
    try:
        await asyncio.wait_for(coach.store.ping(), PING_TIMEOUT)
        checks["storage"] = "ok"
    except TimeoutError:
        checks["storage"] = "timeout"
    except Exception as error:  # noqa: BLE001  any failure means "not ready"; the type says which
        checks["storage"] = type(error).__name__
    return checks


def mount_ops(web_app: web.Application, *, coach: CoachPort, metrics: Metrics) -> None:
    """Add GET /healthz, /readyz and /metrics to ``web_app``.

    Args:
        web_app: the bot's aiohttp application (shared with Slack and Teams).
        coach: its ``store`` is pinged and its ``knowledge`` checked by /readyz.
        metrics: what /metrics shows; /readyz sets its ``coach_ready`` gauge.
    """

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"alive": True}, headers=NO_STORE)

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness(coach)
        ready = all(value == "ok" for value in checks.values())
        metrics.ready.set(1 if ready else 0)
        if not ready:
            _LOGGER.debug("not ready: %s", checks)
        return web.json_response({"ready": ready, **checks}, status=200 if ready else 503, headers=NO_STORE)

    async def metrics_text(_: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type, **NO_STORE})

    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(READY_PATH, readyz)
    web_app.router.add_get(METRICS_PATH, metrics_text)


# ---------------------------------------------------------------------- where it listens, what it posts with


def listen_host(host: str | None, teams: TeamsConfig) -> str:
    """``HOST`` when set; otherwise every interface only when Teams checks its callers' tokens.

    Teams is always served, and without ``MicrosoftAppId`` its /api/messages takes anyone's activity
    and answers to whatever service URL the caller names. So a server without an app id, a Slack-only
    one included, listens on loopback until the operator sets ``HOST``; with one, both platforms check
    their callers (Slack's signature, Teams' token) and the server listens on every interface.
    """
    if host is None:
        if not teams.open:
            return EVERY_INTERFACE
        _LOGGER.warning(
            "Teams runs without authentication (no MicrosoftAppId): listening on 127.0.0.1 only; set HOST to change"
        )
        return LOOPBACK
    if teams.open and host not in (LOOPBACK, "localhost", "::1"):
        _LOGGER.warning(
            "Teams runs without authentication (no MicrosoftAppId) on HOST=%s: /api/messages takes anyone's activity",
            host,
        )
    return host


def platform_posters(*, slack: SlackConfig | None, teams: TeamsConfig, store: Store) -> dict[str, Poster]:
    """A weekly tip poster for each platform that is configured (the same for serve and ``tips run``)."""
    posters: dict[str, Poster] = {}
    if slack is not None:
        posters["slack"] = SlackPoster(client=web_client(slack, wait_in_call=WEEKLY_WAIT_IN_CALL))
    posters["teams"] = TeamsPoster(config=teams, store=store)
    return posters


async def close_posters(posters: Mapping[str, Poster]) -> None:
    for poster in posters.values():
        close = getattr(poster, "close", None)
        if close is not None:
            await close()


# ---------------------------------------------------------------------- the lifecycle


async def serve(settings: Settings, env: Mapping[str, str]) -> int:
    """Slack on /slack/events, Teams on /api/messages and /healthz, /readyz, /metrics on one aiohttp server, until
    SIGTERM or Ctrl-C.

    Several copies may run on one PostgreSQL database: every turn reads and writes its dialog there,
    and every "only once" is decided there. A copy whose database is down at start serves anyway,
    not ready (/readyz 503), and connects as soon as the database answers. On SIGTERM it stops
    listening, finishes the requests and turns in flight, and closes the store last.
    """
    slack = slack_config(env)  # a partial configuration stops here, before anything starts
    teams = teams_config(env)
    metrics = Metrics()
    store = MeteredStore(inner=NotConnected(), metrics=metrics)
    posters = platform_posters(slack=slack, teams=teams, store=store)
    coach = settings.build_coach(store, meter=metrics, posters=posters)
    freeze_startup_objects()
    try:
        store.inner = await settings.open_store()
    except StoreUnavailable as error:
        _LOGGER.warning("storage not reachable at start (%s): serving, not ready, until it answers", error)

    web_app = web.Application(client_max_size=1024 * 1024)
    mount_ops(web_app, coach=coach, metrics=metrics)
    if slack is not None:
        mount_slack(web_app, coach, slack)
    mount_teams(web_app, coach, teams)

    async def finish_turns(_: web.Application) -> None:
        left = await metrics.drain(SHUTDOWN_GRACE)
        if left:
            _LOGGER.warning("%d turn(s) still running after %.0f s; stopping anyway", left, SHUTDOWN_GRACE)

    # First of the clean-ups: the platforms' clients are still open, so turns in flight can post their replies.
    web_app.on_cleanup.insert(0, finish_turns)
    host = listen_host(settings.host, teams)

    stop = asyncio.Event()
    fatal: list[CoachError] = []

    async def keep_storage() -> None:
        """Connect if the database was down at start, then sweep now and every EXPIRY_INTERVAL."""
        delay = RETRY_FIRST
        while isinstance(store.inner, NotConnected):
            await asyncio.sleep(delay)
            try:
                store.inner = await settings.open_store()
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
                await store.purge_claims(EVENT_SCOPE, coach.clock() - EVENT_KEEP)
                if expired:
                    _LOGGER.info("expired %d abandoned dialog(s)", expired)
            except StoreUnavailable as error:
                metrics.error("sweep", error)
                _LOGGER.warning("sweep of abandoned dialogs skipped: storage unavailable; will retry")
            except Exception as error:
                metrics.error("sweep", error)
                _LOGGER.exception("sweep of abandoned dialogs failed; will retry")
            await asyncio.sleep(EXPIRY_INTERVAL)

    runner = web.AppRunner(
        web_app, shutdown_timeout=SHUTDOWN_GRACE, access_log=None
    )  # no line per request on the ack path; logs carry ids, not traffic
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
    await site.start()
    address = runner.addresses[0] if runner.addresses else (host, settings.port)
    _LOGGER.info(
        "serving on http://%s:%d (slack: %s, teams: %s, storage: %s)",
        address[0],
        address[1],
        "on" if slack else "off",
        "open, no authentication" if teams.open else "on",
        "PostgreSQL" if settings.database_url else "SQLite",
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    keeper = asyncio.create_task(keep_storage())
    tips_stop = asyncio.Event()
    tipper = asyncio.create_task(
        run_weekly(
            coach.tips.job,
            clock=coach.clock,
            stop=tips_stop,
            on_error=lambda error: metrics.error("weekly-tips", error),
        )
    )
    try:
        await stop.wait()
    finally:
        _LOGGER.info(
            "stopping: no new requests; finishing those and the turns in flight (up to %.0f s each)", SHUTDOWN_GRACE
        )
        keeper.cancel()
        tips_stop.set()  # a weekly run in flight finishes its posts: cut mid-send, a post would be lost for the week
        try:
            await asyncio.wait_for(tipper, SHUTDOWN_GRACE)
        except TimeoutError:
            _LOGGER.warning("weekly tip run still going after %.0f s; stopping anyway", SHUTDOWN_GRACE)
        await close_posters(posters)
        await runner.cleanup()  # stop listening, finish requests, finish turns, close the platforms' clients
        await store.close()  # last: the turns in flight needed it
        _LOGGER.info("stopped")
    if fatal:
        raise fatal[0]
    return 0


__all__ = [
    "HEALTH_PATH",
    "METRICS_PATH",
    "READY_PATH",
    "close_posters",
    "knowledge_loaded",
    "mount_ops",
    "platform_posters",
    "readiness",
    "serve",
]
