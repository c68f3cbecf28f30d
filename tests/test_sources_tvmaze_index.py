"""The whole TVmaze show index (`catalog sync tvmaze --all`) against the local fake TVmaze, which serves the recorded
index page (../shared/data/tvmaze/shows_index_page1_2016.json, 245 real shows) split into pages: every page in turn,
the end of the index (404), 429 and 5xx, and a bootstrap interrupted and resumed from the page it had reached."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_tvmaze import SHOWS_INDEX, FakeTvmaze, recorded
from test_sources_tvmaze import RecordingSleep

from bot.catalog.files import seed_if_empty
from bot.catalog.importer import import_records
from bot.catalog.matching import find_show
from bot.catalog.records import ShowRecord
from bot.catalog.sources.base import SourceError
from bot.catalog.sources.tvmaze import TvmazeClient, show_to_record
from bot.catalog.sources.tvmaze_index import INDEX_STATE_KEY, IndexPosition, tvmaze_index
from bot.storage import connect_sync, open_database


def page_requests(fake: FakeTvmaze) -> list[int]:
    return [int(request.rsplit("page=", 1)[1]) for request in fake.requests if request.startswith("/shows?")]


async def seeded(path: Path) -> None:
    async with open_database(path) as db:
        await seed_if_empty(db)


async def tvmaze_ids(path: Path) -> set[int]:
    async with open_database(path) as db:
        return {int(row[0]) for row in await db.fetchall("SELECT tvmaze_id FROM shows WHERE tvmaze_id IS NOT NULL")}


async def stored_position(path: Path) -> dict[str, Any]:
    async with open_database(path) as db:
        value = await db.get_state(INDEX_STATE_KEY)
    assert value is not None
    return dict(json.loads(value))


async def test_the_whole_index_is_read_page_by_page_until_the_404(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    shows = tvmaze.serve_recorded_index(pages=3)
    db_path = tmp_path / "t.db"
    await seeded(db_path)
    landed: list[list[int]] = []

    async def on_page(show_ids: list[int]) -> None:
        landed.append(show_ids)

    run = await tvmaze_index(tvmaze.base_url, db_path, on_page=on_page)

    assert page_requests(tvmaze) == [0, 1, 2, 3]  # page 3 is past the end: 404
    assert await tvmaze_ids(db_path) == {show["id"] for show in shows}
    assert run.summary.total == 245 and run.summary.skipped == []
    assert run.pages == 3 and run.position == IndexPosition(page=2, complete=True, shows=245)
    assert await stored_position(db_path) == {"page": 2, "complete": True, "shows": 245}
    # Each page's shows were handed on as that page landed (the bot's title index learns them then).
    assert [len(batch) for batch in landed] == [82, 82, 81]
    async with open_database(db_path) as db:
        last = await db.fetchone("SELECT id, title, poster_url FROM shows WHERE tvmaze_id = 499")
    assert last is not None and last["id"] in landed[2]
    assert (last["title"], last["poster_url"]) == (
        "Married... with Children",
        "https://tvmazecdn.com/uploads/images/original_untouched/4/10311.jpg",
    )

    # Once complete, a run re-reads only the last page (where TVmaze adds new shows) and stops at the 404 again.
    tvmaze.requests.clear()
    again = await tvmaze_index(tvmaze.base_url, db_path)
    assert page_requests(tvmaze) == [2, 3]
    assert (again.summary.added, again.summary.updated, again.summary.unchanged) == (0, 0, 81)
    assert again.position.complete and again.position.page == 2


async def test_429_is_waited_out_and_5xx_retried(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    shows = tvmaze.serve_recorded_index(pages=2)
    tvmaze.index_failures[1] = [429, 503]
    db_path = tmp_path / "t.db"
    await seeded(db_path)
    sleep = RecordingSleep()
    async with TvmazeClient(tvmaze.base_url, sleep=sleep, backoff_seconds=0.5) as client:
        run = await tvmaze_index(tvmaze.base_url, db_path, client=client)
    assert sleep.delays == [3.0, 1.0]  # Retry-After, then exponential backoff (0.5 * 2) after the 503
    assert page_requests(tvmaze) == [0, 1, 1, 1, 2]
    assert run.position.complete and await tvmaze_ids(db_path) == {show["id"] for show in shows}


async def test_an_interrupted_bootstrap_resumes_from_the_page_it_reached(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    shows = tvmaze.serve_recorded_index(pages=4)
    tvmaze.index_failures[2] = [500] * 5  # TVmaze down for every attempt at page 2
    db_path = tmp_path / "t.db"
    await seeded(db_path)
    async with TvmazeClient(tvmaze.base_url, sleep=RecordingSleep()) as client:
        with pytest.raises(SourceError, match="the next run continues from page 2"):
            await tvmaze_index(tvmaze.base_url, db_path, client=client)
    first_two_pages = {show["id"] for show in tvmaze.index_pages[0] + tvmaze.index_pages[1]}
    assert await tvmaze_ids(db_path) == first_two_pages
    assert await stored_position(db_path) == {"page": 2, "complete": False, "shows": len(first_two_pages)}

    tvmaze.requests.clear()
    run = await tvmaze_index(tvmaze.base_url, db_path)
    assert page_requests(tvmaze) == [2, 3, 4]  # not from page 0 again
    # Every show of pages 2-3 is new to the catalog, or (a few) merged into the curated show of the same title.
    assert run.first_page == 2 and run.summary.added + run.summary.updated == 245 - len(first_two_pages)
    assert await tvmaze_ids(db_path) == {show["id"] for show in shows}
    assert await stored_position(db_path) == {"page": 3, "complete": True, "shows": 245}


async def test_a_malformed_entry_is_named_and_the_rest_of_its_page_kept(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    shows = tvmaze.serve_recorded_index(pages=1)
    tvmaze.index_pages[0] = [*shows[:10], {"id": "not a number", "name": ""}, *shows[10:20]]
    db_path = tmp_path / "t.db"
    await seeded(db_path)
    run = await tvmaze_index(tvmaze.base_url, db_path)
    assert run.summary.skipped == [
        "TVmaze show index page 0, entry 11 (id 'not a number'): TVmaze show: malformed response (no id or name)"
    ]
    assert await tvmaze_ids(db_path) == {show["id"] for show in shows[:20]}


async def test_two_tvmaze_shows_sharing_an_imdb_id_stay_two_shows(tmp_path: Path) -> None:
    """At full size TVmaze's index has shows that share an imdb id (a duplicate entry, a remake given the original's
    id). A TVmaze record is the show with its own TVmaze id: the other one is not merged into it, and the imdb id
    stays with the show that had it first."""
    first, second = (dict(show) for show in recorded(SHOWS_INDEX)[:2])
    assert first["externals"]["imdb"] and first["id"] != second["id"] and first["name"] != second["name"]
    second["externals"] = {**second["externals"], "imdb": first["externals"]["imdb"]}
    db_path = tmp_path / "t.db"
    async with open_database(db_path):
        pass
    conn = connect_sync(db_path)
    try:
        assert import_records(conn, [show_to_record(first)]).added == 1
        assert import_records(conn, [show_to_record(second)]).added == 1
        # Read again (the hourly updates, the index's last page): each updates its own show, nothing is added.
        again = import_records(conn, [show_to_record(second), show_to_record(first)])
        assert again.added == 0 and again.updated == 0 and again.unchanged == 2
        rows = conn.execute("SELECT title, tvmaze_id, imdb_id FROM shows ORDER BY tvmaze_id").fetchall()
        # A record without a TVmaze id that names the imdb id is the show that holds it.
        curated = ShowRecord(title=first["name"], ids={"imdb": first["externals"]["imdb"]})
        assert (
            find_show(conn, curated)
            == conn.execute("SELECT id FROM shows WHERE tvmaze_id = ?", (first["id"],)).fetchone()[0]
        )
    finally:
        conn.close()
    assert [tuple(row) for row in rows] == [
        (first["name"], first["id"], first["externals"]["imdb"]),
        (second["name"], second["id"], None),
    ]
