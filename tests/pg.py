"""PostgreSQL for tests: a throw-away schema on the server named by COACH_TEST_PG_DSN, and a cuttable TCP proxy.

Tests that need the server take the ``pg_target`` fixture (tests/conftest.py). It skips, naming the DSN and the variable
to set, when no server answers; with COACH_TEST_PG_REQUIRED set (non-empty) it fails instead, so CI
on a machine that has the server cannot pass by skipping. Each test gets its own schema, dropped after.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

DSN_ENV = "COACH_TEST_PG_DSN"
REQUIRED_ENV = "COACH_TEST_PG_REQUIRED"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PROBE_TIMEOUT = 3.0

_probed: dict[str, str | None] = {}


def test_dsn() -> str:
    return os.environ.get(DSN_ENV) or DEFAULT_DSN


test_dsn.__test__ = False  # a helper, not a test


def masked(dsn: str) -> str:
    """The DSN without its password, for messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def probe(dsn: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when a server answers at ``dsn``, else the reason to give for skipping."""
    try:
        con = await asyncpg.connect(dsn, timeout=timeout)
    except Exception as exc:  # anything at all means "no usable server here"
        return (
            f"PostgreSQL not reachable at {masked(dsn)} ({type(exc).__name__}: {exc}); "
            f"set {DSN_ENV} to a server that answers"
        )
    await con.close()
    return None


def _admin(dsn: str, statement: str) -> None:
    async def run() -> None:
        con = await asyncpg.connect(dsn, timeout=PROBE_TIMEOUT)
        try:
            await con.execute(statement)
        finally:
            await con.close()

    asyncio.run(run())


@dataclass
class PgTarget:
    dsn: str
    schema: str


def pg_target_or_skip() -> PgTarget:
    """A fresh schema name on the test server, or a skip (a failure with COACH_TEST_PG_REQUIRED) naming why not."""
    dsn = test_dsn()
    if dsn not in _probed:
        _probed[dsn] = asyncio.run(probe(dsn))
    reason = _probed[dsn]
    if reason is not None:
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(f"{reason} ({REQUIRED_ENV} is set, so this is a failure)")
        pytest.skip(reason)
    return PgTarget(dsn=dsn, schema=f"coach_test_{uuid.uuid4().hex[:12]}")


def drop(target: PgTarget) -> None:
    """Drop the test's schema and everything in it."""
    _admin(target.dsn, f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')


def via(dsn: str, host: str, port: int) -> str:
    """``dsn`` with its host and port replaced (to go through a proxy)."""
    parts = urlsplit(dsn)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


class TcpProxy:
    """Forwards a local port to the server, and can play a database that is gone or that hangs.

    ``cut()``: close every connection and stop listening (connections refused), as when the server stops.
    ``restore()``: listen again on the same port. The port is the system's pick (port 0), held by a bound
    socket that never listens from ``start()`` to ``stop()``, so nothing else can take it while the proxy
    is cut: the copy under test keeps its DSN, and ``restore()`` never meets "address already in use".
    ``freeze()``: keep sockets open but pass no byte, as on a dead network path; ``thaw()`` lets bytes flow again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._hold: socket.socket | None = None  # bound, never listening: keeps the port ours while cut
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @classmethod
    def for_dsn(cls, dsn: str) -> TcpProxy:
        parts = urlsplit(dsn)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432)

    async def start(self) -> None:
        if self._hold is None:
            self._hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self._hold.bind((self.host, 0))
            self.port = self._hold.getsockname()[1]
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True, reuse_port=True
        )

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, server_writer))
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pump(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if server is not None:
            await server.wait_closed()
        await asyncio.sleep(0.05)

    async def restore(self) -> None:
        await self.start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def stop(self) -> None:
        self.thaw()
        await self.cut()
        if self._hold is not None:
            self._hold.close()
            self._hold = None
