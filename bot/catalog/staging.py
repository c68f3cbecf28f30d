"""The staged import: the matching (thousands of reads) runs on a copy of a read snapshot, away from the database's
write lock, and only the writes it planned run on the database, grouped per table (`bot.storage`'s
`write_prepared_on_snapshot` keeps the snapshot and starts over when another connection wrote meanwhile)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.catalog.importer import ImportSummary, import_records
from bot.catalog.records import ShowRecord
from bot.storage import SyncConnection, SyncCursor, WritePlan, write_prepared_on_snapshot

_WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class _RecordingConnection(SyncConnection):
    """The staging copy, noting every write statement (with its parameters) in the order it ran."""

    def __init__(self, conn: SyncConnection) -> None:
        self.conn = conn
        self.engine = conn.engine
        self.location = conn.location
        self.writes: list[tuple[str, Sequence[Any]]] = []

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> SyncCursor:
        if _WRITE_STATEMENT.match(sql):
            self.writes.append((sql, tuple(parameters)))
        return self.conn.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        for parameters in rows:
            self.execute(sql, parameters)

    def begin(self) -> None:
        self.conn.begin()

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def prepare_bulk_writes(self) -> None:
        self.conn.prepare_bulk_writes()

    def close(self) -> None:
        self.conn.close()


_WRITTEN_TABLE = re.compile(
    r"^\s*(?:(?:INSERT|REPLACE)(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE
)
_PARENT_TABLES = ("genres", "people", "shows")  # what the other catalog tables' foreign keys point to
_SAME_STREAM = {"show_titles": "shows"}  # the triggers on shows write show_titles: one stream, in order


def _write_plan(writes: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[str, list[Sequence[Any]]]]:
    """The recorded writes as few `executemany` calls, with the same result as running them one by one.

    Each statement reads and writes only its own table (the shows triggers also show_titles: those two stay one
    stream), so statements on different tables commute: they are grouped per table, each table's statements in
    their recorded order (same new ids, same outcomes), parent tables first (foreign keys). Consecutive identical
    statements then run as one `executemany`. A statement on a table it cannot name keeps the recorded order.
    """
    streams: dict[str, list[tuple[str, Sequence[Any]]]] = {}
    for sql, parameters in writes:
        match = _WRITTEN_TABLE.match(sql)
        if match is None:
            streams = {"": list(writes)}
            break
        table = match.group(1).lower()
        streams.setdefault(_SAME_STREAM.get(table, table), []).append((sql, parameters))
    order = [table for table in _PARENT_TABLES if table in streams]
    order += [table for table in streams if table not in _PARENT_TABLES]
    plan: list[tuple[str, list[Sequence[Any]]]] = []
    for table in order:
        for sql, parameters in streams[table]:
            if plan and plan[-1][0] == sql:
                plan[-1][1].append(parameters)
            else:
                plan.append((sql, [parameters]))
    return plan


def import_staged(
    conn: SyncConnection,
    records: Sequence[ShowRecord],
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import like `import_records` (one transaction, all or nothing), holding the write lock only to write.

    The matching (thousands of reads) runs on an in-memory copy of a read snapshot of the database, noting every
    write; the same writes then run on the database in the same transaction as the snapshot, so they act on
    exactly the state they were planned on (same rows, same new ids; grouped per table, see `_write_plan`). If
    another connection wrote in between, nothing was written, and it starts over (`write_prepared_on_snapshot`).
    `lock_seconds` in the summary is how long the write lock was held.
    """

    def prepare(copy: SyncConnection) -> tuple[ImportSummary, WritePlan]:
        recorder = _RecordingConnection(copy)
        summary = import_records(recorder, records, progress=progress)
        return summary, _write_plan(recorder.writes)

    conn.prepare_bulk_writes()
    summary, lock_seconds = write_prepared_on_snapshot(conn, prepare, what="the import")
    summary.lock_seconds = lock_seconds
    return summary
