"""Blocking SQLite connections (sqlite3) for worker threads, behind the engine-neutral `SyncConnection`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from bot.storage.api import Engine, Parameters, Row
from bot.storage.errors import BUSY_TIMEOUT_MS
from bot.storage.sqlite import engine_errors
from bot.storage.sync import SyncConnection, SyncCursor

IMPORT_CACHE_PRAGMA = "PRAGMA cache_size = -65536"  # 64 MiB: an import's index updates stay in memory until COMMIT


class SqliteSyncCursor(SyncCursor):
    def __init__(self, cursor: sqlite3.Cursor, raw: sqlite3.Connection) -> None:
        self._cursor = cursor
        self._raw = raw

    def fetchone(self) -> Any:
        with engine_errors():
            return self._cursor.fetchone()

    def fetchall(self) -> list[Row]:
        with engine_errors():
            return cast(list[Row], self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        if self._cursor.rowcount >= 0:
            return self._cursor.rowcount
        # The driver does not count a statement that starts with WITH; SQLite's own count is exact.
        return int(self._raw.execute("SELECT changes()").fetchone()[0])


class SqliteSyncConnection(SyncConnection):
    engine: Engine = "sqlite"

    def __init__(self, raw: sqlite3.Connection, path: Path) -> None:
        self.raw = raw  # the sqlite3 connection itself, for bot.storage's own SQLite-only work (snapshots)
        self.location = path

    def execute(self, sql: str, parameters: Parameters = ()) -> SyncCursor:
        with engine_errors():
            return SqliteSyncCursor(self.raw.execute(sql, parameters), self.raw)

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        with engine_errors():
            self.raw.executemany(sql, rows)

    def begin(self) -> None:
        with engine_errors():
            self.raw.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        with engine_errors():
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    def prepare_bulk_writes(self) -> None:
        self.raw.execute(IMPORT_CACHE_PRAGMA)

    def close(self) -> None:
        self.raw.close()


def connect_sqlite_sync(path: Path, *, read_only: bool = False) -> SqliteSyncConnection:
    """Autocommit mode with the bot's busy timeout; rows are indexable by position and name."""
    with engine_errors():
        if read_only:
            raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        else:
            raw = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            raw.execute("PRAGMA synchronous = NORMAL")
    return SqliteSyncConnection(raw, path)
