"""Reading shows back out of the catalog: the show as a catalog record (`catalog show --json`, the /show card's
data), whether a show exists, which shows changed since a stamp, and the row counts `catalog stats` prints."""

from __future__ import annotations

from typing import Any

from bot.catalog.popularity import popularity_sources
from bot.catalog.records import ID_FIELDS, SCALAR_FIELDS, SOURCE_POPULARITY_COLUMNS
from bot.storage import Database


async def show_json(db: Database, show_id: int) -> dict[str, Any] | None:
    """The show as a catalog record (the `catalog show --json` object), or None if there is no such show."""
    row = await db.fetchone("SELECT * FROM shows WHERE id = ?", (show_id,))
    if row is None:
        return None
    alt_titles = [
        r[0]
        for r in await db.fetchall(
            "SELECT title FROM show_titles WHERE show_id = ? AND is_primary = 0 ORDER BY id", (show_id,)
        )
    ]
    genres = [
        r[0]
        for r in await db.fetchall(
            """SELECT g.name FROM show_genres sg JOIN genres g ON g.id = sg.genre_id
               WHERE sg.show_id = ? ORDER BY g.name""",
            (show_id,),
        )
    ]
    credit_rows = await db.fetchall(
        """SELECT c.role, c.character, c.job, p.name FROM credits c JOIN people p ON p.id = c.person_id
           WHERE c.show_id = ? ORDER BY c.role, c.billing, c.id""",
        (show_id,),
    )
    videos = await db.fetchall(
        "SELECT url, site, kind, name, official, season FROM videos WHERE show_id = ? ORDER BY official DESC, id",
        (show_id,),
    )
    releases = await db.fetchall(
        "SELECT kind, date, service, season, region FROM releases WHERE show_id = ? ORDER BY date, id", (show_id,)
    )
    offers = await db.fetchall(
        "SELECT service, region, kind, link FROM availability WHERE show_id = ? ORDER BY region, service, kind",
        (show_id,),
    )
    sources = [
        r[0] for r in await db.fetchall("SELECT source FROM show_sources WHERE show_id = ? ORDER BY source", (show_id,))
    ]
    given_by: dict[str, str] = {
        str(r[0]): str(r[1])
        for r in await db.fetchall("SELECT field, source FROM show_field_sources WHERE show_id = ?", (show_id,))
    }
    trailer = next((v["url"] for v in videos if v["kind"] == "trailer" and v["official"]), None)
    trailer = trailer or next((v["url"] for v in videos if v["kind"] == "trailer"), None)
    result: dict[str, Any] = {"id": row["id"], "title": row["title"], "alt_titles": alt_titles}
    for name in SCALAR_FIELDS:
        result[name] = row[name]
    result["popularity"] = row["popularity"] or None
    result.update(
        genres=genres,
        creators=[c["name"] for c in credit_rows if c["role"] == "creator"],
        cast=[{"name": c["name"], "character": c["character"] or None} for c in credit_rows if c["role"] == "cast"],
        crew=[{"name": c["name"], "job": c["job"]} for c in credit_rows if c["role"] == "crew"],
        trailer_url=trailer,
        videos=[
            {
                "url": v["url"],
                "site": v["site"],
                "kind": v["kind"],
                "name": v["name"],
                "official": bool(v["official"]),
                "season": v["season"],
            }
            for v in videos
        ],
        releases=[
            {
                "kind": r["kind"],
                "date": r["date"],
                "service": r["service"] or None,
                "season": r["season"],
                "region": r["region"] or None,
            }
            for r in releases
        ],
        availability=[
            {"service": o["service"], "region": o["region"] or None, "kind": o["kind"], "link": o["link"]}
            for o in offers
        ],
        ids={key: row[f"{key}_id"] for key in ID_FIELDS},
        source=row["source"],
        sources=sources,
        # Which source gave each known fact (the show's own source unless another one filled or updated it).
        field_sources={name: given_by.get(name, row["source"]) for name in SCALAR_FIELDS if result[name] is not None},
        # Each live source's own popularity number, as it gave it; popularity is derived from these when there are any.
        source_popularity={
            source: row[column] for source, column in SOURCE_POPULARITY_COLUMNS.items() if row[column] is not None
        },
    )
    if derived_from := popularity_sources(row):
        result["field_sources"]["popularity"] = "derived from " + ", ".join(derived_from)
    return result


async def catalog_stats(db: Database) -> dict[str, int]:
    tables = (
        "shows",
        "show_titles",
        "genres",
        "people",
        "credits",
        "videos",
        "releases",
        "availability",
        "votes",
        "vote_messages",
        "guild_settings",
        "weekly_posts",
    )
    # Table names come from the tuple above, never from input.
    return {table: int(await db.fetchval(f"SELECT COUNT(*) FROM {table}")) for table in tables}


async def show_exists(db: Database, show_id: int) -> bool:
    return await db.fetchval("SELECT 1 FROM shows WHERE id = ?", (show_id,)) is not None


async def shows_updated_since(db: Database, since: str) -> list[int]:
    """The shows whose row was written at or after `since` (an import stamp, `now_iso()`)."""
    return [int(row[0]) for row in await db.fetchall("SELECT id FROM shows WHERE updated_at >= ?", (since,))]
