"""The database: the connection, its migrations, and the one place that knows the database engine.

Every feature reads and writes through `Database` (parameterised SQL, one writer, a separate read connection); the
numbered migrations under data/migrations are applied by `open_database`. May import: `bot.common` only.
"""

from __future__ import annotations

from bot.storage.database import (
    BUSY_TIMEOUT_MS,
    SET_STATE_SQL,
    Database,
    DatabaseError,
    open_database,
    retry_while_locked,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SET_STATE_SQL",
    "Database",
    "DatabaseError",
    "open_database",
    "retry_while_locked",
]
