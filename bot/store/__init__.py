"""The storage contract: everything the bot keeps between turns goes through a ``Store``.

Every backend (memory for tests, SQLite embedded, a shared server database later) passes the same
contract suite in ``tests/test_store_contract.py``. Methods are async so that a networked backend
fits without touching the core; each "only once" is a single atomic operation of the backend,
never a read followed by a write, because several copies of the bot may share one store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Store(Protocol):
    """What the core and the adapters need from storage. Times are Unix seconds, passed in by the caller."""

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        """The saved state of the dialog under ``key``, or None. Expiry is the caller's decision."""

    async def load_dialog(self, key: str) -> tuple[dict[str, Any], int] | None:
        """The saved state and its version (1 or more), or None: what ``save_dialog`` compares against."""

    async def save_dialog(
        self,
        key: str,
        state: dict[str, Any],
        now: float,
        *,
        version: int,
        outbox: Sequence[dict[str, Any]] = (),
        claims: Sequence[tuple[str, str]] = (),
        counts: Sequence[tuple[str, str, str, str]] = (),
    ) -> bool:
        """Compare-and-set: save ``state`` only if the dialog is still at ``version`` (0: there was none).

        True when saved, with its version one up and every ``outbox`` item queued in the same
        transaction; False when another turn saved or deleted it since, and then nothing is written.
        Two copies answering one question at once: exactly one wins. Each of ``claims`` (scope, key) is
        made in the same transaction; if one was made before, nothing is written and ``AlreadyClaimed``
        is raised, so a delivery is claimed if and only if its turn is stored. Each of ``counts``
        (period, team, metric, key) adds one, as ``tally`` does, in that same transaction.
        """

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        """Save (create or replace) a dialog's state whatever its version; for tools and tests, not for turns."""

    async def delete_dialog(self, key: str) -> None:
        """Forget a dialog. Deleting one that is not there is not an error."""

    async def purge_dialogs(self, idle_since: float) -> int:
        """Delete dialogs with no activity since ``idle_since``; returns how many went."""

    async def claim(self, scope: str, key: str, now: float) -> bool:
        """Atomically mark ``key`` in ``scope`` as done. True for the first caller only, ever (until purged)."""

    async def release(self, scope: str, key: str) -> None:
        """Undo a claim this caller won but could not act on (the send failed), so that the next attempt, here or
        in another copy, may claim it and do the work; nothing done is claimed without being done."""

    async def purge_claims(self, scope: str, before: float) -> int:
        """Delete claims in ``scope`` made before ``before``; returns how many went."""

    async def put_conversation(self, platform: str, conversation: str, reference: dict[str, Any], now: float) -> None:
        """Remember how to reach a conversation later (for proactive posts), replacing an older reference."""

    async def get_conversation(self, platform: str, conversation: str) -> dict[str, Any] | None:
        """The stored reference of one conversation, or None."""

    async def count_identified(self, period: str, interaction: str, customer: str) -> None:
        """Add one identified situation to the counts of ``period`` (for example an ISO week "2026-W48")."""

    async def identified_counts(self, period: str) -> dict[tuple[str, str], int]:
        """Counts of identified (interaction, customer) pairs in ``period``."""

    async def tally(self, period: str, team: str, metric: str, key: str) -> None:
        """Add one to a feedback count: ``metric`` ("answered", "confirmed", "corrected", "questions",
        "script") and its ``key`` ("interaction:critical>planned", "2", "unhelpful:safety"), per ISO week and
        team (a workspace or tenant). One atomic statement; never text, never who."""

    async def tallies(self, periods: Sequence[str], team: str | None = None) -> list[dict[str, Any]]:
        """Counts of ``periods`` (all teams, or one): ``{"period", "team", "metric", "key", "n"}``."""

    async def ping(self) -> None:
        """Raise if the storage cannot be reached."""

    async def close(self) -> None:
        """Release connections and files."""

    # --- the outbox: what a turn must send, kept until it was sent. An item is a dict the adapter made
    # (``{"platform", "payload"}``); the store adds "id" and keeps "payload" as JSON. Items are created
    # already leased to the copy that made them (``token``, ``lease_until``), so it sends them at once
    # and no other copy does unless that copy dies: then the lease runs out and any copy takes them.

    async def put_outbox(
        self, items: Sequence[dict[str, Any]], now: float, *, claims: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Queue ``items`` on their own, for a turn that changed no dialog; ``claims`` as in ``save_dialog``."""

    async def claim_outbox(
        self, platform: str, token: str, now: float, lease_until: float, limit: int
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` unsent items of ``platform`` whose lease ran out before ``now``, oldest first,
        leased to ``token`` until ``lease_until``: each item goes to one copy at a time. Each item carries its
        ``id``, ``payload``, ``created`` and ``lease_until``: the copy's send must end before the lease does."""

    async def finish_outbox(self, item_id: str, token: str) -> bool:
        """Mark an item sent (it is removed); False if ``token`` no longer holds it."""

    async def release_outbox(self, item_id: str, token: str, retry_at: float) -> bool:
        """The platform refused for now: the item waits until ``retry_at``, then any copy may take it."""

    async def purge_outbox(self, created_before: float) -> int:
        """Give up on unsent items made before ``created_before``; returns how many went."""

    # --- weekly tips: a queue of managers' tips, schedules and subscriptions per workspace, posts per channel and week.
    # Rows are plain dicts. "period" is an ISO week such as "2026-W48". A post row is claimed with a lease
    # (state "claimed"), then marked "sending" just before the platform is called, then "posted".

    async def add_tip(self, platform: str, workspace: str, text: str, author: str, now: float) -> int:
        """Queue a manager's tip for one workspace; returns its id (ids only grow)."""

    async def queued_tips(self, platform: str, workspace: str) -> list[dict[str, Any]]:
        """The workspace's tips still queued, oldest first: ``{"id", "text", "author", "added"}``."""

    async def remove_tip(self, platform: str, workspace: str, tip_id: int) -> bool:
        """Take a still-queued tip out of the queue; False when there is no such queued tip."""

    async def week_tip(self, platform: str, workspace: str, period: str) -> dict[str, Any] | None:
        """The queued tip of ``period`` for the workspace: ``{"id", "text"}``, or None.

        The first call for a period takes the oldest queued tip and retires it, atomically with
        recording the choice; every later call (any copy) gets the same answer. None when the queue
        was empty at that first call.
        """

    async def put_tip_schedule(self, platform: str, workspace: str, schedule: dict[str, Any], now: float) -> None:
        """Set (replace) the workspace's weekly schedule."""

    async def get_tip_schedule(self, platform: str, workspace: str) -> dict[str, Any] | None:
        """The workspace's schedule, or None for the default."""

    async def subscribe_tips(self, platform: str, channel: str, workspace: str, conversation: str, now: float) -> bool:
        """``channel`` gets the weekly post; ``conversation`` is where the request came from. False if already
        subscribed."""

    async def unsubscribe_tips(self, platform: str, channel: str) -> bool:
        """Stop the weekly post to ``channel``; False if it was not subscribed."""

    async def tip_subscriptions(self) -> list[dict[str, Any]]:
        """Every subscribed channel: ``{"platform", "channel", "workspace", "conversation"}``."""

    async def claim_tip_post(
        self, platform: str, channel: str, period: str, workspace: str, token: str, now: float, lease_until: float
    ) -> bool:
        """Atomically take the one post of ``channel`` for ``period``: True when the row is new, or when it is
        still "claimed" and its lease ran out before ``now`` (its holder died before sending); the holder is
        ``token``."""

    async def start_tip_post(
        self, platform: str, channel: str, period: str, token: str, *, source: str, tip: str, text: str, now: float
    ) -> bool:
        """ "claimed" by ``token`` → "sending" with what is about to be posted; False if ``token`` lost the claim."""

    async def finish_tip_post(self, platform: str, channel: str, period: str, token: str, now: float) -> bool:
        """ "sending" by ``token`` → "posted"."""

    async def retry_tip_post(self, platform: str, channel: str, period: str, token: str, retry_at: float) -> bool:
        """ "sending" by ``token`` → "claimed" with a lease until ``retry_at``: the platform refused, try again
        after."""

    async def tip_posts(
        self, platform: str, *, workspace: str | None = None, channel: str | None = None, period: str | None = None
    ) -> list[dict[str, Any]]:
        """Post rows, oldest claim first: ``{"channel", "workspace", "period", "state", "source", "tip", "text",
        "claimed", "posted", "lease_until"}``."""
