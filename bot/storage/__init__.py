"""The database: one engine-neutral interface over SQLite (the embedded default) and PostgreSQL, its migrations,
and the one place that knows the database engine.

Every feature reads and writes through `Database` (`fetchone`, `fetchall`, `fetchval`, and `transaction()` yielding
a `Transaction` with `execute`, `executemany` and the same fetches), with `?` placeholders and portable SQL
(docs/storage.md); worker threads use a blocking `SyncConnection` (`connect_sync(db.location)`). Rows are `Row`s
(by position and by name on every engine); the engines' errors arrive as `EngineError`, `IntegrityError` or
`BusyError`. Features never import a driver. The numbered migrations under data/migrations/<engine>/ are applied
by `open_database`. May import: `bot.common` only.
"""

from __future__ import annotations

from bot.storage.api import (
    DatabaseUrl,
    Engine,
    Location,
    Parameters,
    Reader,
    Row,
    Transaction,
    engine_of,
    is_postgresql_url,
    mask_url,
)
from bot.storage.database import SET_STATE_SQL, Database, database_location, location_of, open_database
from bot.storage.errors import BUSY_TIMEOUT_MS, BusyError, DatabaseError, EngineError, IntegrityError
from bot.storage.retry import is_busy, retry_while_locked
from bot.storage.snapshot import WritePlan, write_prepared_on_snapshot
from bot.storage.sync import SyncConnection, SyncCursor, connect_sync

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SET_STATE_SQL",
    "BusyError",
    "Database",
    "DatabaseError",
    "DatabaseUrl",
    "Engine",
    "EngineError",
    "IntegrityError",
    "Location",
    "Parameters",
    "Reader",
    "Row",
    "SyncConnection",
    "SyncCursor",
    "Transaction",
    "WritePlan",
    "connect_sync",
    "database_location",
    "engine_of",
    "is_busy",
    "is_postgresql_url",
    "location_of",
    "mask_url",
    "open_database",
    "retry_while_locked",
    "write_prepared_on_snapshot",
]
