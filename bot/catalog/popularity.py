"""The one popularity the bot reads (`shows.popularity`, 0-100), derived from each live source's own number.

TVmaze's weight (0-100) and TMDB's popularity (unbounded, and on a scale of its own) cannot be compared or averaged as
they are. So each is turned into a percentile rank among the catalog's shows that have that source's number (the
mid-rank: the share of those shows below it plus half the share equal to it, times 100), and a show's popularity is
the mean of its percentiles over the sources it has. That is scale free (multiplying a source's numbers changes
nothing) and keeps every value in (0, 100). A show with neither number (a curated show no live source knows) keeps
what it has: a catalog file's own popularity, or none.

Everything that orders by popularity (autocomplete's tie-breaks, the recommender's cold-start prior, the weekly
fallback picks, browsing) reads `shows.popularity` only.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.catalog.records import SOURCE_POPULARITY_COLUMNS
from bot.storage import Row, SyncConnection


def _percentiles(column: str) -> str:
    # RANK() - 1 counts the shows below, CUME_DIST() * n those below or equal: their mean is the mid-rank.
    return f"""SELECT id, 50.0 * ((RANK() OVER w - 1.0) / COUNT(*) OVER () + CUME_DIST() OVER w) AS percentile
               FROM shows WHERE {column} IS NOT NULL WINDOW w AS (ORDER BY {column})"""


# One statement: every source's percentiles in one pass over its column, averaged per show, written only where the
# value changes (rounded, so that float noise rewrites nothing). Column names come from SOURCE_POPULARITY_COLUMNS.
_RECOMPUTE_SQL = f"""
WITH ranked AS ({" UNION ALL ".join(_percentiles(column) for column in SOURCE_POPULARITY_COLUMNS.values())}),
derived AS (SELECT id, ROUND(AVG(percentile), 4) AS popularity FROM ranked GROUP BY id)
UPDATE shows SET popularity = derived.popularity FROM derived
WHERE shows.id = derived.id AND shows.popularity IS NOT derived.popularity"""


def recompute_popularity(conn: SyncConnection, show_ids: Iterable[int] | None = None) -> int:
    """Derive `shows.popularity` from the sources' numbers for every show that has one (or, given `show_ids`, for
    those shows only, against the whole catalog: what a page of a long import needs while the rest waits for the
    run's end). Returns how many rows changed. Runs in the caller's transaction, if any.

    The shows' `updated_at` is left alone: a show whose own number changed was written by that import already (so the
    bot re-reads it); the others' percentiles shift by a fraction, in the same order among shows with the same
    sources, and the bot's in-memory copies take them at the next rebuild of the title index or restart."""
    if show_ids is None:
        return int(conn.execute(_RECOMPUTE_SQL).rowcount)
    ids = sorted(set(show_ids))
    changed = 0
    for start in range(0, len(ids), 500):  # SQLite's parameter limit
        chunk = ids[start : start + 500]
        changed += int(
            conn.execute(_RECOMPUTE_SQL + f" AND shows.id IN ({','.join('?' * len(chunk))})", chunk).rowcount
        )
    return changed


def popularity_sources(row: Row) -> list[str]:
    """The live sources whose numbers a show's popularity is derived from (a `shows` row), in a fixed order."""
    return [source for source, column in SOURCE_POPULARITY_COLUMNS.items() if row[column] is not None]
