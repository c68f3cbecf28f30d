"""The filter names (genres, services) follow catalog changes incrementally, exactly as a full reload would."""

from __future__ import annotations

import asyncio

import pytest

from bot.catalog import Facets
from bot.catalog.importer import import_records
from bot.catalog.records import Release, ShowRecord
from bot.storage import Database, connect_sync


def add(db: Database, record: ShowRecord) -> None:
    conn = connect_sync(db.location)
    try:
        import_records(conn, [record])
    finally:
        conn.close()


@pytest.mark.both_engines
async def test_learning_changed_shows_equals_a_full_load(db: Database) -> None:
    facets = await Facets.load(db)
    assert "Zeta Test Genre" not in facets.genres
    record = ShowRecord(
        title="Facet Fixture Show",
        premiered="2031-01-01",
        genres=["Zeta Test Genre", "drama test genre"],
        network="Example Network Q",
        releases=[Release("season_premiere", "2031-02-01", "example stream r", 2)],
    )
    await asyncio.to_thread(add, db, record)
    show_id = int(await db.fetchval("SELECT id FROM shows WHERE title = 'Facet Fixture Show'"))

    learned = await facets.learn(db, [show_id])
    full = await Facets.load(db)
    assert {"Zeta Test Genre", "drama test genre"} <= set(learned.genres)
    assert {"Example Network Q", "example stream r"} <= set(learned.services)
    assert (learned.genres, learned.services) == (full.genres, full.services)

    # A show that is gone may have taken its names with it: everything is read again.
    await db.execute("DELETE FROM shows WHERE id = ?", (show_id,))
    after_delete = await learned.learn(db, [show_id])
    assert "Example Network Q" not in after_delete.services
    assert after_delete.genres == (await Facets.load(db)).genres
