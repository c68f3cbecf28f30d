"""The SQLite database: connection settings, a connection for writes and one for reads, short serialised write
transactions, and the row and connection types the features name."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.errors import BUSY_TIMEOUT_MS, DatabaseError
from bot.storage.migrations import Migration, migrate

Row = sqlite3.Row  # what every read returns: indexable by position and by column name
Connection = aiosqlite.Connection  # what `Database.transaction()` yields
SyncConnection = sqlite3.Connection  # a blocking connection, for work in a worker thread
SyncCursor = sqlite3.Cursor  # what `SyncConnection.execute` returns


def connect_sync(path: Path, *, read_only: bool = False) -> SyncConnection:
    """A blocking connection for a worker thread, in autocommit mode with the bot's busy timeout; rows are `Row`s."""
    if read_only:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    if not read_only:
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


# Keep (key, value) in bot_state, replacing what was there.
SET_STATE_SQL = (
    "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class Database:
    """The bot's database: one aiosqlite connection for writes, another for reads (WAL mode).

    Writes go through `transaction()` on `connection`, which holds a lock so that two tasks never interleave
    statements of one transaction. Reads (`fetchone`, `fetchall`, `fetchval`, and `reader` for cursors) run on
    their own read-only connection: they see only committed data, never a transaction another task has open, and
    they do not wait behind a write that waits for SQLite's lock (another process may hold it for seconds).
    """

    def __init__(
        self, connection: aiosqlite.Connection, path: Path, reader: aiosqlite.Connection | None = None
    ) -> None:
        self.connection = connection
        self.reader = reader or connection  # one connection only for ":memory:" (a second would be another database)
        self.path = path
        self._write_lock = asyncio.Lock()

    async def fetchone(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.reader.execute(sql, parameters) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.reader.execute(sql, parameters) as cursor:
            return list(await cursor.fetchall())

    async def fetchval(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, parameters)
        return None if row is None else row[0]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; one at a time per process."""
        async with self._write_lock:
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                await self.connection.rollback()
                raise
            else:
                await self.connection.commit()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        """One write statement in its own transaction."""
        async with self.transaction() as conn:
            await conn.execute(sql, parameters)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    async def get_state(self, key: str) -> str | None:
        """The value the bot keeps under `key` in bot_state (command sync hashes, catalog sync progress), or None."""
        value = await self.fetchval("SELECT value FROM bot_state WHERE key = ?", (key,))
        return None if value is None else str(value)

    async def forget_state(self, key: str) -> None:
        await self.execute("DELETE FROM bot_state WHERE key = ?", (key,))

    async def set_state(self, *items: tuple[str, str]) -> None:
        """Keep each (key, value) in bot_state, replacing what was there, in one transaction."""
        await self.executemany(SET_STATE_SQL, items)

    async def schema_version(self) -> int:
        return int(await self.fetchval("PRAGMA user_version"))

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> int:
        """Apply every migration newer than the database (bot.storage.migrations). Returns the new version."""
        return await migrate(self, migrations)


@asynccontextmanager
async def open_database(path: Path | str, *, migrate: bool = True) -> AsyncIterator[Database]:
    """Open (creating if needed) the database at `path`, with WAL, foreign keys and a busy timeout: a connection
    for writes and a read-only one for reads."""
    path = Path(path)
    in_memory = str(path) == ":memory:"
    try:
        if not in_memory:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Opened once without aiosqlite first: when aiosqlite fails to connect, its worker thread later reports into
        # the closed event loop, and a traceback follows the one-line error.
        sqlite3.connect(path).close()
        connection = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"cannot open the database {path}: {exc}; check DATABASE_PATH.") from exc
    reader: aiosqlite.Connection | None = None
    try:
        try:
            connection.row_factory = sqlite3.Row
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                reader = await aiosqlite.connect(path, isolation_level=None)
                reader.row_factory = sqlite3.Row
                await reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
                await reader.execute("PRAGMA foreign_keys = ON")  # as the writer: PRAGMA reads tell the truth
                await reader.execute("PRAGMA query_only = ON")  # a write here would bypass transaction()
            database = Database(connection, path, reader)
            if migrate:
                await database.migrate()
        except sqlite3.DatabaseError as exc:  # not an SQLite file, or one this process may not write
            raise DatabaseError(f"cannot use {path} as the Showbot database ({exc}); check DATABASE_PATH.") from exc
        yield database
    finally:
        if reader is not None:
            await reader.close()
        await connection.close()
