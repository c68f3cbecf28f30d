"""The PostgreSQL engine (the scale-out backend): an asyncpg pool, transactions on one pooled connection each, the
dialect's translation of every statement, and the mapping of asyncpg's errors to the storage package's own.

Reads outside a transaction take any pooled connection and see committed data only (READ COMMITTED). Unlike the
SQLite engine, several transactions of one process may run at once; claims and ledgers therefore rely on the
engine's own guarantees (`INSERT ... ON CONFLICT ... RETURNING`, row locks), never on the process's order.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import cast

import asyncpg

from bot.storage.api import DatabaseUrl, Engine, Parameters, Row, Transaction, mask_url
from bot.storage.database import Database
from bot.storage.dialect import rows_changed, to_postgresql
from bot.storage.errors import BusyError, DatabaseError, EngineError, IntegrityError
from bot.storage.migrations import MIGRATIONS_TABLE_SQL, Migration

POOL_MIN, POOL_MAX = 1, 10
# pg_advisory_xact_lock key: one process at a time applies migrations (two bots starting together).
MIGRATION_LOCK = 0x5348_4F57_0001  # "SHOW" 1
_BUSY = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,
)


def translate_error(exc: Exception, url: DatabaseUrl | None = None) -> EngineError:
    """asyncpg's error as the storage package's own (the original stays as its __cause__); no password in it."""
    message = str(exc)
    if url is not None:
        message = message.replace(url.url, mask_url(url.url))
    if isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError):
        return IntegrityError(message)
    if isinstance(exc, _BUSY):
        return BusyError(message)
    return EngineError(message)


@contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise translate_error(exc) from exc


class PostgresTransaction(Transaction):
    engine: Engine = "postgresql"

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, parameters: Parameters = ()) -> int:
        with engine_errors():
            return rows_changed(await self._connection.execute(to_postgresql(sql), *parameters))

    async def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        rows = list(rows)
        if rows:
            with engine_errors():
                await self._connection.executemany(to_postgresql(sql), rows)

    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        with engine_errors():
            return cast(list[Row], await self._connection.fetch(to_postgresql(sql), *parameters))


class PostgresDatabase(Database):
    engine: Engine = "postgresql"

    def __init__(self, pool: asyncpg.Pool, location: DatabaseUrl) -> None:
        self.pool = pool
        self.location = location

    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        with engine_errors():
            return cast(list[Row], await self.pool.fetch(to_postgresql(sql), *parameters))

    async def fetch_chunks(self, sql: str, parameters: Parameters = (), size: int = 5000) -> AsyncIterator[list[Row]]:
        with engine_errors():
            async with self.pool.acquire() as connection, connection.transaction(readonly=True):
                cursor = await connection.cursor(to_postgresql(sql), *parameters)
                while rows := await cursor.fetch(size):
                    yield cast(list[Row], rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN ... COMMIT on one pooled connection, rolled back on any exception."""
        with engine_errors():
            async with self.pool.acquire() as connection, connection.transaction():
                yield PostgresTransaction(connection)

    async def applied_migrations(self) -> set[int]:
        if await self.fetchval("SELECT to_regclass('schema_migrations') IS NULL"):
            return set()
        return {int(row[0]) for row in await self.fetchall("SELECT version FROM schema_migrations")}

    async def apply_migration(self, migration: Migration) -> bool:
        script = migration.sql()
        with engine_errors():
            async with self.pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                if await connection.fetchval("SELECT to_regclass('schema_migrations') IS NULL"):
                    await connection.execute(MIGRATIONS_TABLE_SQL)
                elif await connection.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", migration.version):
                    return False  # another process applied it while this one waited for the lock
                await connection.execute(script)  # no parameters: the whole script in one round trip
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.path.name,
                )
        return True


async def _set_up_connection(connection: asyncpg.Connection) -> None:
    # NUMERIC arrives as float, as SQLite's REAL does (ROUND and AVG return NUMERIC on PostgreSQL).
    await connection.set_type_codec("numeric", encoder=str, decoder=float, schema="pg_catalog", format="text")


def _connect_message(location: DatabaseUrl, exc: BaseException) -> str:
    detail = re.sub(r"\s+", " ", str(exc) or type(exc).__name__).replace(location.url, str(location))
    return f"cannot connect to the PostgreSQL database {location}: {detail}; check DATABASE_URL."


@asynccontextmanager
async def open_postgresql(location: DatabaseUrl, *, migrate: bool = True) -> AsyncIterator[PostgresDatabase]:
    """A pool of connections to the server at `location`, migrated unless `migrate=False`; closed at the end."""
    try:
        pool = await asyncpg.create_pool(
            location.url, min_size=POOL_MIN, max_size=POOL_MAX, init=_set_up_connection, timeout=10
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise DatabaseError(_connect_message(location, exc)) from None
    try:
        database = PostgresDatabase(pool, location)
        if migrate:
            await database.migrate()
        yield database
    finally:
        await pool.close()
