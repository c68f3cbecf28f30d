"""Blocking connections for worker threads (catalog imports, the title index and recommender rebuilds): the same
`?` SQL and rows as the async API, on a connection of the calling thread, so the event loop never waits for them.

SQLite uses sqlite3; PostgreSQL uses psycopg (bot.storage.postgresql_sync). A connection is in autocommit mode:
each statement commits by itself unless `transaction()` (or `begin()` ... `commit()`) groups them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.storage.api import DatabaseUrl, Engine, Location, Parameters, Row


class SyncCursor(ABC):
    """What `SyncConnection.execute` returns: its rows (iterate, `fetchone`, `fetchall`) and `rowcount`."""

    @abstractmethod
    def fetchone(self) -> Any:
        """The next `Row`, or None (typed Any, as sqlite3 types it: `cursor.fetchone()[0]` after a query known to
        return a row)."""

    @abstractmethod
    def fetchall(self) -> list[Row]: ...

    @property
    @abstractmethod
    def rowcount(self) -> int:
        """How many rows the statement inserted, updated or deleted (read it before the next statement)."""

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class SyncConnection(ABC):
    engine: Engine
    location: Location

    @abstractmethod
    def execute(self, sql: str, parameters: Parameters = ()) -> SyncCursor: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None: ...

    def fetchone(self, sql: str, parameters: Parameters = ()) -> Row | None:
        row: Row | None = self.execute(sql, parameters).fetchone()
        return row

    def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        return self.execute(sql, parameters).fetchall()

    def fetchval(self, sql: str, parameters: Parameters = ()) -> Any:
        row = self.fetchone(sql, parameters)
        return None if row is None else row[0]

    @abstractmethod
    def begin(self) -> None:
        """Start a write transaction (SQLite: take the write lock now, not at the first write)."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def prepare_bulk_writes(self) -> None:  # noqa: B027 (a hook: engines without a tuning knob need nothing)
        """Tune the connection for a large import (SQLite: a bigger page cache); nothing where not needed."""

    @abstractmethod
    def close(self) -> None: ...


def connect_sync(location: Location, *, read_only: bool = False) -> SyncConnection:
    """A blocking connection to the database at `location`, for the calling (worker) thread; close it when done."""
    if isinstance(location, DatabaseUrl):
        from bot.storage.postgresql_sync import connect_postgresql_sync

        return connect_postgresql_sync(location, read_only=read_only)
    from bot.storage.sqlite_sync import connect_sqlite_sync

    return connect_sqlite_sync(location, read_only=read_only)
