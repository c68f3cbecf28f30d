"""The database every feature reads and writes through, whichever engine holds it: `open_database` picks the engine
from where the database lives (an SQLite file, or a PostgreSQL URL)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from bot.common.config import Settings
from bot.storage.api import DatabaseUrl, Engine, Location, Parameters, Row, Transaction, is_postgresql_url
from bot.storage.migrations import Migration, migrate

# Keep (key, value) in bot_state, replacing what was there.
SET_STATE_SQL = (
    "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class Database(ABC):
    """The bot's database. Reads (`fetchone`, `fetchall`, `fetchval`) see committed data only, never a transaction
    another task has open; writes go through `transaction()` (or `execute`/`executemany`, one transaction each).
    Worker threads open their own blocking connection to `location` (`bot.storage.connect_sync`)."""

    engine: Engine
    location: Location

    @abstractmethod
    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, parameters: Parameters = ()) -> Row | None:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, parameters: Parameters = ()) -> Any:
        row = await self.fetchone(sql, parameters)
        return None if row is None else row[0]

    async def fetch_chunks(self, sql: str, parameters: Parameters = (), size: int = 5000) -> AsyncIterator[list[Row]]:
        """The query's rows, `size` at a time: for reading a whole table without holding all of it twice."""
        rows = await self.fetchall(sql, parameters)
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction: committed when the block ends, rolled back on any exception."""

    async def execute(self, sql: str, parameters: Parameters = ()) -> int:
        """One write statement in its own transaction; returns how many rows it changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, parameters)

    async def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

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
        """The highest migration number applied (0: none)."""
        return max(await self.applied_migrations(), default=0)

    @abstractmethod
    async def applied_migrations(self) -> set[int]:
        """The numbers of the migrations this database has applied."""

    @abstractmethod
    async def apply_migration(self, migration: Migration) -> bool:
        """Run one migration's statements and record its number, in one transaction; False if another process
        applied it first (nothing done)."""

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> int:
        """Apply every migration newer than the database (bot.storage.migrations). Returns the new version."""
        return await migrate(self, migrations)

    def describe(self) -> str:
        """Where the database is, for messages (a URL's password masked)."""
        return str(self.location)


def location_of(value: str | Path) -> Location:
    """A PostgreSQL URL (postgresql://...) or the path of an SQLite file."""
    if isinstance(value, str) and is_postgresql_url(value):
        return DatabaseUrl(value)
    return Path(value)


def database_location(settings: Settings) -> Location:
    """Where the settings put the database: DATABASE_URL's PostgreSQL server if set, else the SQLite file."""
    return DatabaseUrl(settings.database_url) if settings.database_url else settings.database_path


@asynccontextmanager
async def open_database(where: Location | str, *, migrate: bool = True) -> AsyncIterator[Database]:
    """Open the database at `where` (an SQLite path, created if needed, or a PostgreSQL URL), migrated to this
    Showbot's schema unless `migrate=False`; closed when the block ends."""
    location = location_of(where) if isinstance(where, str) else where
    if isinstance(location, DatabaseUrl):
        from bot.storage.postgresql import open_postgresql

        async with open_postgresql(location, migrate=migrate) as database:
            yield database
    else:
        from bot.storage.sqlite import open_sqlite

        async with open_sqlite(location, migrate=migrate) as sqlite_database:
            yield sqlite_database
