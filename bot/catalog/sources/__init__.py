"""Catalog sources: readers and API clients that turn outside data into `bot.catalog.records.ShowRecord`s.

Every source ends in the one importer, `bot.catalog.importer.import_records` (upsert by external ids, else normalised
title and year range). A file import (the Netflix CSV) runs in one transaction, like a catalog file; a sync from an API
imports each show in its own transaction (`import_each`), so one bad show is reported and the others are kept, and a
show is never half written.
"""

from __future__ import annotations

from bot.catalog.sources.base import SourceError, SourceReport, import_each

__all__ = ["SourceError", "SourceReport", "import_each"]
