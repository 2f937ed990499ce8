"""The storage contract: everything the bot keeps between turns goes through a ``Store``.

Every backend (memory for tests, SQLite embedded, a shared server database later) passes the same
contract suite in ``tests/test_store_contract.py``. Methods are async so that a networked backend
fits without touching the core; each "only once" is a single atomic operation of the backend,
never a read followed by a write, because several copies of the bot may share one store.
"""
from __future__ import annotations

from typing import Any, Protocol


class Store(Protocol):
    """What the core and the adapters need from storage. Times are Unix seconds, passed in by the caller."""

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        """The saved state of the dialog under ``key``, or None. Expiry is the caller's decision."""

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        """Save (create or replace) a dialog's state; ``now`` is its last activity."""

    async def delete_dialog(self, key: str) -> None:
        """Forget a dialog. Deleting one that is not there is not an error."""

    async def purge_dialogs(self, idle_since: float) -> int:
        """Delete dialogs with no activity since ``idle_since``; returns how many went."""

    async def claim(self, scope: str, key: str, now: float) -> bool:
        """Atomically mark ``key`` in ``scope`` as done. True for the first caller only, ever (until purged)."""

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

    async def ping(self) -> None:
        """Raise if the storage cannot be reached."""

    async def close(self) -> None:
        """Release connections and files."""
