"""Blocking PostgreSQL connections (psycopg) for worker threads, behind the engine-neutral `SyncConnection`: the
same `?` SQL as everywhere (translated by the dialect to `$n`, which psycopg's RawCursor passes to the server as
it is), rows by position and by name, NUMERIC as float, autocommit unless `begin()`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import RowMaker
from psycopg.types.numeric import FloatLoader

from bot.storage.api import DatabaseUrl, Engine, Parameters, Row
from bot.storage.dialect import to_postgresql
from bot.storage.errors import BusyError, DatabaseError, EngineError, IntegrityError
from bot.storage.sync import SyncConnection, SyncCursor


class NamedRow:
    """A row indexable by position and by column name, like sqlite3.Row and asyncpg's Record."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __eq__(self, other: object) -> bool:
        return self._values == (other._values if isinstance(other, NamedRow) else other)

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"NamedRow({dict(zip(self._index, self._values, strict=True))!r})"


def _named_rows(cursor: psycopg.Cursor[Any]) -> RowMaker[NamedRow]:
    index = {column.name: position for position, column in enumerate(cursor.description or ())}
    return lambda values: NamedRow(values, index)


def translate_error(exc: psycopg.Error) -> EngineError:
    if isinstance(exc, psycopg.errors.IntegrityError):
        return IntegrityError(str(exc))
    if isinstance(
        exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected | psycopg.errors.LockNotAvailable
    ):
        return BusyError(str(exc))
    return EngineError(str(exc))


@contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise translate_error(exc) from exc


class PostgresSyncCursor(SyncCursor):
    def __init__(self, cursor: psycopg.Cursor[NamedRow]) -> None:
        self._cursor = cursor

    def fetchone(self) -> Any:
        if self._cursor.description is None:
            return None
        with engine_errors():
            return self._cursor.fetchone()

    def fetchall(self) -> list[Row]:
        if self._cursor.description is None:
            return []
        with engine_errors():
            return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return max(self._cursor.rowcount, 0)


class PostgresSyncConnection(SyncConnection):
    engine: Engine = "postgresql"

    def __init__(self, raw: psycopg.Connection[NamedRow], location: DatabaseUrl) -> None:
        self.raw = raw
        self.location = location

    def execute(self, sql: str, parameters: Parameters = ()) -> SyncCursor:
        cursor = self.raw.cursor()
        with engine_errors():
            cursor.execute(to_postgresql(sql), tuple(parameters))
        return PostgresSyncCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            with engine_errors(), self.raw.cursor() as cursor:
                cursor.executemany(to_postgresql(sql), rows)

    def begin(self) -> None:
        with engine_errors():
            self.raw.execute("BEGIN")

    def commit(self) -> None:
        with engine_errors():
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


def connect_postgresql_sync(location: DatabaseUrl, *, read_only: bool = False) -> PostgresSyncConnection:
    try:
        raw = psycopg.connect(
            location.url, autocommit=True, cursor_factory=psycopg.RawCursor, row_factory=_named_rows, connect_timeout=10
        )
    except psycopg.Error as exc:
        detail = str(exc).replace(location.url, str(location))
        raise DatabaseError(
            f"cannot connect to the PostgreSQL database {location}: {detail}; check DATABASE_URL."
        ) from None
    raw.adapters.register_loader("numeric", FloatLoader)
    if read_only:
        raw.execute("SET default_transaction_read_only = on")
    return PostgresSyncConnection(raw, location)
