"""Numbered migrations: the files under data/migrations, applied in order, each in its own transaction.

The database's schema version is SQLite's `user_version`; a database newer than this Showbot is refused rather than
guessed at.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.common.paths import MIGRATIONS_DIR
from bot.storage.errors import DatabaseError

if TYPE_CHECKING:
    from bot.storage.database import Database

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; their numbers must run 1, 2, 3, ... without gaps."""
    found = []
    for path in directory.iterdir():
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path))
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise DatabaseError(f"migration {migration.path.name} is out of sequence: expected number {expected:04d}")
    return found


async def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> int:
    """Apply every migration newer than the database, each in its own transaction. Returns the new version."""
    migrations = discover_migrations() if migrations is None else migrations
    latest = migrations[-1].version if migrations else 0
    current = await db.schema_version()
    if current > latest:
        raise DatabaseError(
            f"the database {db.path} has schema version {current}, newer than this Showbot knows "
            f"({latest}): upgrade Showbot, or point DATABASE_PATH at another file."
        )
    for migration in migrations:
        if migration.version <= current:
            continue
        log.info("Applying database migration %s", migration.path.name)
        async with db.transaction() as conn:
            # executescript would COMMIT first; run statement by statement inside our transaction instead.
            for statement in split_sql(migration.sql()):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {migration.version:d}")
    return max(current, latest)


def split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements (trigger bodies contain semicolons of their own)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise DatabaseError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:60]!r}")
    return statements
