"""Preparing a write away from the write lock: on an in-memory copy of a read snapshot, then written in one go.

In WAL mode a deferred transaction reads a snapshot without blocking writers. The work is prepared on a copy of that
snapshot, and the statements it planned run in the same transaction, so they act on exactly the state they were
planned on. If another connection wrote in between, SQLite refuses to upgrade the stale snapshot to a write
(SQLITE_BUSY_SNAPSHOT): nothing was written, and the work is prepared again on the new state.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bot.storage.database import SyncConnection

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
    """`prepare(copy)` runs on an in-memory copy of `conn`'s database as of one read snapshot (foreign keys on, rows
    are `Row`s) and returns its result and the writes it planned; the writes then run on `conn` in the snapshot's
    own transaction: all of them or, on any error, none. A stale snapshot starts it over (at most `attempts` times;
    the log line names `what`, e.g. "the import"). Returns the result and how long the write lock was held."""
    for _attempt in range(attempts):
        conn.execute("BEGIN")  # deferred: a read snapshot until the first write
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
            copy = sqlite3.connect(":memory:", isolation_level=None)
            try:
                conn.backup(copy)
                copy.row_factory = sqlite3.Row
                copy.execute("PRAGMA foreign_keys = ON")
                result, plan = prepare(copy)
            finally:
                copy.close()
            if plan:
                conn.execute("UPDATE bot_state SET value = value WHERE 0")  # takes the write lock, writes nothing
            locked_at = time.perf_counter()
            for sql, rows in plan:
                conn.executemany(sql, rows)
            conn.execute("COMMIT")
            return result, time.perf_counter() - locked_at if plan else 0.0
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY_SNAPSHOT:
                raise
            log.info("The database changed while %s was being prepared; preparing it again", what)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    raise sqlite3.OperationalError(f"the database kept changing during {attempts} attempts to prepare {what}")
