"""The one popularity the bot reads (shows.popularity), derived from TVmaze's weight and TMDB's popularity, each kept
as its source gave it: through the TVmaze index bootstrap against the fake TVmaze (the recorded index page) and TMDB's
"on the air" sync against the fake TMDB (the recording), then autocomplete, the recommender's cold start and the
weekly post's fallback picks, which all order by it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial

import pytest
from fake_tvmaze import JESSICA_JONES, FakeTvmaze
from fake_tvmaze import recorded as recorded_tvmaze
from shared_data import serving
from test_sources_tmdb import API_KEY, ON_THE_AIR, FakeTmdb, recorded

from bot.catalog.export import show_json
from bot.catalog.importer import import_records
from bot.catalog.popularity import recompute_popularity
from bot.catalog.records import ShowRecord
from bot.catalog.sources.base import import_each
from bot.catalog.sources.sync import tmdb_on_the_air
from bot.catalog.sources.tvmaze import show_to_record
from bot.catalog.sources.tvmaze_index import tvmaze_index
from bot.catalog.titles import TitleResolver
from bot.recommend import Recommender
from bot.storage import Database, Location, connect_sync, open_database
from bot.weekly.content import weekly_content

# Two shows TVmaze weighs the same and TMDB does not: Strictly Come Dancing: It Takes Two is the more popular on TMDB
# (1156.533 in the recording, against 984.267), and comes second in the catalog (a higher id, a later title), so
# that every tie-break but popularity would put Rick and Morty first.
EQUAL_WEIGHT = 50.0
LESS_ON_TMDB, MORE_ON_TMDB = "Rick and Morty", "Strictly Come Dancing: It Takes Two"


@pytest.fixture
async def tmdb() -> AsyncIterator[FakeTmdb]:
    async with serving(FakeTmdb()) as fake:
        yield fake


def tvmaze_shaped(name: str, first_aired: str, weight: float) -> ShowRecord:
    """A show as the TVmaze mapper gives it, without ids (the fake's recordings do not hold these shows): the weights
    are made up, the titles and first-air dates are TMDB's recorded ones."""
    return ShowRecord(title=name, premiered=first_aired, source="tvmaze", source_popularity=weight)


def in_every_list(first: str, second: str) -> dict[str, list[str]]:
    return {where: [first, second] for where in ("autocomplete", "cold_start", "weekly_picks")}


async def orders(db: Database, titles: TitleResolver, recommender: Recommender) -> dict[str, list[str]]:
    """The pair's order in autocomplete with nothing typed, the recommender's cold start and the weekly picks."""
    pair = (LESS_ON_TMDB, MORE_ON_TMDB)
    choices = [name.rsplit(" (", 1)[0] for name, _ in await titles.choices(None, "")]
    cold = await recommender.recommend_for_guild(1, limit=10)
    assert cold.cold_start
    # A post a year after the recorded week: nothing is new, so the post lists the server's picks (it has no votes).
    quiet = datetime(2027, 12, 2, 18, tzinfo=UTC)
    picks = [item.title for item in (await weekly_content(db, 1, quiet, "UTC")).picks]
    return {
        "autocomplete": [title for title in choices if title in pair],
        "cold_start": [item.title for item in cold.items if item.title in pair],
        "weekly_picks": [title for title in picks if title in pair],
    }


@pytest.mark.both_engines
async def test_tmdb_popularity_breaks_a_tvmaze_tie_everywhere_popularity_is_read(
    tmdb: FakeTmdb, empty_location: Location
) -> None:
    tmdb.recordings.use(ON_THE_AIR)
    listed = {entry["name"]: entry for entry in recorded(ON_THE_AIR)["results"]}
    db_path = empty_location
    async with open_database(db_path) as db:
        weights = {LESS_ON_TMDB: EQUAL_WEIGHT, "Yellowstone": 30.0, MORE_ON_TMDB: EQUAL_WEIGHT, "Chainsaw Man": 70.0}
        records = [tvmaze_shaped(name, listed[name]["first_air_date"], weight) for name, weight in weights.items()]
        await import_as_a_sync_does(db_path, records)
        popularity = dict(await db.fetchall("SELECT title, popularity FROM shows"))
        assert popularity[LESS_ON_TMDB] == popularity[MORE_ON_TMDB]
        titles, recommender = await TitleResolver.load(db), await Recommender.load(db)
        tie = await orders(db, titles, recommender)
        assert tie == in_every_list(LESS_ON_TMDB, MORE_ON_TMDB)  # the tie goes to the lower id / title
        before = {row["title"]: dict(row) for row in await db.fetchall("SELECT * FROM shows")}

        summary = await tmdb_on_the_air(tmdb.base_url, API_KEY, db_path, pages=1)

        assert summary.skipped == [] and summary.updated == 4 and sorted(summary.popularity_inputs) == [1, 2, 3, 4]
        after = {row["title"]: dict(row) for row in await db.fetchall("SELECT * FROM shows")}
        for name, weight in weights.items():
            assert after[name]["tmdb_popularity"] == listed[name]["popularity"]  # TMDB's own number, as it gave it
            assert after[name]["tvmaze_weight"] == weight
            assert 0 <= after[name]["popularity"] <= 100
            # The sync changed the show's TMDB id, number and popularity, and nothing else that orders shows.
            changed = {column for column in after[name] if after[name][column] != before[name][column]}
            assert changed <= {"tmdb_id", "tmdb_popularity", "popularity", "updated_at"}
        assert after[MORE_ON_TMDB]["popularity"] > after[LESS_ON_TMDB]["popularity"]
        # TMDB's numbers are ranked among themselves, whatever their scale: 1212.83 is the highest of the four.
        assert max(after, key=lambda name: after[name]["popularity"]) == "Chainsaw Man"

        # The running bot's copies follow the shows the sync wrote (as the catalog sync cog tells them), and fresh
        # ones (a restart) agree.
        changed_ids = [int(row["id"]) for row in after.values()]
        await titles.refresh(changed_ids)
        await recommender.on_catalog_change(changed_ids)
        flipped = in_every_list(MORE_ON_TMDB, LESS_ON_TMDB)
        assert await orders(db, titles, recommender) == flipped
        assert await orders(db, await TitleResolver.load(db), await Recommender.load(db)) == flipped

        card = await show_json(db, after[MORE_ON_TMDB]["id"])
        assert card is not None
        assert card["field_sources"]["popularity"] == "derived from tvmaze, tmdb"
        assert card["source_popularity"] == {"tvmaze": EQUAL_WEIGHT, "tmdb": listed[MORE_ON_TMDB]["popularity"]}
        assert card["popularity"] == after[MORE_ON_TMDB]["popularity"]


async def import_as_a_sync_does(db_path: Location, records: list[ShowRecord]) -> None:
    summary = await asyncio.to_thread(import_each, db_path, records)
    assert summary.added == len(records)


@pytest.mark.both_engines
async def test_the_bootstrap_derives_every_popularity_in_range_and_in_weight_order(
    tvmaze: FakeTvmaze, empty_location: Location
) -> None:
    """The recorded index page (245 real shows) in three pages: each show's popularity is its weight's percentile
    among the catalog's weights, in (0, 100], in the weight's order; a curated show no source weighs keeps its own."""
    shows = tvmaze.serve_recorded_index(pages=3)
    db_path = empty_location
    async with open_database(db_path) as db:
        conn = connect_sync(db_path)
        try:
            import_records(conn, [ShowRecord(title="Example Curated Show Without Sources", popularity=7.5)])
        finally:
            conn.close()
        run = await tvmaze_index(tvmaze.base_url, db_path)
        assert run.summary.added == len(shows)
        rows = await db.fetchall("SELECT tvmaze_id, tvmaze_weight, popularity FROM shows WHERE tvmaze_id IS NOT NULL")
        weight_of = {show["id"]: show["weight"] for show in shows}
        assert {int(row[0]): row[1] for row in rows} == weight_of
        weights = sorted(weight_of.values())
        for _, weight, popularity in rows:
            below, equal = sum(w < weight for w in weights), weights.count(weight)
            assert popularity == pytest.approx(100 * (below + equal / 2) / len(weights), abs=1e-4)
            assert 0 < popularity <= 100
        assert await db.fetchval("SELECT popularity FROM shows WHERE tvmaze_id IS NULL") == 7.5

        # Nothing changed since: deriving again writes no row.
        conn = connect_sync(db_path)
        try:
            assert recompute_popularity(conn) == 0
        finally:
            conn.close()

        # A member's lookup (the recorded Jessica Jones, weight 2) derives the found show's popularity at once,
        # against the whole catalog, and leaves the others' for the next sync.
        others = dict(await db.fetchall("SELECT id, popularity FROM shows"))
        jessica_jones = show_to_record(recorded_tvmaze(JESSICA_JONES))
        summary = await asyncio.to_thread(partial(import_each, derive_popularity="changed"), db_path, [jessica_jones])
        assert summary.added == 1 and summary.popularity_inputs
        weights.append(2.0)
        below, equal = sum(w < 2 for w in weights), weights.count(2)
        found = await db.fetchval("SELECT popularity FROM shows WHERE tvmaze_id = 1370")
        assert found == pytest.approx(100 * (below + equal / 2) / len(weights), abs=1e-4)
        assert (
            dict(await db.fetchall("SELECT id, popularity FROM shows WHERE tvmaze_id IS DISTINCT FROM 1370")) == others
        )
