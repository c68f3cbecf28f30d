"""What the storage package raises: its own exceptions, whichever engine is underneath, so that no feature ever names
a driver's error class."""

from __future__ import annotations

BUSY_TIMEOUT_MS = 5000  # how long SQLite waits for another connection's write lock before it reports busy


class DatabaseError(Exception):
    """The database cannot be used as it is (cannot be opened, made by a newer Showbot). The message says what to do."""


class EngineError(Exception):
    """A statement failed in the engine (a constraint, a lock, a broken connection). Raised from the driver's own
    error; the few places that contain a failure of one show or one job catch this (catch, report, go on)."""


class IntegrityError(EngineError):
    """A constraint refused the statement: unique, foreign key, check or not null."""


class BusyError(EngineError):
    """Another connection holds a lock the statement needs, or a concurrent write made it fail (SQLite's "database
    is locked", PostgreSQL's serialization failure or deadlock): nothing was written, and trying again is right."""
