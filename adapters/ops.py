"""Operations routes on the bot's aiohttp server: /healthz (alive), /readyz (can take turns), /metrics (Prometheus).

A load balancer sends traffic to a copy only while /readyz answers 200; an orchestrator restarts a
copy whose /healthz stops answering. /healthz never touches storage, so a database outage makes
every copy not ready (traffic waits) instead of having them all restarted.
"""
from __future__ import annotations

import asyncio
import logging
from aiohttp import web

from bot.metrics import Metrics
from bot.ports import CoachPort

_LOGGER = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
PING_TIMEOUT = 2.0  # seconds the storage has to answer a readiness check
NO_STORE = {"Cache-Control": "no-store"}


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
    except asyncio.TimeoutError:
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


__all__ = ["HEALTH_PATH", "METRICS_PATH", "READY_PATH", "knowledge_loaded", "mount_ops", "readiness"]
