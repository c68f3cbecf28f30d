"""Catalog files: reading one (JSON in the catalog format, validated), importing one into the database, and seeding
an empty catalog from the files shipped under data/catalog."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from bot.catalog.importer import ImportSummary, import_records
from bot.catalog.records import CatalogFormatError, ShowRecord
from bot.catalog.staging import import_staged
from bot.catalog.validation import parse_document
from bot.common.paths import CATALOG_DIR
from bot.storage import Database, Location, connect_sync


def load_records(path: Path) -> list[ShowRecord]:
    """Read a catalog file (a file object, one show, or a list of shows) and validate every record."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise CatalogFormatError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    return parse_document(document)


def import_path(location: Location, path: Path, *, progress: Callable[[int], None] | None = None) -> ImportSummary:
    records = load_records(path)
    conn = connect_sync(location)
    try:
        return import_staged(conn, records, progress=progress)
    finally:
        conn.close()


def shipped_catalog_files() -> list[Path]:
    return sorted(CATALOG_DIR.glob("*.json"))


async def seed_if_empty(db: Database) -> ImportSummary | None:
    """Import the shipped catalog into an empty catalog; leave a non-empty one alone."""
    if await db.fetchval("SELECT EXISTS (SELECT 1 FROM shows)"):
        return None

    def seed() -> ImportSummary:
        records = [record for path in shipped_catalog_files() for record in load_records(path)]
        conn = connect_sync(db.location)
        try:
            return import_records(conn, records)
        finally:
            conn.close()

    return await asyncio.to_thread(seed)
