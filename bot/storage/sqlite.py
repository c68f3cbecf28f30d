"""The SQLite engine (the embedded default): one aiosqlite connection for writes, another for reads (WAL mode), short
serialised write transactions, and the mapping of sqlite3's errors to the storage package's own."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import cast

import aiosqlite

from bot.storage.api import Engine, Parameters, Row, Transaction
from bot.storage.database import Database
from bot.storage.errors import BUSY_TIMEOUT_MS, BusyError, DatabaseError, EngineError, IntegrityError
from bot.storage.migrations import MIGRATIONS_TABLE_SQL, Migration, split_sql

BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def translate_error(exc: sqlite3.Error) -> EngineError:
    """sqlite3's error as the storage package's own (the original stays as its __cause__)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(str(exc))
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in BUSY_CODES:
        return BusyError(str(exc))
    return EngineError(str(exc))


@contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc


class SqliteTransaction(Transaction):
    engine: Engine = "sqlite"

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, parameters: Parameters = ()) -> int:
        with engine_errors():
            cursor = await self._connection.execute(sql, parameters)
            count = cursor.rowcount
            if count < 0:  # a statement starting with WITH: the driver does not count, SQLite does
                async with self._connection.execute("SELECT changes()") as changes:
                    row = await changes.fetchone()
                    count = int(row[0]) if row is not None else 0
            await cursor.close()
            return count

    async def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        with engine_errors():
            await self._connection.executemany(sql, rows)

    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        with engine_errors():
            async with self._connection.execute(sql, parameters) as cursor:
                return cast(list[Row], list(await cursor.fetchall()))


class SqliteDatabase(Database):
    """Writes go through `transaction()` on `connection`, which holds a lock so that two tasks never interleave
    statements of one transaction. Reads run on their own read-only connection: they see only committed data, never
    a transaction another task has open, and they do not wait behind a write that waits for SQLite's lock (another
    process may hold it for seconds)."""

    engine: Engine = "sqlite"

    def __init__(
        self, connection: aiosqlite.Connection, path: Path, reader: aiosqlite.Connection | None = None
    ) -> None:
        self.connection = connection
        self.reader = reader or connection  # one connection only for ":memory:" (a second would be another database)
        self.path = path
        self.location = path
        self._write_lock = asyncio.Lock()

    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        with engine_errors():
            async with self.reader.execute(sql, parameters) as cursor:
                return cast(list[Row], list(await cursor.fetchall()))

    async def fetch_chunks(self, sql: str, parameters: Parameters = (), size: int = 5000) -> AsyncIterator[list[Row]]:
        with engine_errors():
            async with self.reader.execute(sql, parameters) as cursor:
                while rows := await cursor.fetchmany(size):
                    yield cast(list[Row], rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; one at a time per process."""
        async with self._write_lock:
            with engine_errors():
                await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(self.connection)
            except BaseException:
                await self.connection.rollback()
                raise
            else:
                with engine_errors():
                    await self.connection.commit()

    async def applied_migrations(self) -> set[int]:
        if await self.fetchval(_HAS_MIGRATIONS_TABLE):
            return {int(row[0]) for row in await self.fetchall("SELECT version FROM schema_migrations")}
        # Before the table: user_version was the last number, and every number up to it was applied.
        return set(range(1, int(await self.fetchval("PRAGMA user_version")) + 1))

    async def apply_migration(self, migration: Migration) -> bool:
        async with self.transaction() as tx:
            if not await tx.fetchval(_HAS_MIGRATIONS_TABLE):
                legacy = int(await tx.fetchval("PRAGMA user_version"))
                await tx.execute(MIGRATIONS_TABLE_SQL)
                await tx.executemany(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, '')", [(n,) for n in range(1, legacy + 1)]
                )
            elif await tx.fetchval("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)):
                return False  # another process applied it while this one waited for the lock
            # executescript would COMMIT first; run statement by statement inside our transaction instead.
            for statement in split_sql(migration.sql()):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (migration.version, migration.path.name)
            )
            # user_version stays the highest number applied, as tools that read it expect.
            await tx.execute(
                f"PRAGMA user_version = {max(migration.version, int(await tx.fetchval('PRAGMA user_version'))):d}"
            )
        return True


_HAS_MIGRATIONS_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"


@asynccontextmanager
async def open_sqlite(path: Path, *, migrate: bool = True) -> AsyncIterator[SqliteDatabase]:
    """Open (creating if needed) the database at `path`, with WAL, foreign keys and a busy timeout: a connection
    for writes and a read-only one for reads."""
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
            database = SqliteDatabase(connection, path, reader)
            if migrate:
                await database.migrate()
        except (sqlite3.DatabaseError, EngineError) as exc:  # not an SQLite file, or one this process may not write
            raise DatabaseError(f"cannot use {path} as the Showbot database ({exc}); check DATABASE_PATH.") from exc
        yield database
    finally:
        if reader is not None:
            await reader.close()
        await connection.close()
