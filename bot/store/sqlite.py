"""SQLite store: the embedded default, one file on disk, so a dialog survives a restart.

Statements run on the event loop thread through the standard ``sqlite3`` module: each is a
single indexed row operation in WAL mode (tens of microseconds), cheaper than the hop to a
worker thread that an async wrapper would add. Every "only once" is one INSERT that either
adds the row or does nothing, so two processes on the same file cannot both win.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import AlreadyClaimed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dialogs (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    touched REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    payload TEXT NOT NULL,
    token TEXT NOT NULL,
    created REAL NOT NULL,
    lease_until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (platform, lease_until);
CREATE TABLE IF NOT EXISTS tallies (
    period TEXT NOT NULL,
    team TEXT NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (period, team, metric, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dialogs_touched ON dialogs (touched);
CREATE TABLE IF NOT EXISTS claims (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    made REAL NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversations (
    platform TEXT NOT NULL,
    conversation TEXT NOT NULL,
    reference TEXT NOT NULL,
    touched REAL NOT NULL,
    PRIMARY KEY (platform, conversation)
);
CREATE TABLE IF NOT EXISTS identified (
    period TEXT NOT NULL,
    interaction TEXT NOT NULL,
    customer TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (period, interaction, customer)
);
CREATE TABLE IF NOT EXISTS queued_tips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    added REAL NOT NULL,
    used_in TEXT
);
CREATE INDEX IF NOT EXISTS queued_tips_queue ON queued_tips (platform, workspace, used_in, id);
CREATE TABLE IF NOT EXISTS tip_weeks (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    period TEXT NOT NULL,
    tip_id INTEGER,
    text TEXT,
    PRIMARY KEY (platform, workspace, period)
);
CREATE TABLE IF NOT EXISTS tip_schedules (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    schedule TEXT NOT NULL,
    touched REAL NOT NULL,
    PRIMARY KEY (platform, workspace)
);
CREATE TABLE IF NOT EXISTS tip_channels (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    workspace TEXT NOT NULL,
    conversation TEXT NOT NULL,
    added REAL NOT NULL,
    PRIMARY KEY (platform, channel)
);
CREATE TABLE IF NOT EXISTS tip_posts (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    period TEXT NOT NULL,
    workspace TEXT NOT NULL,
    token TEXT NOT NULL,
    state TEXT NOT NULL,
    source TEXT,
    tip TEXT,
    text TEXT,
    claimed REAL NOT NULL,
    posted REAL,
    lease_until REAL NOT NULL,
    PRIMARY KEY (platform, channel, period)
);
"""
# Files made before claims became WITHOUT ROWID (user_version 0) get the table rebuilt once. A claim is
# one row on Slack's ack path: keyed by its primary key alone it is one b-tree insert instead of two
# (rowid table plus its index), about a third cheaper.
_MIGRATIONS = {
    1: """
    CREATE TABLE claims_new (
        scope TEXT NOT NULL, key TEXT NOT NULL, made REAL NOT NULL, PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    INSERT INTO claims_new SELECT scope, key, made FROM claims;
    DROP TABLE claims;
    ALTER TABLE claims_new RENAME TO claims;
    """,
    # Dialogs are saved compare-and-set on a version (the outbox table itself comes with _SCHEMA).
    2: "ALTER TABLE dialogs ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
}
_CLAIM = "INSERT INTO claims (scope, key, made) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_RELEASE = "DELETE FROM claims WHERE scope = ? AND key = ?"
_TALLY = (
    "INSERT INTO tallies (period, team, metric, key, n) VALUES (?, ?, ?, ?, 1) "
    "ON CONFLICT (period, team, metric, key) DO UPDATE SET n = n + 1"
)


class _Lost(Exception):
    """A compare-and-set found the dialog moved on: the transaction is rolled back."""


_POST_COLUMNS = ("channel", "workspace", "period", "state", "source", "tip", "text", "claimed", "posted", "lease_until")


