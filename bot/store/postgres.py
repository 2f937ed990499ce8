"""PostgreSQL store: the one to use when several copies of the bot must act as one.

Why it is shaped this way:

- Copies behind a load balancer share nothing but this database, so every "only once" (a Slack
  event id, a weekly tip per channel) is a single ``INSERT ... ON CONFLICT DO NOTHING RETURNING``:
  the database decides the winner, never a read followed by a write in Python.
- Copies are upgraded one at a time and may start together, so the store migrates its own schema
  at ``connect`` inside one transaction holding ``pg_advisory_xact_lock``: the second copy waits,
  then finds the work done. Migrations are only ever appended and must stay readable by the
  previous release, because old and new copies run side by side during a rolling upgrade.
- The database can go away under a running bot. Every call has a connect, acquire and command
  timeout, so a lost or silent server surfaces as ``StoreUnavailable`` from that call instead of a
  hung turn, and asyncpg's pool drops broken connections and opens new ones on the next call, so
  the bot recovers by itself when the server is back. No call is retried here: a claim whose
  commit was lost in transit must not be claimed twice, so the caller decides what to do.
- JSON is kept as ASCII text (``json.dumps`` escapes the rest), as in the SQLite store: ``jsonb``
  would refuse a NUL character that pasted text can carry, and nothing here queries inside the
  JSON, so plain text keeps every state round-trippable on every backend alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg

from bot.errors import AlreadyClaimed, StoreUnavailable

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

T = TypeVar("T")
# What every call runs on: a connection lent by the pool (asyncpg's stubs type its proxy apart from Connection).
Pooled: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

# A migration, or the wait for another copy's migration, may take longer than one short command.
MIGRATE_TIMEOUT = 120.0

__all__ = ["MIGRATIONS", "PostgresStore", "StoreUnavailable"]  # StoreUnavailable lives in bot.errors


# (version, statements). Append only; never edit a released entry.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE dialogs (
            key TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            touched DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX dialogs_touched ON dialogs (touched);
        CREATE TABLE claims (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            made DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (scope, key)
        );
        CREATE INDEX claims_scope_made ON claims (scope, made);
        CREATE TABLE conversations (
            platform TEXT NOT NULL,
            conversation TEXT NOT NULL,
            reference TEXT NOT NULL,
            touched DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, conversation)
        );
        CREATE TABLE identified (
            period TEXT NOT NULL,
            interaction TEXT NOT NULL,
            customer TEXT NOT NULL,
            n BIGINT NOT NULL,
            PRIMARY KEY (period, interaction, customer)
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE queued_tips (
            id BIGSERIAL PRIMARY KEY,
            platform TEXT NOT NULL,
            workspace TEXT NOT NULL,
            text TEXT NOT NULL,
            author TEXT NOT NULL,
            added DOUBLE PRECISION NOT NULL,
            used_in TEXT
        );
        CREATE INDEX queued_tips_queue ON queued_tips (platform, workspace, id) WHERE used_in IS NULL;
        CREATE TABLE tip_weeks (
            platform TEXT NOT NULL,
            workspace TEXT NOT NULL,
            period TEXT NOT NULL,
            tip_id BIGINT,
            text TEXT,
            PRIMARY KEY (platform, workspace, period)
        );
        CREATE TABLE tip_schedules (
            platform TEXT NOT NULL,
            workspace TEXT NOT NULL,
            schedule TEXT NOT NULL,
            touched DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, workspace)
        );
        CREATE TABLE tip_channels (
            platform TEXT NOT NULL,
            channel TEXT NOT NULL,
            workspace TEXT NOT NULL,
            conversation TEXT NOT NULL,
            added DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, channel)
        );
        CREATE TABLE tip_posts (
            platform TEXT NOT NULL,
            channel TEXT NOT NULL,
            period TEXT NOT NULL,
            workspace TEXT NOT NULL,
            token TEXT NOT NULL,
            state TEXT NOT NULL,
            source TEXT,
            tip TEXT,
            text TEXT,
            claimed DOUBLE PRECISION NOT NULL,
            posted DOUBLE PRECISION,
            lease_until DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, channel, period)
        );
        CREATE INDEX tip_posts_workspace ON tip_posts (platform, workspace, claimed);
        """,
    ),
    (
        3,
        """
        ALTER TABLE dialogs ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
        CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            payload TEXT NOT NULL,
            token TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            lease_until DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX outbox_due ON outbox (platform, lease_until);
        """,
    ),
    (
        4,
        """
        CREATE TABLE tallies (
            period TEXT NOT NULL,
            team TEXT NOT NULL,
            metric TEXT NOT NULL,
            key TEXT NOT NULL,
            n BIGINT NOT NULL,
            PRIMARY KEY (period, team, metric, key)
        );
        """,
    ),
]

