"""Counts and timings of one bot process for Prometheus, and a store wrapper that counts what goes through storage.

Everything is registered on a ``CollectorRegistry`` the app owns (never prometheus-client's global
one), so tests can build as many as they like. Labels hold platform names, reply kinds, type ids,
claim scopes and exception class names: small fixed sets, and never a person's words or ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.messages import Reply
from bot.store import Store

_LOGGER = logging.getLogger(__name__)

# Turn latency buckets, in seconds: a turn is milliseconds unless storage is slow or away (timeouts are 5 s).
TURN_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DRAIN_SETTLE = 0.05  # seconds without a new turn task before a drain counts as done


class Metrics:
    """The bot's metrics and the turns in flight.

    Args:
        registry: where to register; a new one by default.
    """

    registry: CollectorRegistry
    turns: Counter
    replies: Counter
    turn_seconds: Histogram
    in_flight: Gauge
    identified: Counter
    dedupe_hits: Counter
    feedback: Counter
    corrections: Counter
    errors: Counter
    ready: Gauge

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry if registry is not None else CollectorRegistry()
        self.turns = Counter("coach_turns", "Turns the coach handled, by platform", ["platform"], registry=registry)
        self.replies = Counter(
            "coach_replies", "Replies the coach gave, by platform and kind", ["platform", "kind"], registry=registry
        )
        self.turn_seconds = Histogram(
            "coach_turn_seconds",
            "Time the coach took for one turn",
            ["platform"],
            buckets=TURN_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge("coach_turns_in_flight", "Turns being handled right now", registry=registry)
        self.identified = Counter(
            "coach_identified",
            "Situations identified, by interaction and customer type (counts only)",
            ["interaction", "customer"],
            registry=registry,
        )
        self.dedupe_hits = Counter(
            "coach_dedupe_hits",
            "Deliveries dropped because their id was claimed before (Slack retries, duplicates), by claim scope",
            ["scope"],
            registry=registry,
        )
        self.feedback = Counter(
            "coach_feedback",
            "Agents' feedback on answers (confirmed, corrected) and scripts (helped, unhelpful); counts only",
            ["kind"],
            registry=registry,
        )
        self.corrections = Counter(
            "coach_corrections",
            "Types agents corrected, by dimension, the type read and the type picked",
            ["dimension", "read", "picked"],
            registry=registry,
        )
        self.errors = Counter(
            "coach_errors",
            "Failures, by where (a platform's turns, or the sweep) and exception type",
            ["source", "error"],
            registry=registry,
        )
        self.ready = Gauge(
            "coach_ready", "1 when storage answered the last readiness check and knowledge is loaded", registry=registry
        )
        self._turn_tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ turns

    def turn_started(self) -> float:
        """Note a turn starting in the current task (so a graceful shutdown waits for it); returns its start time."""
        self.in_flight.inc()
        task = asyncio.current_task()
        if task is not None:
            self.track(task)
        return time.perf_counter()

    def track(self, task: asyncio.Task) -> None:
        """Have a graceful shutdown wait for ``task`` too: one that sends a turn's replies after the ack."""
        if task not in self._turn_tasks:
            self._turn_tasks.add(task)
            task.add_done_callback(self._turn_tasks.discard)

    def turn_finished(
        self,
        platform: str,
        started: float,
        replies: Sequence[Reply],
        *,
        error: str | None = None,
        duplicate: bool = False,
    ) -> None:
        """``duplicate``: a delivery seen before, whose turn was dropped; counted as a dedupe hit, not as a turn."""
        self.in_flight.dec()
        if duplicate:
            return
        self.turns.labels(platform).inc()
        self.turn_seconds.labels(platform).observe(time.perf_counter() - started)
        for reply in replies:
            self.replies.labels(platform, reply.kind).inc()
        if error is not None:
            self.errors.labels(platform, error).inc()

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every task that has handled a turn to end, its replies sent.

        Adapters that acknowledge first (Slack) run the turn and post the replies in a task of their
        own, after the HTTP answer; this is what lets a shutdown wait for them. Returns how many
        were still running when the time was up.
        """
        deadline = time.monotonic() + timeout
        current = asyncio.current_task()
        while True:
            pending = {task for task in self._turn_tasks if task is not current and not task.done()}
            left = deadline - time.monotonic()
            if not pending:
                await asyncio.sleep(DRAIN_SETTLE)  # a request acked just before may not have reached the coach yet
                if not any(task is not current and not task.done() for task in self._turn_tasks):
                    return 0
                continue
            if left <= 0:
                return len(pending)
            await asyncio.wait(pending, timeout=left)

    # ------------------------------------------------------------------ storage and errors

    def error(self, source: str, error: BaseException) -> None:
        self.errors.labels(source, type(error).__name__).inc()

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every metric, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MeteredStore:
    """A ``Store`` that forwards every call to ``inner`` and counts identified types and lost claims on the way.

    ``inner`` may be replaced while running: the server starts with a stand-in that raises
    ``StoreUnavailable`` and puts the real store in once the database answers.

    Args:
        inner: the store doing the work.
        metrics: where to count.
    """

    inner: Store
    metrics: Metrics

    def __init__(self, *, inner: Store, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def claim(self, scope: str, key: str, now: float) -> bool:
        won = await self.inner.claim(scope, key, now)
        if not won:
            self.metrics.dedupe_hits.labels(scope).inc()
        return won

    async def count_identified(self, period: str, interaction: str, customer: str) -> None:
        await self.inner.count_identified(period, interaction, customer)
        self.metrics.identified.labels(interaction, customer).inc()

    async def tally(self, period: str, team: str, metric: str, key: str) -> None:
        await self.inner.tally(period, team, metric, key)
        self._feedback(metric, key)

    async def save_dialog(self, key: str, state: dict[str, Any], now: float, **changes: Any) -> bool:
        saved = await self.inner.save_dialog(key, state, now, **changes)
        if saved:
            for _, _, metric, count_key in changes.get("counts", ()):
                self._feedback(metric, count_key)
        return saved

    def _feedback(self, metric: str, key: str) -> None:
        if metric == "confirmed":
            self.metrics.feedback.labels("confirmed").inc()
        elif metric == "corrected":  # key "interaction:critical>planned"
            dimension, _, change = key.partition(":")
            read, _, picked = change.partition(">")
            self.metrics.feedback.labels("corrected").inc()
            self.metrics.corrections.labels(dimension, read, picked).inc()
        elif metric == "script":  # key "helped:<situation or pair>"
            self.metrics.feedback.labels(key.partition(":")[0]).inc()

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        return await self.inner.get_dialog(key)

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        await self.inner.put_dialog(key, state, now)

    async def delete_dialog(self, key: str) -> None:
        await self.inner.delete_dialog(key)

    async def purge_dialogs(self, idle_since: float) -> int:
        return await self.inner.purge_dialogs(idle_since)

    async def purge_claims(self, scope: str, before: float) -> int:
        return await self.inner.purge_claims(scope, before)

    async def put_conversation(self, platform: str, conversation: str, reference: dict[str, Any], now: float) -> None:
        await self.inner.put_conversation(platform, conversation, reference, now)

    async def get_conversation(self, platform: str, conversation: str) -> dict[str, Any] | None:
        return await self.inner.get_conversation(platform, conversation)

    async def identified_counts(self, period: str) -> dict[tuple[str, str], int]:
        return await self.inner.identified_counts(period)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        """Anything beyond the Store contract (``schema_version``, ``path``) is the inner store's."""
        if name == "inner":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)
