"""In-memory store: for tests and throw-away runs. Lost when the process ends."""
from __future__ import annotations

import copy
import json
from collections import defaultdict
from typing import Any


class MemoryStore:
    """Dict-backed ``Store``. Single event loop, no awaits inside a method, so each method is atomic."""

    def __init__(self) -> None:
        self._dialogs: dict[str, tuple[str, float]] = {}
        self._claims: dict[tuple[str, str], float] = {}
        self._conversations: dict[tuple[str, str], dict[str, Any]] = {}
        self._counts: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        saved = self._dialogs.get(key)
        # Stored as JSON so that tests catch state that would not survive a real backend.
        return json.loads(saved[0]) if saved else None

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        self._dialogs[key] = (json.dumps(state), now)

    async def delete_dialog(self, key: str) -> None:
        self._dialogs.pop(key, None)

    async def purge_dialogs(self, idle_since: float) -> int:
        stale = [key for key, (_, touched) in self._dialogs.items() if touched < idle_since]
        for key in stale:
            del self._dialogs[key]
        return len(stale)

    async def claim(self, scope: str, key: str, now: float) -> bool:
        if (scope, key) in self._claims:
            return False
        self._claims[(scope, key)] = now
        return True

    async def purge_claims(self, scope: str, before: float) -> int:
        stale = [k for k, made in self._claims.items() if k[0] == scope and made < before]
        for k in stale:
            del self._claims[k]
        return len(stale)

    async def put_conversation(self, platform: str, conversation: str, reference: dict[str, Any], now: float) -> None:
        self._conversations[(platform, conversation)] = copy.deepcopy(reference)

    async def get_conversation(self, platform: str, conversation: str) -> dict[str, Any] | None:
        found = self._conversations.get((platform, conversation))
        return copy.deepcopy(found) if found is not None else None

    async def count_identified(self, period: str, interaction: str, customer: str) -> None:
        counts = self._counts[period]
        counts[(interaction, customer)] = counts.get((interaction, customer), 0) + 1

    async def identified_counts(self, period: str) -> dict[tuple[str, str], int]:
        return dict(self._counts.get(period, {}))

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
