"""The one popularity the bot reads (`shows.popularity`, 0-100), derived from each live source's own number.

TVmaze's weight (0-100) and TMDB's popularity (unbounded, and on a scale of its own) cannot be compared or averaged as
they are. So each is turned into a percentile rank among the catalog's shows that have that source's number (the
mid-rank: the share of those shows below it plus half the share equal to it, times 100), and a show's popularity is
the mean of its percentiles over the sources it has. That is scale free (multiplying a source's numbers changes
nothing) and keeps every value strictly between 0 and 100. A show with neither number (a curated show no live source
knows) keeps what it has: a catalog file's own popularity, or 0.

Everything that orders by popularity (autocomplete's tie-breaks, the recommender's cold-start prior, the weekly
fallback picks, browsing) reads `shows.popularity` only.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.catalog.records import SOURCE_POPULARITY_COLUMNS
from bot.storage import Row, SyncConnection


def _percentiles(name: str, column: str) -> str:
    # Per distinct value (TVmaze's weights are whole numbers, so few): the shows below it plus half of those equal,
    # from a running count over the column's index, not a sort of the shows.
    return f"""{name} AS (
        SELECT value, 50.0 * (2 * SUM(shows) OVER (ORDER BY value) - shows) / SUM(shows) OVER () AS percentile
        FROM (SELECT {column} AS value, COUNT(*) AS shows FROM shows WHERE {column} IS NOT NULL GROUP BY {column})
              AS counts)"""


_RANKS = {column: f"rank_{source}" for source, column in SOURCE_POPULARITY_COLUMNS.items()}
_PERCENTILE_SUM = " + ".join(
    f"COALESCE((SELECT percentile FROM {table} WHERE value = shows.{column}), 0)" for column, table in _RANKS.items()
)
_SOURCES_HAD = " + ".join(f"(CASE WHEN {column} IS NOT NULL THEN 1 ELSE 0 END)" for column in _RANKS)
_DERIVED = f"ROUND(CAST(({_PERCENTILE_SUM}) / ({_SOURCES_HAD}) AS NUMERIC), 4)"  # rounded: float noise rewrites no row
# One statement, one pass over the shows: each source's value -> percentile table, then every show that has a number
# gets the mean of its percentiles, written only where it changes. Column names come from SOURCE_POPULARITY_COLUMNS.
_RECOMPUTE_SQL = f"""
WITH {", ".join(_percentiles(table, column) for column, table in _RANKS.items())}
UPDATE shows SET popularity = {_DERIVED}
WHERE ({" OR ".join(f"{column} IS NOT NULL" for column in _RANKS)}) AND popularity IS DISTINCT FROM {_DERIVED}"""


def recompute_popularity(conn: SyncConnection, show_ids: Iterable[int] | None = None) -> int:
    """Derive `shows.popularity` from the sources' numbers for every show that has one (or, given `show_ids`, for
    those shows only, against the whole catalog: what a page of a long import needs while the rest waits for the
    run's end). Returns how many rows changed. Runs in the caller's transaction, if any.

    The shows' `updated_at` is left alone: a show whose own number changed was written by that import already (so the
    bot re-reads it); the others' percentiles shift by a fraction, in the same order among shows with the same
    sources, and the bot's in-memory copies take them at the next rebuild of the title index or restart."""
    if show_ids is None:
        return conn.execute(_RECOMPUTE_SQL).rowcount
    ids = sorted(set(show_ids))
    changed = 0
    for start in range(0, len(ids), 500):  # SQLite's parameter limit
        chunk = ids[start : start + 500]
        changed += conn.execute(_RECOMPUTE_SQL + f" AND id IN ({','.join('?' * len(chunk))})", chunk).rowcount
    return changed


def popularity_sources(row: Row) -> list[str]:
    """The live sources whose numbers a show's popularity is derived from (a `shows` row), in a fixed order."""
    return [source for source, column in SOURCE_POPULARITY_COLUMNS.items() if row[column] is not None]
