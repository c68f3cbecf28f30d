"""Numbered migrations, one directory per engine: data/migrations/sqlite/NNNN_name.sql and
data/migrations/postgresql/NNNN_name.sql, the same numbers on both (a number is one schema change, written in each
engine's SQL). Each runs in its own transaction, which also records its number in the `schema_migrations` table:
every migration not yet recorded is applied, in number order, so a number that lands later than a higher one (0009
after 0012) is still applied. Migrations must therefore not depend on a higher-numbered one. A database that
records a migration this Showbot does not have (made by a newer Showbot) is refused rather than guessed at.
SQLite databases from before the table existed are read from `user_version` (every number up to it applied).
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
from bot.storage.api import Engine
from bot.storage.errors import DatabaseError

if TYPE_CHECKING:
    from bot.storage.database import Database

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
ENGINES: tuple[Engine, ...] = ("sqlite", "postgresql")
# The same on both engines: which migrations a database has applied.
MIGRATIONS_TABLE_SQL = """CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name    TEXT NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations_dir(engine: Engine) -> Path:
    return MIGRATIONS_DIR / engine


def discover_migrations(directory: Path) -> list[Migration]:
    """The migration files in number order; two files with one number are refused."""
    found: dict[int, Migration] = {}
    for path in directory.iterdir():
        match = _MIGRATION_NAME.match(path.name)
        if match:
            version = int(match.group(1))
            if version in found:
                raise DatabaseError(f"two migrations numbered {version:04d}: {found[version].path.name}, {path.name}")
            found[version] = Migration(version, path)
    return [found[version] for version in sorted(found)]


async def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> int:
    """Apply every migration the database has not recorded, each in its own transaction. Returns the schema version
    (the highest number applied)."""
    migrations = discover_migrations(migrations_dir(db.engine)) if migrations is None else migrations
    known = {migration.version for migration in migrations}
    applied = await db.applied_migrations()
    unknown = sorted(applied - known)
    if unknown and (not known or unknown[-1] > max(known)):
        raise DatabaseError(
            f"the database {db.describe()} has schema version {unknown[-1]}, newer than this Showbot knows "
            f"({max(known, default=0)}): upgrade Showbot, or point the bot at another database."
        )
    for migration in migrations:
        if migration.version in applied:
            continue
        if await db.apply_migration(migration):
            log.info("Applied database migration %s", migration.path.name)
    return max(await db.applied_migrations(), default=0)


def split_sql(script: str) -> list[str]:
    """Split an SQLite migration script into complete statements (trigger bodies contain semicolons of their own)."""
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