_CLAIM = "INSERT INTO claims (scope, key, made) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
_TALLY = (
    "INSERT INTO tallies (period, team, metric, key, n) VALUES ($1, $2, $3, $4, 1) "
    "ON CONFLICT (period, team, metric, key) DO UPDATE SET n = tallies.n + 1"
)


class _Lost(Exception):
    """A compare-and-set found the dialog moved on: the transaction is rolled back."""


_POST_COLUMNS = ("channel", "workspace", "period", "state", "source", "tip", "text", "claimed", "posted", "lease_until")

# Errors that mean "the server is not there for us right now", as opposed to a bug in a statement.
_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable; TimeoutError is an OSError too
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # connection or pool closed under us
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)


def _lock_key(purpose: str, schema: str | None) -> int:
    """A stable signed 64-bit advisory lock key, distinct per purpose and schema."""
    digest = hashlib.blake2b(f"frontline-coach:{purpose}:{schema or ''}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(status: str) -> int:
    """Row count from a command tag such as ``DELETE 3``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


class PostgresStore:
    """``Store`` on a PostgreSQL database shared by any number of copies of the bot."""

    def __init__(
        self, pool: asyncpg.Pool, *, schema: str | None, command_timeout: float, acquire_timeout: float
    ) -> None:
        self._pool = pool
        self.schema = schema
        self._command_timeout = command_timeout
        self._acquire_timeout = acquire_timeout

    @classmethod
    async def connect(
        cls,
        *,
        dsn: str,
        min_size: int = 1,
        max_size: int = 10,
        schema: str | None = None,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
    ) -> PostgresStore:
        """Open a pool on ``dsn`` and bring the schema up to date. Raises ``StoreUnavailable`` if the server does not
        answer.

        ``schema`` keeps the tables in their own PostgreSQL schema (created if missing), for tests or
        for sharing one database between deployments; by default the connection's search path decides.
        """
        server_settings = {"application_name": "frontline-coach"}
        if schema:
            server_settings["search_path"] = _quote_ident(schema)
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                server_settings=server_settings,
                reset=_reset,
            )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL did not answer: {type(exc).__name__}: {exc}") from exc
        store = cls(
            pool, schema=schema, command_timeout=command_timeout, acquire_timeout=connect_timeout + command_timeout
        )
        try:
            await store._run(store._migrate)
        except BaseException:
            pool.terminate()
            raise
        return store

    async def _migrate(self, con: Pooled) -> None:
        async with con.transaction():
            await con.execute(
                "SELECT pg_advisory_xact_lock($1)", _lock_key("migrate", self.schema), timeout=MIGRATE_TIMEOUT
            )
            if self.schema:
                await con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(self.schema)}")
            await con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            current = await con.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
            for version, statements in MIGRATIONS:
                if version > current:
                    await con.execute(statements, timeout=MIGRATE_TIMEOUT)
                    await con.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    async def schema_version(self) -> int:
        """The highest migration applied to the database (may be above ours during a rolling upgrade)."""
        return await self._run(lambda con: con.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def _run(self, work: Callable[[Pooled], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; any sign of a missing server becomes ``StoreUnavailable``."""
        try:
            async with self._pool.acquire(timeout=self._acquire_timeout) as con:
                return await work(con)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unavailable: {type(exc).__name__}: {exc}") from exc

    async def _execute(self, query: str, *args: Any) -> str:
        return await self._run(lambda con: con.execute(query, *args, timeout=self._command_timeout))

    async def _fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(lambda con: con.fetchval(query, *args, timeout=self._command_timeout))

    async def get_dialog(self, key: str) -> dict[str, Any] | None:
        state = await self._fetchval("SELECT state FROM dialogs WHERE key = $1", key)
        return json.loads(state) if state is not None else None

    async def load_dialog(self, key: str) -> tuple[dict[str, Any], int] | None:
        row = await self._run(
            lambda con: con.fetchrow(
                "SELECT state, version FROM dialogs WHERE key = $1", key, timeout=self._command_timeout
            )
        )
        return (json.loads(row["state"]), row["version"]) if row is not None else None

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
        """One transaction: the claims, the dialog's compare-and-set (a conditional UPDATE, or an INSERT that
        does nothing if a row is there) and its outbox items. Under READ COMMITTED, two copies updating
        one row at one version queue on its lock, and the second finds the version moved: one wins."""

        async def save(con: Pooled) -> bool:
            try:
                async with con.transaction():
                    await self._claim_all(con, claims, now)
                    if not await write(con):
                        raise _Lost  # rolls the claims back with it
                    await self._insert_outbox(con, outbox, now)
                    if counts:
                        await con.executemany(_TALLY, counts, timeout=self._command_timeout)
            except _Lost:
                return False
            return True

        async def write(con: Pooled) -> bool:
            if version == 0:
                status = await con.execute(
                    "INSERT INTO dialogs (key, state, touched, version) VALUES ($1, $2, $3, 1) ON CONFLICT (key) DO "
                    "NOTHING",
                    key,
                    _dumps(state),
                    now,
                    timeout=self._command_timeout,
                )
            else:
                status = await con.execute(
                    "UPDATE dialogs SET state = $2, touched = $3, version = version + 1 WHERE key = $1 AND version = "
                    "$4",
                    key,
                    _dumps(state),
                    now,
                    version,
                    timeout=self._command_timeout,
                )
            return _rows(status) == 1

        return await self._run(save)

    async def _claim_all(self, con: Pooled, claims: Sequence[tuple[str, str]], now: float) -> None:
        for scope, claim_key in claims:
            status = await con.execute(_CLAIM, scope, claim_key, now, timeout=self._command_timeout)
            if _rows(status) != 1:
                raise AlreadyClaimed(scope)

    async def put_dialog(self, key: str, state: dict[str, Any], now: float) -> None:
        await self._execute(
            "INSERT INTO dialogs (key, state, touched) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET state = "
            "excluded.state, touched = excluded.touched, version = dialogs.version + 1",
            key,
            _dumps(state),
            now,
        )

    # ------------------------------------------------------------------ outbox

    async def _insert_outbox(self, con: Pooled, items: Sequence[dict[str, Any]], now: float) -> None:
        if items:
            await con.executemany(
                "INSERT INTO outbox (id, platform, payload, token, created, lease_until) VALUES ($1, $2, $3, $4, $5, "
                "$6)",
                [(i["id"], i["platform"], _dumps(i["payload"]), i["token"], now, i["lease_until"]) for i in items],
                timeout=self._command_timeout,
            )

    async def put_outbox(
        self, items: Sequence[dict[str, Any]], now: float, *, claims: Sequence[tuple[str, str]] = ()
    ) -> None:
        if not (items or claims):
            return

        async def put(con: Pooled) -> None:
            async with con.transaction():
                await self._claim_all(con, claims, now)
                await self._insert_outbox(con, items, now)

        await self._run(put)

    async def claim_outbox(
        self, platform: str, token: str, now: float, lease_until: float, limit: int
    ) -> list[dict[str, Any]]:
        """One statement: SKIP LOCKED lets copies sweeping together take different items, never the same one."""
        rows = await self._run(
            lambda con: con.fetch(
                "UPDATE outbox SET token = $2, lease_until = $4 WHERE id IN ( SELECT id FROM outbox WHERE platform = "
                "$1 AND lease_until < $3 ORDER BY created, id LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING id, "
                "payload, created",
                platform,
                token,
                now,
                lease_until,
                limit,
                timeout=self._command_timeout,
            )
        )
        rows = sorted(rows, key=lambda r: (r["created"], r["id"]))
        return [
            {
                "id": r["id"],
                "platform": platform,
                "payload": json.loads(r["payload"]),
                "created": r["created"],
                "token": token,
                "lease_until": lease_until,
            }
            for r in rows
        ]

    async def finish_outbox(self, item_id: str, token: str) -> bool:
        return _rows(await self._execute("DELETE FROM outbox WHERE id = $1 AND token = $2", item_id, token)) == 1

    async def release_outbox(self, item_id: str, token: str, retry_at: float) -> bool:
        return (
            _rows(
                await self._execute(
                    "UPDATE outbox SET token = '', lease_until = $3 WHERE id = $1 AND token = $2",
                    item_id,
                    token,
                    retry_at,
                )
            )
            == 1
        )

    async def purge_outbox(self, created_before: float) -> int:
        return _rows(await self._execute("DELETE FROM outbox WHERE created < $1", created_before))

    async def delete_dialog(self, key: str) -> None:
        await self._execute("DELETE FROM dialogs WHERE key = $1", key)

    async def purge_dialogs(self, idle_since: float) -> int:
        """One copy purges at a time: a copy that finds another one purging returns 0 at once."""

        async def purge(con: Pooled) -> int:
            async with con.transaction():
                if not await con.fetchval(
                    "SELECT pg_try_advisory_xact_lock($1)",
                    _lock_key("purge-dialogs", self.schema),
                    timeout=self._command_timeout,
                ):
                    return 0
                return _rows(
                    await con.execute(
                        "DELETE FROM dialogs WHERE touched < $1", idle_since, timeout=self._command_timeout
                    )
                )

        return await self._run(purge)

    async def claim(self, scope: str, key: str, now: float) -> bool:
        won = await self._fetchval(_CLAIM + " RETURNING true", scope, key, now)
        return bool(won)

    async def release(self, scope: str, key: str) -> None:
        await self._execute("DELETE FROM claims WHERE scope = $1 AND key = $2", scope, key)

    async def purge_claims(self, scope: str, before: float) -> int:
        return _rows(await self._execute("DELETE FROM claims WHERE scope = $1 AND made < $2", scope, before))

    async def put_conversation(self, platform: str, conversation: str, reference: dict[str, Any], now: float) -> None:
        await self._execute(
            "INSERT INTO conversations (platform, conversation, reference, touched) VALUES ($1, $2, $3, $4) ON "
            "CONFLICT (platform, conversation) DO UPDATE SET reference = excluded.reference, touched = "
            "excluded.touched",
            platform,
            conversation,
            _dumps(reference),
            now,
        )

    async def get_conversation(self, platform: str, conversation: str) -> dict[str, Any] | None:
        reference = await self._fetchval(
            "SELECT reference FROM conversations WHERE platform = $1 AND conversation = $2", platform, conversation
        )
        return json.loads(reference) if reference is not None else None

    async def count_identified(self, period: str, interaction: str, customer: str) -> None:
        await self._execute(
            "INSERT INTO identified (period, interaction, customer, n) VALUES ($1, $2, $3, 1) "
            "ON CONFLICT (period, interaction, customer) DO UPDATE SET n = identified.n + 1",
            period,
            interaction,
            customer,
        )

    async def identified_counts(self, period: str) -> dict[tuple[str, str], int]:
        rows = await self._run(
            lambda con: con.fetch(
                "SELECT interaction, customer, n FROM identified WHERE period = $1",
                period,
                timeout=self._command_timeout,
            )
        )
        return {(row["interaction"], row["customer"]): row["n"] for row in rows}

    # --- weekly tips

    async def tally(self, period: str, team: str, metric: str, key: str) -> None:
        await self._execute(_TALLY, period, team, metric, key)

    async def tallies(self, periods: Sequence[str], team: str | None = None) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda con: con.fetch(
                "SELECT period, team, metric, key, n FROM tallies WHERE period = ANY($1::text[]) AND ($2::text IS "
                "NULL OR team = $2) ORDER BY period, team, metric, key",
                list(periods),
                team,
                timeout=self._command_timeout,
            )
        )
        return [dict(r) for r in rows]

    async def add_tip(self, platform: str, workspace: str, text: str, author: str, now: float) -> int:
        return await self._fetchval(
            "INSERT INTO queued_tips (platform, workspace, text, author, added) VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id",
            platform,
            workspace,
            text,
            author,
            now,
        )

    async def queued_tips(self, platform: str, workspace: str) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda con: con.fetch(
                "SELECT id, text, author, added FROM queued_tips WHERE platform = $1 AND workspace = $2 AND used_in "
                "IS NULL ORDER BY id",
                platform,
                workspace,
                timeout=self._command_timeout,
            )
        )
        return [dict(row) for row in rows]

    async def remove_tip(self, platform: str, workspace: str, tip_id: int) -> bool:
        async def remove(con: Pooled) -> bool:
            async with con.transaction():
                await con.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    _lock_key(f"tip-queue:{platform}:{workspace}", self.schema),
                    timeout=self._command_timeout,
                )
                status = await con.execute(
                    "DELETE FROM queued_tips WHERE id = $1 AND platform = $2 AND workspace = $3 AND used_in IS NULL",
                    tip_id,
                    platform,
                    workspace,
                    timeout=self._command_timeout,
                )
                return _rows(status) == 1

        return await self._run(remove)

    async def week_tip(self, platform: str, workspace: str, period: str) -> dict[str, Any] | None:
        """One transaction under the workspace's queue lock: look up the week's choice, or choose, record and retire.

        The lock (not the primary key alone) is what keeps two copies working on two different weeks
        from both taking the same oldest tip.
        """

        async def choose(con: Pooled) -> tuple[Any, Any]:
            async with con.transaction():
                await con.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    _lock_key(f"tip-queue:{platform}:{workspace}", self.schema),
                    timeout=self._command_timeout,
                )
                row = await con.fetchrow(
                    "SELECT tip_id, text FROM tip_weeks WHERE platform = $1 AND workspace = $2 AND period = $3",
                    platform,
                    workspace,
                    period,
                    timeout=self._command_timeout,
                )
                if row is not None:
                    return row["tip_id"], row["text"]
                row = await con.fetchrow(
                    "SELECT id, text FROM queued_tips WHERE platform = $1 AND workspace = $2 AND used_in IS NULL "
                    "ORDER BY id LIMIT 1",
                    platform,
                    workspace,
                    timeout=self._command_timeout,
                )
                chosen = (row["id"], row["text"]) if row is not None else (None, None)
                await con.execute(
                    "INSERT INTO tip_weeks (platform, workspace, period, tip_id, text) VALUES ($1, $2, $3, $4, $5)",
                    platform,
                    workspace,
                    period,
                    *chosen,
                    timeout=self._command_timeout,
                )
                if chosen[0] is not None:
                    await con.execute(
                        "UPDATE queued_tips SET used_in = $1 WHERE id = $2",
                        period,
                        chosen[0],
                        timeout=self._command_timeout,
                    )
                return chosen

        tip_id, text = await self._run(choose)
        return {"id": tip_id, "text": text} if tip_id is not None else None

    async def put_tip_schedule(self, platform: str, workspace: str, schedule: dict[str, Any], now: float) -> None:
        await self._execute(
            "INSERT INTO tip_schedules (platform, workspace, schedule, touched) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (platform, workspace) DO UPDATE SET schedule = excluded.schedule, touched = excluded.touched",
            platform,
            workspace,
            _dumps(schedule),
            now,
        )

    async def get_tip_schedule(self, platform: str, workspace: str) -> dict[str, Any] | None:
        schedule = await self._fetchval(
            "SELECT schedule FROM tip_schedules WHERE platform = $1 AND workspace = $2", platform, workspace
        )
        return json.loads(schedule) if schedule is not None else None

    async def subscribe_tips(self, platform: str, channel: str, workspace: str, conversation: str, now: float) -> bool:
        new = await self._fetchval(
            "INSERT INTO tip_channels (platform, channel, workspace, conversation, added) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT DO NOTHING RETURNING true",
            platform,
            channel,
            workspace,
            conversation,
            now,
        )
        return bool(new)

    async def unsubscribe_tips(self, platform: str, channel: str) -> bool:
        return (
            _rows(
                await self._execute("DELETE FROM tip_channels WHERE platform = $1 AND channel = $2", platform, channel)
            )
            == 1
        )

    async def tip_subscriptions(self) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda con: con.fetch(
                "SELECT platform, channel, workspace, conversation FROM tip_channels ORDER BY platform, channel",
                timeout=self._command_timeout,
            )
        )
        return [dict(row) for row in rows]

    async def claim_tip_post(
        self, platform: str, channel: str, period: str, workspace: str, token: str, now: float, lease_until: float
    ) -> bool:
        won = await self._fetchval(
            "INSERT INTO tip_posts (platform, channel, period, workspace, token, state, claimed, lease_until) VALUES "
            "($1, $2, $3, $4, $5, 'claimed', $6, $7) ON CONFLICT (platform, channel, period) DO UPDATE SET token = "
            "excluded.token, claimed = excluded.claimed, lease_until = excluded.lease_until WHERE tip_posts.state = "
            "'claimed' AND tip_posts.lease_until < excluded.claimed RETURNING true",
            platform,
            channel,
            period,
            workspace,
            token,
            now,
            lease_until,
        )
        return bool(won)

    async def start_tip_post(
        self, platform: str, channel: str, period: str, token: str, *, source: str, tip: str, text: str, now: float
    ) -> bool:
        status = await self._execute(
            "UPDATE tip_posts SET state = 'sending', source = $1, tip = $2, text = $3 "
            "WHERE platform = $4 AND channel = $5 AND period = $6 AND token = $7 AND state = 'claimed'",
            source,
            tip,
            text,
            platform,
            channel,
            period,
            token,
        )
        return _rows(status) == 1

    async def finish_tip_post(self, platform: str, channel: str, period: str, token: str, now: float) -> bool:
        status = await self._execute(
            "UPDATE tip_posts SET state = 'posted', posted = $1 WHERE platform = $2 AND channel = $3 AND period = $4 "
            "AND token = $5 AND state = 'sending'",
            now,
            platform,
            channel,
            period,
            token,
        )
        return _rows(status) == 1

    async def retry_tip_post(self, platform: str, channel: str, period: str, token: str, retry_at: float) -> bool:
        status = await self._execute(
            "UPDATE tip_posts SET state = 'claimed', lease_until = $1 WHERE platform = $2 AND channel = $3 AND "
            "period = $4 AND token = $5 AND state = 'sending'",
            retry_at,
            platform,
            channel,
            period,
            token,
        )
        return _rows(status) == 1

    async def tip_posts(
        self, platform: str, *, workspace: str | None = None, channel: str | None = None, period: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda con: con.fetch(
                f"SELECT {', '.join(_POST_COLUMNS)} FROM tip_posts WHERE platform = $1 AND ($2::text IS NULL OR "
                "workspace = $2) AND ($3::text IS NULL OR channel = $3) AND ($4::text IS NULL OR period = $4) ORDER "
                "BY claimed, channel, period",
                platform,
                workspace,
                channel,
                period,
                timeout=self._command_timeout,
            )
        )
        return [dict(row) for row in rows]

    async def ping(self) -> None:
        await self._fetchval("SELECT 1")

    async def close(self) -> None:
        """Wait briefly for calls in flight, then cut whatever is left: shutdown must not hang on a dead server."""
        try:
            await asyncio.wait_for(self._pool.close(), timeout=self._acquire_timeout)
        except (TimeoutError, *_UNAVAILABLE):
            self._pool.terminate()


async def _reset(connection: asyncpg.Connection) -> None:
    """Pool reset that costs a round trip only when needed: every call here is one statement, so
    only an interrupted transaction can leave state behind (asyncpg's default reset always asks
    the server, about 40% of a call's client CPU)."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")
