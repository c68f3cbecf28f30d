"""Preparing a write away from the write lock: on SQLite, on an in-memory copy of a read snapshot, then written in
one go.

In WAL mode a deferred transaction reads a snapshot without blocking writers. The work is prepared on a copy of that
snapshot, and the statements it planned run in the same transaction, so they act on exactly the state they were
planned on. If another connection wrote in between, SQLite refuses to upgrade the stale snapshot to a write
(SQLITE_BUSY_SNAPSHOT): nothing was written, and the work is prepared again on the new state.

PostgreSQL has no database-wide write lock (readers never wait for a writer, writers wait only for the rows they
share), so there is nothing to gain from a copy: the work is prepared on the database itself, and what it writes is
written, in the transaction `prepare` opens itself.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bot.storage.errors import BusyError
from bot.storage.sqlite import engine_errors
from bot.storage.sqlite_sync import SqliteSyncConnection
from bot.storage.sync import SyncConnection

log = logging.getLogger(__name__)

SNAPSHOT_ATTEMPTS = 20
WritePlan = Sequence[tuple[str, Sequence[Sequence[Any]]]]  # (statement, its rows for executemany), in order
T = TypeVar("T")


def write_prepared_on_snapshot(
    conn: SyncConnection,
    prepare: Callable[[SyncConnection], tuple[T, WritePlan]],
    *,
    what: str,
    attempts: int = SNAPSHOT_ATTEMPTS,
) -> tuple[T, float]:
    """`prepare(copy)` runs on an in-memory copy of `conn`'s database as of one read snapshot (foreign keys on) and
    returns its result and the writes it planned; the writes then run on `conn` in the snapshot's own transaction:
    all of them or, on any error, none. A stale snapshot starts it over (at most `attempts` times; the log line
    names `what`, e.g. "the import"). Returns the result and how long the write lock was held.

    On PostgreSQL `prepare(conn)` runs on the database itself (its writes are the writes; the plan is not run
    again) and the time returned is how long it took."""
    if not isinstance(conn, SqliteSyncConnection):
        started = time.perf_counter()
        result, _plan = prepare(conn)
        return result, time.perf_counter() - started
    raw = conn.raw
    for _attempt in range(attempts):
        raw.execute("BEGIN")  # deferred: a read snapshot until the first write
        try:
            with engine_errors():
                raw.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
                copy = sqlite3.connect(":memory:", isolation_level=None)
                try:
                    raw.backup(copy)
                    copy.row_factory = sqlite3.Row
                    copy.execute("PRAGMA foreign_keys = ON")
                    result, plan = prepare(SqliteSyncConnection(copy, Path(":memory:")))
                finally:
                    copy.close()
                if plan:
                    raw.execute("UPDATE bot_state SET value = value WHERE 0")  # takes the write lock, writes nothing
                locked_at = time.perf_counter()
                for sql, rows in plan:
                    raw.executemany(sql, rows)
                raw.execute("COMMIT")
            return result, time.perf_counter() - locked_at if plan else 0.0
        except BusyError as exc:
            raw.execute("ROLLBACK")
            cause = exc.__cause__
            if not (isinstance(cause, sqlite3.Error) and cause.sqlite_errorcode == sqlite3.SQLITE_BUSY_SNAPSHOT):
                raise
            log.info("The database changed while %s was being prepared; preparing it again", what)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
    raise BusyError(f"the database kept changing during {attempts} attempts to prepare {what}")
