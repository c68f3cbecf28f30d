"""The database: the connection, its migrations, and the one place that knows the database engine.

Every feature reads and writes through `Database` (parameterised SQL, one writer, a separate read connection), names
rows and connections by the types exported here, and never imports the engine's driver itself; the numbered
migrations under data/migrations are applied by `open_database`. May import: `bot.common` only.
"""

from __future__ import annotations

from bot.storage.database import (
    SET_STATE_SQL,
    Connection,
    Database,
    Row,
    SyncConnection,
    SyncCursor,
    connect_sync,
    open_database,
)
from bot.storage.errors import BUSY_TIMEOUT_MS, DatabaseError, EngineError
from bot.storage.retry import is_busy, retry_while_locked
from bot.storage.snapshot import WritePlan, write_prepared_on_snapshot

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SET_STATE_SQL",
    "Connection",
    "Database",
    "DatabaseError",
    "EngineError",
    "Row",
    "SyncConnection",
    "SyncCursor",
    "WritePlan",
    "connect_sync",
    "is_busy",
    "open_database",
    "retry_while_locked",
    "write_prepared_on_snapshot",
]
