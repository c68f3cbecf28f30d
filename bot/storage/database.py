"""The SQLite database: connection settings, numbered migrations, and short serialised write transactions."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.common.paths import MIGRATIONS_DIR

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_TIMEOUT_MS = 5000
# Keep (key, value) in bot_state, replacing what was there.
SET_STATE_SQL = (
    "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class DatabaseError(Exception):
    """The database cannot be used as it is (for example: made by a newer Showbot). The message says what to do."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; their numbers must run 1, 2, 3, ... without gaps."""
    found = []
    for path in directory.iterdir():
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path))
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise DatabaseError(f"migration {migration.path.name} is out of sequence: expected number {expected:04d}")
    return found


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's "database is locked/busy": another connection holds the lock; worth retrying."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in BUSY_CODES


BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
LOCK_RETRY_FIRST, LOCK_RETRY_MAX = 0.05, 2.0  # seconds between tries while the database is locked (doubling)
STALL_WARNING_EVERY = 30.0  # seconds between warnings while something waits for the lock
T = TypeVar("T")


async def retry_while_locked(
    attempt: Callable[[], Awaitable[T]],
    what: str,
    waiting: Callable[[], str] = lambda: "",
    on_stall: Callable[[], object] | None = None,
) -> T:
    """`await attempt()`, tried again with backoff for as long as it fails because another connection holds the
    database's write lock (each try already waits `BUSY_TIMEOUT_MS` inside SQLite); any other error is raised.
    While it stalls, a warning names `what` and `waiting()` (when it starts, then every STALL_WARNING_EVERY s);
    `on_stall()` is called once when it starts."""
    tries = 0
    stalled_at: float | None = None
    warned_at = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            if not is_busy(exc):
                raise
            now = loop.time()
            if stalled_at is None:
                stalled_at = now
                if on_stall is not None:
                    on_stall()
            if now - warned_at >= STALL_WARNING_EVERY:
                warned_at = now
                log.warning(
                    "%s stalled for %.0f s: the database is locked by another connection (%s)%s",
                    what,
                    now - stalled_at + BUSY_TIMEOUT_MS / 1000,
                    exc,
                    waiting(),
                )
            await asyncio.sleep(min(LOCK_RETRY_FIRST * 2**tries, LOCK_RETRY_MAX))
            tries += 1
            continue
        if stalled_at is not None:
            log.warning("%s went through after a stall of %.1f s", what, loop.time() - stalled_at)
        return result


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

    async def set_state(self, *items: tuple[str, str]) -> None:
        """Keep each (key, value) in bot_state, replacing what was there, in one transaction."""
        await self.executemany(SET_STATE_SQL, items)

    async def schema_version(self) -> int:
        return int(await self.fetchval("PRAGMA user_version"))

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> int:
        """Apply every migration newer than the database, each in its own transaction. Returns the new version."""
        migrations = discover_migrations() if migrations is None else migrations
        latest = migrations[-1].version if migrations else 0
        current = await self.schema_version()
        if current > latest:
            raise DatabaseError(
                f"the database {self.path} has schema version {current}, newer than this Showbot knows "
                f"({latest}): upgrade Showbot, or point DATABASE_PATH at another file."
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            log.info("Applying database migration %s", migration.path.name)
            async with self.transaction() as conn:
                # executescript would COMMIT first; run statement by statement inside our transaction instead.
                for statement in split_sql(migration.sql()):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {migration.version:d}")
        return max(current, latest)


def split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements (trigger bodies contain semicolons of their own)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise DatabaseError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:60]!r}")
    return statements


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
