"""What the storage package raises and how long SQLite waits for a lock before it does."""

from __future__ import annotations

import sqlite3

BUSY_TIMEOUT_MS = 5000
# The engine's own errors, for the few places that contain a failure of one show or one job (catch, report, go on).
EngineError = sqlite3.Error


class DatabaseError(Exception):
    """The database cannot be used as it is (for example: made by a newer Showbot). The message says what to do."""
