"""Delivers what turns left in the store's outbox, once each, on whichever copy is alive.

Why: an adapter that answers the platform before it posts the reply (Slack gets its 200 at once,
then the bot calls the Web API) would lose the reply if the process died in between, and the
platform never sends the message again after a 200. So a turn writes what it must send into the
outbox in the same transaction as the dialog it changed, before the acknowledgement, and this
deliverer sends it:

- at once, by the copy that made it (the item is created leased to that copy, so no other copy
  touches it meanwhile);
- or, if that copy died, by any copy's sweep once the lease has run out (``LEASE`` seconds).

An item is removed when the platform took it. Two windows are left: a copy dying after the
platform took a post but before the item was removed, and a send cut short at the end of its lease
(see SEND_MARGIN) after the platform had taken it but before it answered. Either way the item is
sent again. A rare duplicate was chosen over a rare loss, because the agent is mid-call waiting for
that answer, and a second copy of the same card is harmless (updates of a message are idempotent
anyway). The items of one turn go out in their order: a later one waits while an earlier one is
retried.

A refusal the platform may get over (rate limit, 5xx, network) is retried with backoff, and never before a
rate limit's Retry-After has passed (``RetryLater``), until the item is ``GIVE_UP_AFTER`` seconds old; after
that it is dropped with a warning, because an answer about a call long over helps no one. A refusal that will
not change (a bad channel, a revoked token) is dropped at once. Nothing here logs the payload: it can quote the
agent's cue words.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.store import Store

_LOGGER = logging.getLogger(__name__)

LEASE = 10.0  # seconds an item stays with the copy that made it or took it, before another copy may
SWEEP_EVERY = 2.0  # seconds between sweeps for items whose lease ran out
# A send must end before its item's lease does, or a sweep (on any copy, this one too) takes the item and sends it
# while the first send is still in flight: the platform's clients wait up to 30 s and sleep through rate limits.
# So each send gets the lease's time left less this share of it (clocks of copies differ a little), and a send
# cut short is retried like any other refusal, by one copy at a time.
SEND_MARGIN = 0.2
# Items taken at a time by a sweep, and sent one after another: few enough that even a slow platform
# (half a second a post) gets through them well inside their LEASE, so no other copy takes them meanwhile.
BATCH = 10
GIVE_UP_AFTER = 600.0  # an item not delivered within ten minutes is dropped
MAX_BACKOFF = 60.0  # the longest wait between tries; before that a quarter of the item's age, from 2 s


class Permanent(Exception):
    """Raised by ``send`` for a refusal that retrying will not change: the item is dropped."""


class RetryLater(Exception):
    """Raised by ``send`` when the platform said how long to wait (a rate limit's Retry-After): the item is not tried
    again before then, on any copy, so that no copy hammers a platform that has asked for quiet.

    Args:
        after: seconds the platform asked for.
    """

    def __init__(self, after: float) -> None:
        super().__init__(f"retry after {after:.0f} s")
        self.after = after


Send = Callable[[dict[str, Any]], Awaitable[None]]


class Deliverer:
    """The outbox of one platform on one copy.

    Args:
        store: the Store holding the outbox.
        platform: whose items this copy sends ("slack").
        send: posts one payload; raises ``Permanent`` for a hopeless refusal, anything else to retry.
        clock: Unix seconds.
    """

    def __init__(
        self,
        *,
        store: Store,
        platform: str,
        send: Send,
        clock: Callable[[], float] = time.time,
        track: Callable[[asyncio.Task], None] | None = None,
    ) -> None:
        """``track`` is told of every delivery task, so that a graceful shutdown waits for them (bot.metrics)."""
        self.store = store
        self.track = track
        self.platform = platform
        self.send = send
        self.clock = clock
        self.token = secrets.token_hex(8)  # this copy, as holder of leases
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    def items(self, payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Outbox items for ``payloads``, in order, leased to this copy: what ``Coach.handle(outbox=...)`` stores."""
        lease_until = self.clock() + LEASE
        turn = secrets.token_hex(8)  # one prefix per turn: its items sort in order, and wait for one another
        return [
            {
                "id": f"{turn}-{n:02d}",
                "platform": self.platform,
                "payload": p,
                "token": self.token,
                "lease_until": lease_until,
            }
            for n, p in enumerate(payloads)
        ]

    def deliver_soon(self, items: Sequence[dict[str, Any]]) -> None:
        """Send ``items`` (already stored) in order in the background; the request that made them is answered
        meanwhile."""
        if not items:
            return
        self._keep(asyncio.get_running_loop().create_task(self._deliver(list(items))))

    async def deliver_now(self, items: Sequence[dict[str, Any]]) -> None:
        """Send ``items`` (already stored) in order before returning, for a reply that must go out before what the
        caller does next (the welcome before a DM's prompts). One the platform may yet take stays in the store and
        is retried like any other."""
        await self._deliver(list(items))

    def _keep(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.track is not None:
            self.track(task)

    def send_unstored(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Send ``payloads`` the store could not keep (it is down: an apology), once, in the background, best effort."""

        async def send_all() -> None:
            for payload in payloads:
                try:
                    await self.send(payload)
                except Exception as error:  # noqa: BLE001  nothing to retry from: it was never stored
                    _LOGGER.warning(
                        "a reply that could not be stored was not delivered either: %s", type(error).__name__
                    )

        if payloads:
            self._keep(asyncio.get_running_loop().create_task(send_all()))

    async def _deliver(self, items: list[dict[str, Any]]) -> None:
        """Send ``items`` in order: a question card before the note that follows it. Where one is not delivered
        yet, the later items of its turn wait until it is retried, so that none of them goes out before it."""
        held: dict[str, float] = {}  # turn -> when its first undelivered item is tried again
        for item in items:
            turn = item["id"].rsplit("-", 1)[0]
            if turn in held:
                await self.store.release_outbox(item["id"], self.token, held[turn])
                continue
            retry_at = await self._send_one(item)
            if retry_at is not None:
                held[turn] = retry_at

    async def _send_one(self, item: dict[str, Any]) -> float | None:
        """Send one item; None once it is done with (sent or dropped), else when it is tried again."""
        left = float(item["lease_until"]) - self.clock() - LEASE * SEND_MARGIN
        if left <= 0:
            return float(item["lease_until"])  # the lease is all but gone: the sweep that takes it sends it, alone
        try:
            async with asyncio.timeout(left):
                await self.send(item["payload"])
        except Permanent as error:
            _LOGGER.warning(
                "outbox item dropped, the platform refused it for good: %s", type(error.__cause__ or error).__name__
            )
            await self.store.finish_outbox(item["id"], self.token)
            return None
        except Exception as error:  # noqa: BLE001  anything else may pass: retry later, on any copy
            age = self.clock() - float(item.get("created", self.clock()))
            if age > GIVE_UP_AFTER:
                _LOGGER.warning(
                    "outbox item dropped, not delivered within %.0f s: %s", GIVE_UP_AFTER, type(error).__name__
                )
                await self.store.finish_outbox(item["id"], self.token)
                return None
            wait = min(MAX_BACKOFF, 2.0 + age / 4)
            if isinstance(error, RetryLater):
                wait = max(wait, error.after)
                if age + wait > GIVE_UP_AFTER:  # the platform's window ends after the answer stops being of use
                    _LOGGER.warning("outbox item dropped, rate-limited past %.0f s", GIVE_UP_AFTER)
                    await self.store.finish_outbox(item["id"], self.token)
                    return None
            _LOGGER.info("outbox item not delivered (%s), retried in %.0f s", type(error).__name__, wait)
            await self.store.release_outbox(item["id"], self.token, self.clock() + wait)
            return self.clock() + wait
        await self.store.finish_outbox(item["id"], self.token)
        return None

    async def sweep(self) -> int:
        """Send what no copy holds any more (its maker died, or a retry is due); how many were tried."""
        now = self.clock()
        taken = await self.store.claim_outbox(self.platform, self.token, now, now + LEASE, BATCH)
        await self._deliver(taken)
        return len(taken)

    def start(self) -> None:
        """Sweep every ``SWEEP_EVERY`` seconds until ``close``."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                while await self.sweep() == BATCH:  # more may be due: take the next few, each batch on a fresh lease
                    pass
                await self.store.purge_outbox(self.clock() - 2 * GIVE_UP_AFTER)  # left by a copy that gave up mid-way
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001  the store may be away for a while: sweep again later
                _LOGGER.warning("outbox sweep failed: %s", type(error).__name__)
            await asyncio.sleep(SWEEP_EVERY)

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop sweeping and give deliveries in flight ``grace`` seconds; what is left waits in the store."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