class SQLiteStore:
    """``Store`` on one SQLite file. Safe for several processes on one machine; not across machines."""

    def __init__(self, *, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, each statement is its own transaction.
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self._pending_claims: list[tuple[str, str, float, asyncio.Future[bool]]] = []

    def _migrate(self) -> None:
        """Bring the file to the newest schema in one write transaction, so two processes starting together agree."""
        with self._write_transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            fresh = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'claims'").fetchone() is None
            self._run_script(_SCHEMA)
            if not fresh:
                for step in sorted(n for n in _MIGRATIONS if n > version):
                    self._run_script(_MIGRATIONS[step])
            self._db.execute(f"PRAGMA user_version = {max(_MIGRATIONS)}")

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the file's write lock at once: what runs inside happens whole or not at all,
        whichever process gets there first."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _run_script(self, script: str) -> None:
        """Each statement of ``script`` inside the open transaction (``executescript`` would commit it first)."""
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT state FROM dialogs WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    async def load_dialog(self, key: str) -> tuple[dict[str, Any], int] | None:
        row = self._db.execute("SELECT state, version FROM dialogs WHERE key = ?", (key,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

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
        """One write transaction: the claims, the dialog's compare-and-set and its outbox items, all or nothing."""
        text = json.dumps(state, separators=(",", ":"))
        try:
            with self._write_transaction():
                self._claim_all(claims, now)
                if version == 0:
                    saved = self._db.execute(
                        "INSERT INTO dialogs (key, state, touched, version) VALUES (?, ?, ?, 1) ON CONFLICT (key) DO "
                        "NOTHING",
                        (key, text, now),
                    ).rowcount
                else:
                    saved = self._db.execute(
                        "UPDATE dialogs SET state = ?, touched = ?, version = version + 1 WHERE key = ? AND version "
                        "= ?",
                        (text, now, key, version),
                    ).rowcount
                if saved != 1:
                    raise _Lost  # rolls the claims back with it
                self._insert_outbox(outbox, now)
                self._db.executemany(_TALLY, counts)
        except _Lost:
            return False
        return True

    def _claim_all(self, claims: Sequence[tuple[str, str]], now: float) -> None:
        """Inside an open transaction: make every claim, or raise AlreadyClaimed (the caller's transaction rolls
        back)."""
        for scope, claim_key in claims:
            if self._db.execute(_CLAIM, (scope, claim_key, now)).rowcount != 1:
                raise AlreadyClaimed(scope)

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        self._db.execute(
            "INSERT INTO dialogs (key, state, touched) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET state = "
            "excluded.state, touched = excluded.touched, version = dialogs.version + 1",
            (key, json.dumps(state, separators=(",", ":")), now),
        )

    # ------------------------------------------------------------------ outbox

    def _insert_outbox(self, items: Sequence[dict[str, Any]], now: float) -> None:
        self._db.executemany(
            "INSERT INTO outbox (id, platform, payload, token, created, lease_until) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    i["id"],
                    i["platform"],
                    json.dumps(i["payload"], separators=(",", ":")),
                    i["token"],
                    now,
                    i["lease_until"],
                )
                for i in items
            ],
        )

    async def put_outbox(
        self, items: Sequence[dict[str, Any]], now: float, *, claims: Sequence[tuple[str, str]] = ()
    ) -> None:
        if items or claims:
            with self._write_transaction():
                self._claim_all(claims, now)
                self._insert_outbox(items, now)

    async def claim_outbox(
        self, platform: str, token: str, now: float, lease_until: float, limit: int
    ) -> list[dict[str, Any]]:
        with self._write_transaction():
            rows = self._db.execute(
                "SELECT id, payload, created FROM outbox WHERE platform = ? AND lease_until < ? ORDER BY created, id "
                "LIMIT ?",
                (platform, now, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE outbox SET token = ?, lease_until = ? WHERE id = ?", [(token, lease_until, r[0]) for r in rows]
            )
        return [
            {
                "id": r[0],
                "platform": platform,
                "payload": json.loads(r[1]),
                "created": r[2],
                "token": token,
                "lease_until": lease_until,
            }
            for r in rows
        ]

    async def finish_outbox(self, item_id: str, token: str) -> bool:
        return self._db.execute("DELETE FROM outbox WHERE id = ? AND token = ?", (item_id, token)).rowcount == 1

    async def release_outbox(self, item_id: str, token: str, retry_at: float) -> bool:
        return (
            self._db.execute(
                "UPDATE outbox SET token = '', lease_until = ? WHERE id = ? AND token = ?", (retry_at, item_id, token)
            ).rowcount
            == 1
        )

    async def purge_outbox(self, created_before: float) -> int:
        return self._db.execute("DELETE FROM outbox WHERE created < ?", (created_before,)).rowcount

    async def delete_dialog(self, key: str) -> None:
        self._db.execute("DELETE FROM dialogs WHERE key = ?", (key,))

    async def purge_dialogs(self, idle_since: float) -> int:
        return self._db.execute("DELETE FROM dialogs WHERE touched < ?", (idle_since,)).rowcount

    async def claim(self, scope: str, key: str, now: float) -> bool:
        """Group commit: claims made in one turn of the event loop share one transaction.

        A claim sits on Slack's ack path, and most of its cost is the commit, not the insert.
        Under load many requests reach this point in the same loop turn; one transaction for all
        of them costs about what one claim alone did. Each claim is still its own INSERT that
        adds the row or does nothing, so exactly one caller wins a key, here or in another process.
        """
        loop = asyncio.get_running_loop()
        won: asyncio.Future[bool] = loop.create_future()
        self._pending_claims.append((scope, key, now, won))
        if len(self._pending_claims) == 1:
            loop.call_soon(self._commit_claims)
        return await won

    def _commit_claims(self) -> None:
        batch, self._pending_claims = self._pending_claims, []
        try:
            if len(batch) == 1:
                results = [self._db.execute(_CLAIM, batch[0][:3]).rowcount == 1]
            else:
                with self._write_transaction():
                    results = [self._db.execute(_CLAIM, claim[:3]).rowcount == 1 for claim in batch]
        except Exception as error:  # nothing was claimed: every caller hears why
            for *_, won in batch:
                if not won.done():
                    won.set_exception(error)
            return
        for (scope, key, _, won), result in zip(batch, results, strict=True):  # one result per claim
            if not won.done():
                won.set_result(result)
            elif result:  # its caller was cancelled meanwhile and will not act on it: let a retry win
                self._db.execute(_RELEASE, (scope, key))

    async def release(self, scope: str, key: str) -> None:
        self._db.execute(_RELEASE, (scope, key))

    async def purge_claims(self, scope: str, before: float) -> int:
        return self._db.execute("DELETE FROM claims WHERE scope = ? AND made < ?", (scope, before)).rowcount

    async def put_conversation(self, platform: str, conversation: str, reference: dict[str, Any], now: float) -> None:
        self._db.execute(
            "INSERT INTO conversations (platform, conversation, reference, touched) VALUES (?, ?, ?, ?) ON CONFLICT "
            "(platform, conversation) DO UPDATE SET reference = excluded.reference, touched = excluded.touched",
            (platform, conversation, json.dumps(reference), now),
        )

    async def get_conversation(self, platform: str, conversation: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT reference FROM conversations WHERE platform = ? AND conversation = ?", (platform, conversation)
        ).fetchone()
        return json.loads(row[0]) if row else None

    async def count_identified(self, period: str, interaction: str, customer: str) -> None:
        self._db.execute(
            "INSERT INTO identified (period, interaction, customer, n) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (period, interaction, customer) DO UPDATE SET n = n + 1",
            (period, interaction, customer),
        )

    async def identified_counts(self, period: str) -> dict[tuple[str, str], int]:
        rows = self._db.execute("SELECT interaction, customer, n FROM identified WHERE period = ?", (period,))
        return {(interaction, customer): n for interaction, customer, n in rows}

    async def tally(self, period: str, team: str, metric: str, key: str) -> None:
        self._db.execute(_TALLY, (period, team, metric, key))

    async def tallies(self, periods: Sequence[str], team: str | None = None) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(periods)) or "NULL"
        query = f"SELECT period, team, metric, key, n FROM tallies WHERE period IN ({marks})" + (
            " AND team = ?" if team is not None else ""
        )
        rows = self._db.execute(
            query + " ORDER BY period, team, metric, key", (*periods, *([team] if team is not None else []))
        )
        return [{"period": p, "team": t, "metric": m, "key": k, "n": n} for p, t, m, k, n in rows]

    # --- weekly tips

    async def add_tip(self, platform: str, workspace: str, text: str, author: str, now: float) -> int:
        cursor = self._db.execute(
            "INSERT INTO queued_tips (platform, workspace, text, author, added) VALUES (?, ?, ?, ?, ?)",
            (platform, workspace, text, author, now),
        )
        assert cursor.lastrowid is not None  # set by every INSERT
        return cursor.lastrowid

    async def queued_tips(self, platform: str, workspace: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, text, author, added FROM queued_tips WHERE platform = ? AND workspace = ? AND used_in IS "
            "NULL ORDER BY id",
            (platform, workspace),
        )
        return [{"id": i, "text": text, "author": author, "added": added} for i, text, author, added in rows]

    async def remove_tip(self, platform: str, workspace: str, tip_id: int) -> bool:
        cursor = self._db.execute(
            "DELETE FROM queued_tips WHERE id = ? AND platform = ? AND workspace = ? AND used_in IS NULL",
            (tip_id, platform, workspace),
        )
        return cursor.rowcount == 1

    async def week_tip(self, platform: str, workspace: str, period: str) -> dict[str, Any] | None:
        # One write transaction: choosing the tip, recording the choice and retiring the tip go together.
        with self._write_transaction():
            row = self._db.execute(
                "SELECT tip_id, text FROM tip_weeks WHERE platform = ? AND workspace = ? AND period = ?",
                (platform, workspace, period),
            ).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT id, text FROM queued_tips WHERE platform = ? AND workspace = ? AND used_in IS NULL ORDER "
                    "BY id LIMIT 1",
                    (platform, workspace),
                ).fetchone() or (None, None)
                self._db.execute(
                    "INSERT INTO tip_weeks (platform, workspace, period, tip_id, text) VALUES (?, ?, ?, ?, ?)",
                    (platform, workspace, period, *row),
                )
                if row[0] is not None:
                    self._db.execute("UPDATE queued_tips SET used_in = ? WHERE id = ?", (period, row[0]))
        return {"id": row[0], "text": row[1]} if row[0] is not None else None

    async def put_tip_schedule(self, platform: str, workspace: str, schedule: dict[str, Any], now: float) -> None:
        self._db.execute(
            "INSERT INTO tip_schedules (platform, workspace, schedule, touched) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (platform, workspace) DO UPDATE SET schedule = excluded.schedule, touched = excluded.touched",
            (platform, workspace, json.dumps(schedule), now),
        )

    async def get_tip_schedule(self, platform: str, workspace: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT schedule FROM tip_schedules WHERE platform = ? AND workspace = ?", (platform, workspace)
        ).fetchone()
        return json.loads(row[0]) if row else None

    async def subscribe_tips(self, platform: str, channel: str, workspace: str, conversation: str, now: float) -> bool:
        cursor = self._db.execute(
            "INSERT INTO tip_channels (platform, channel, workspace, conversation, added) VALUES (?, ?, ?, ?, ?) ON "
            "CONFLICT DO NOTHING",
            (platform, channel, workspace, conversation, now),
        )
        return cursor.rowcount == 1

    async def unsubscribe_tips(self, platform: str, channel: str) -> bool:
        return (
            self._db.execute(
                "DELETE FROM tip_channels WHERE platform = ? AND channel = ?", (platform, channel)
            ).rowcount
            == 1
        )

    async def tip_subscriptions(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT platform, channel, workspace, conversation FROM tip_channels ORDER BY platform, channel"
        )
        return [{"platform": p, "channel": c, "workspace": w, "conversation": v} for p, c, w, v in rows]

    async def claim_tip_post(
        self, platform: str, channel: str, period: str, workspace: str, token: str, now: float, lease_until: float
    ) -> bool:
        cursor = self._db.execute(
            "INSERT INTO tip_posts (platform, channel, period, workspace, token, state, claimed, lease_until) VALUES "
            "(?, ?, ?, ?, ?, 'claimed', ?, ?) ON CONFLICT (platform, channel, period) DO UPDATE SET token = "
            "excluded.token, claimed = excluded.claimed, lease_until = excluded.lease_until WHERE tip_posts.state = "
            "'claimed' AND tip_posts.lease_until < excluded.claimed",
            (platform, channel, period, workspace, token, now, lease_until),
        )
        return cursor.rowcount == 1

    async def start_tip_post(
        self, platform: str, channel: str, period: str, token: str, *, source: str, tip: str, text: str, now: float
    ) -> bool:
        cursor = self._db.execute(
            "UPDATE tip_posts SET state = 'sending', source = ?, tip = ?, text = ? "
            "WHERE platform = ? AND channel = ? AND period = ? AND token = ? AND state = 'claimed'",
            (source, tip, text, platform, channel, period, token),
        )
        return cursor.rowcount == 1

    async def finish_tip_post(self, platform: str, channel: str, period: str, token: str, now: float) -> bool:
        cursor = self._db.execute(
            "UPDATE tip_posts SET state = 'posted', posted = ? WHERE platform = ? AND channel = ? AND period = ? AND "
            "token = ? AND state = 'sending'",
            (now, platform, channel, period, token),
        )
        return cursor.rowcount == 1

    async def retry_tip_post(self, platform: str, channel: str, period: str, token: str, retry_at: float) -> bool:
        cursor = self._db.execute(
            "UPDATE tip_posts SET state = 'claimed', lease_until = ? WHERE platform = ? AND channel = ? AND period = "
            "? AND token = ? AND state = 'sending'",
            (retry_at, platform, channel, period, token),
        )
        return cursor.rowcount == 1

    async def tip_posts(
        self, platform: str, *, workspace: str | None = None, channel: str | None = None, period: str | None = None
    ) -> list[dict[str, Any]]:
        rows = self._db.execute(
            f"SELECT {', '.join(_POST_COLUMNS)} FROM tip_posts WHERE platform = ? AND (? IS NULL OR workspace = ?) "
            "AND (? IS NULL OR channel = ?) AND (? IS NULL OR period = ?) ORDER BY claimed, channel, period",
            (platform, workspace, workspace, channel, channel, period, period),
        )
        return [dict(zip(_POST_COLUMNS, row, strict=True)) for row in rows]

    async def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        self._db.close()
