"""The engine-neutral surface every feature uses: rows, transactions, the database, and where a database lives.

Features write SQL with `?` placeholders (or `?1`, `?2` to use one parameter twice) and portable constructs only
(docs/storage.md lists them); the engine's dialect (bot.storage.dialect) translates what differs. Rows are
indexable by position and by column name on every engine, iterate over their values, and `dict(row)` works.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.common.config import mask_password

Engine = Literal["sqlite", "postgresql"]
Parameters = Sequence[Any]


class Row(Protocol):
    """A result row: `row[0]`, `row["title"]`, `tuple(row)`, `dict(row)`, `for value in row`."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> Iterable[str]: ...


class Reader(Protocol):
    """Anything that answers queries: a `Database` (committed data) or a `Transaction` (its own view)."""

    async def fetchone(self, sql: str, parameters: Parameters = ()) -> Row | None: ...

    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]: ...

    async def fetchval(self, sql: str, parameters: Parameters = ()) -> Any: ...


class Transaction(ABC):
    """One open transaction (`Database.transaction()`): every statement here commits together or not at all."""

    engine: Engine

    @abstractmethod
    async def execute(self, sql: str, parameters: Parameters = ()) -> int:
        """Run one statement; returns how many rows it inserted, updated or deleted."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        """Run one statement once per parameter row."""

    @abstractmethod
    async def fetchall(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        """Every row of a query (or of a write with RETURNING)."""

    async def fetchone(self, sql: str, parameters: Parameters = ()) -> Row | None:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, parameters: Parameters = ()) -> Any:
        row = await self.fetchone(sql, parameters)
        return None if row is None else row[0]


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and error messages."""
    return mask_password(url)


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A PostgreSQL server's URL (`postgresql://user:password@host/db`). Printed and logged with the password masked."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseUrl({mask_url(self.url)!r})"


# Where a database lives: an SQLite file, or a PostgreSQL server. What worker threads get to open their own connection.
Location = Path | DatabaseUrl


def engine_of(location: Location) -> Engine:
    return "postgresql" if isinstance(location, DatabaseUrl) else "sqlite"


def is_postgresql_url(value: str) -> bool:
    return value.lower().startswith(("postgresql://", "postgres://"))
