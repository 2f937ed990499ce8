"""In-memory store: for tests and throw-away runs. Lost when the process ends."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bot.errors import AlreadyClaimed


class MemoryStore:
    """Dict-backed ``Store``. Single event loop, no awaits inside a method, so each method is atomic."""

    def __init__(self) -> None:
        self._dialogs: dict[str, tuple[str, float, int]] = {}  # key -> (state as JSON, touched, version)
        self._outbox: dict[str, dict[str, Any]] = {}
        self._tallies: dict[tuple[str, str, str, str], int] = {}
        self._claims: dict[tuple[str, str], float] = {}
        self._conversations: dict[tuple[str, str], dict[str, Any]] = {}
        self._counts: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        self._tips: dict[int, dict[str, Any]] = {}  # id -> {platform, workspace, text, author, added, used_in}
        self._tip_ids = 0
        self._tip_weeks: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self._tip_schedules: dict[tuple[str, str], dict[str, Any]] = {}
        self._tip_channels: dict[tuple[str, str], dict[str, Any]] = {}
        self._tip_posts: dict[tuple[str, str, str], dict[str, Any]] = {}

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        saved = self._dialogs.get(key)
        # Stored as JSON so that tests catch state that would not survive a real backend.
        return json.loads(saved[0]) if saved else None

    async def load_dialog(self, key: str) -> tuple[dict[str, Any], int] | None:
        saved = self._dialogs.get(key)
        return (json.loads(saved[0]), saved[2]) if saved else None

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
        saved = self._dialogs.get(key)
        if (saved[2] if saved else 0) != version:
            return False
        self._check_claims(claims)
        self._dialogs[key] = (json.dumps(state), now, version + 1)
        await self.put_outbox(outbox, now, claims=claims)
        for count in counts:
            await self.tally(*count)
        return True

    def _check_claims(self, claims: Sequence[tuple[str, str]]) -> None:
        if any(claim in self._claims for claim in claims) or len(set(claims)) < len(claims):
            raise AlreadyClaimed(claims[0][0])

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        saved = self._dialogs.get(key)
        self._dialogs[key] = (json.dumps(state), now, (saved[2] if saved else 0) + 1)

    async def tally(self, period: str, team: str, metric: str, key: str) -> None:
        k = (period, team, metric, key)
        self._tallies[k] = self._tallies.get(k, 0) + 1

    async def tallies(self, periods: Sequence[str], team: str | None = None) -> list[dict[str, Any]]:
        return [
            {"period": p, "team": t, "metric": m, "key": k, "n": n}
            for (p, t, m, k), n in sorted(self._tallies.items())
            if p in periods and (team is None or t == team)
        ]

    async def put_outbox(
        self, items: Sequence[dict[str, Any]], now: float, *, claims: Sequence[tuple[str, str]] = ()
    ) -> None:
        self._check_claims(claims)
        for claim in claims:
            self._claims[claim] = now
        for item in items:
            self._outbox[item["id"]] = {**item, "payload": json.dumps(item["payload"]), "created": now}

    async def claim_outbox(
        self, platform: str, token: str, now: float, lease_until: float, limit: int
    ) -> list[dict[str, Any]]:
        due = sorted(
            (i for i in self._outbox.values() if i["platform"] == platform and i["lease_until"] < now),
            key=lambda i: (i["created"], i["id"]),
        )
        for item in due[:limit]:
            item.update(token=token, lease_until=lease_until)
        return [{**item, "payload": json.loads(item["payload"])} for item in due[:limit]]

    async def finish_outbox(self, item_id: str, token: str) -> bool:
        item = self._outbox.get(item_id)
        if item is None or item["token"] != token:
            return False
        del self._outbox[item_id]
        return True

    async def release_outbox(self, item_id: str, token: str, retry_at: float) -> bool:
        item = self._outbox.get(item_id)
        if item is None or item["token"] != token:
            return False
        item.update(token="", lease_until=retry_at)
        return True

    async def purge_outbox(self, created_before: float) -> int:
        old = [k for k, item in self._outbox.items() if item["created"] < created_before]
        for k in old:
            del self._outbox[k]
        return len(old)

    async def delete_dialog(self, key: str) -> None:
        self._dialogs.pop(key, None)

    async def purge_dialogs(self, idle_since: float) -> int:
        stale = [key for key, (_, touched, _) in self._dialogs.items() if touched < idle_since]
        for key in stale:
            del self._dialogs[key]
        return len(stale)

    async def claim(self, scope: str, key: str, now: float) -> bool:
        if (scope, key) in self._claims:
            return False
        self._claims[(scope, key)] = now
        return True

    async def release(self, scope: str, key: str) -> None:
        self._claims.pop((scope, key), None)

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

    # --- weekly tips

    async def add_tip(self, platform: str, workspace: str, text: str, author: str, now: float) -> int:
        self._tip_ids += 1
        self._tips[self._tip_ids] = {
            "platform": platform,
            "workspace": workspace,
            "text": text,
            "author": author,
            "added": now,
            "used_in": None,
        }
        return self._tip_ids

    def _queued(self, platform: str, workspace: str) -> list[tuple[int, dict[str, Any]]]:
        return [
            (i, t)
            for i, t in sorted(self._tips.items())
            if (t["platform"], t["workspace"]) == (platform, workspace) and t["used_in"] is None
        ]

    async def queued_tips(self, platform: str, workspace: str) -> list[dict[str, Any]]:
        return [
            {"id": i, "text": t["text"], "author": t["author"], "added": t["added"]}
            for i, t in self._queued(platform, workspace)
        ]

    async def remove_tip(self, platform: str, workspace: str, tip_id: int) -> bool:
        if any(i == tip_id for i, _ in self._queued(platform, workspace)):
            del self._tips[tip_id]
            return True
        return False

    async def week_tip(self, platform: str, workspace: str, period: str) -> dict[str, Any] | None:
        key = (platform, workspace, period)
        if key not in self._tip_weeks:
            queued = self._queued(platform, workspace)
            chosen = None
            if queued:
                tip_id, tip = queued[0]
                tip["used_in"] = period
                chosen = {"id": tip_id, "text": tip["text"]}
            self._tip_weeks[key] = chosen
        chosen = self._tip_weeks[key]
        return dict(chosen) if chosen is not None else None

    async def put_tip_schedule(self, platform: str, workspace: str, schedule: dict[str, Any], now: float) -> None:
        self._tip_schedules[(platform, workspace)] = json.loads(json.dumps(schedule))

    async def get_tip_schedule(self, platform: str, workspace: str) -> dict[str, Any] | None:
        found = self._tip_schedules.get((platform, workspace))
        return copy.deepcopy(found) if found is not None else None

    async def subscribe_tips(self, platform: str, channel: str, workspace: str, conversation: str, now: float) -> bool:
        if (platform, channel) in self._tip_channels:
            return False
        self._tip_channels[(platform, channel)] = {
            "platform": platform,
            "channel": channel,
            "workspace": workspace,
            "conversation": conversation,
        }
        return True

    async def unsubscribe_tips(self, platform: str, channel: str) -> bool:
        return self._tip_channels.pop((platform, channel), None) is not None

    async def tip_subscriptions(self) -> list[dict[str, Any]]:
        return [dict(row) for _, row in sorted(self._tip_channels.items())]

    async def claim_tip_post(
        self, platform: str, channel: str, period: str, workspace: str, token: str, now: float, lease_until: float
    ) -> bool:
        row = self._tip_posts.get((platform, channel, period))
        if row is None:
            self._tip_posts[(platform, channel, period)] = {
                "channel": channel,
                "workspace": workspace,
                "period": period,
                "state": "claimed",
                "source": None,
                "tip": None,
                "text": None,
                "claimed": now,
                "posted": None,
                "lease_until": lease_until,
                "token": token,
            }
            return True
        if row["state"] == "claimed" and row["lease_until"] < now:
            row.update(token=token, claimed=now, lease_until=lease_until)
            return True
        return False

    def _held(self, platform: str, channel: str, period: str, token: str, state: str) -> dict[str, Any] | None:
        row = self._tip_posts.get((platform, channel, period))
        return row if row is not None and row["token"] == token and row["state"] == state else None

    async def start_tip_post(
        self, platform: str, channel: str, period: str, token: str, *, source: str, tip: str, text: str, now: float
    ) -> bool:
        row = self._held(platform, channel, period, token, "claimed")
        if row is None:
            return False
        row.update(state="sending", source=source, tip=tip, text=text)
        return True

    async def finish_tip_post(self, platform: str, channel: str, period: str, token: str, now: float) -> bool:
        row = self._held(platform, channel, period, token, "sending")
        if row is None:
            return False
        row.update(state="posted", posted=now)
        return True

    async def retry_tip_post(self, platform: str, channel: str, period: str, token: str, retry_at: float) -> bool:
        row = self._held(platform, channel, period, token, "sending")
        if row is None:
            return False
        row.update(state="claimed", lease_until=retry_at)
        return True

    async def tip_posts(
        self, platform: str, *, workspace: str | None = None, channel: str | None = None, period: str | None = None
    ) -> list[dict[str, Any]]:
        rows = [
            {k: v for k, v in row.items() if k != "token"}
            for (p, c, w), row in self._tip_posts.items()
            if p == platform and channel in (None, c) and period in (None, w) and workspace in (None, row["workspace"])
        ]
        return sorted(rows, key=lambda row: (row["claimed"], row["channel"], row["period"]))

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
