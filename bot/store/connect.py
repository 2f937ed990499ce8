"""Opening the configured store: PostgreSQL when a DATABASE_URL is given, else the SQLite file.

The server, the tools and the terminal chat all open their store here, so a URL means the same
to each. The server also needs something to hold while the database is down at start:
``NotConnected`` answers every call with ``StoreUnavailable`` until the real store replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.errors import CoachError, StoreUnavailable
from bot.store import Store


async def open_store(*, database_url: str | None, db_path: Path) -> Store:
    """PostgreSQL when ``database_url`` is set, else the SQLite file at ``db_path``.

    A ``search_path`` parameter naming one schema (``postgresql://host/db?search_path=coach``) keeps
    the tables in that schema, created if missing.

    Raises:
        StoreUnavailable: the database server does not answer (worth trying again later).
        CoachError: it answers no (unknown role or database, wrong password) or the URL is unusable.
    """
    if database_url:
        import asyncpg

        from bot.store.postgres import PostgresStore

        dsn, schema = dsn_and_schema(database_url)
        try:
            return await PostgresStore.connect(dsn=dsn, schema=schema)
        except asyncpg.PostgresError as error:
            raise CoachError(f"PostgreSQL refused the connection: {type(error).__name__}: {error}") from None
        except ValueError as error:
            raise CoachError(f"DATABASE_URL is not a usable postgresql:// URL ({type(error).__name__})") from None
    from bot.store.sqlite import SQLiteStore

    return SQLiteStore(path=db_path)


def dsn_and_schema(url: str) -> tuple[str, str | None]:
    """DATABASE_URL split into the DSN for the driver and the one schema its ``search_path`` names, if any."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise CoachError(f"DATABASE_URL must start with postgresql://, got {parts.scheme or 'no scheme'}://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    paths = [value for key, value in query if key == "search_path"]
    if len(paths) != 1 or not paths[0] or "," in paths[0]:
        return url, None
    rest = [(key, value) for key, value in query if key != "search_path"]
    return urlunsplit(parts._replace(query=urlencode(rest))), paths[0].strip().strip('"')


class NotConnected:
    """Stands in for the store until the database first answers: every call raises ``StoreUnavailable``."""

    def __getattr__(self, name: str) -> Any:
        async def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailable("storage not connected yet")

        return unavailable

    async def close(self) -> None:
        pass


__all__ = ["NotConnected", "dsn_and_schema", "open_store"]
