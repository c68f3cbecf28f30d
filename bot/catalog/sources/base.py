"""What every source shares: its report (skipped records, quirks handled) and the per-show import."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from bot.catalog.importer import ImportSummary, import_records
from bot.catalog.popularity import recompute_popularity
from bot.catalog.records import ShowRecord
from bot.storage import EngineError, Location, connect_sync

log = logging.getLogger(__name__)


class SourceError(Exception):
    """A source could not be read or reached at all (wrong file, API down); the message is one sentence."""


@dataclass(slots=True)
class SourceReport:
    """What a source read, what it skipped (each named, with the reason), and quirks it handled on the way."""

    records: list[ShowRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def popularity_number(value: object) -> float | None:
    """A source's popularity number (TVmaze's weight, TMDB's popularity) if it is one: finite and not negative."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def import_each(
    location: Location,
    records: Iterable[ShowRecord],
    *,
    progress: Callable[[int], None] | None = None,
    derive_popularity: Literal["all", "changed"] = "all",
) -> ImportSummary:
    """Import every record in its own transaction; a record that fails is rolled back and named in `skipped`. If any
    source's popularity number changed, every show's popularity is derived once at the end (one statement; about a
    second at 90,000 shows, see docs/sources.md), or with "changed" only the changed shows', each in its own
    transaction (a member's lookup, who is waiting; the next sync derives everyone's)."""
    summary = ImportSummary()
    conn = connect_sync(location)
    try:
        for count, record in enumerate(records, start=1):
            try:
                outcome = import_records(
                    conn, [record], derive_popularity="changed" if derive_popularity == "changed" else "none"
                )
            except EngineError as exc:
                log.warning("Import of %r failed: %s", record.title, exc)
                summary.skipped.append(f"{record.title}: {exc}")
            else:
                summary.add(outcome)
            if progress is not None:
                progress(count)
        if summary.popularity_inputs and derive_popularity == "all":
            recompute_popularity(conn)
    finally:
        conn.close()
    return summary
