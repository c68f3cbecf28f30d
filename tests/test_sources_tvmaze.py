"""The TVmaze client against a local aiohttp server replaying recorded responses (../shared/data/tvmaze) and
synthetic fixtures (tests/fixtures, fictional shows) for routes with no recording."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiolimiter import AsyncLimiter
from fake_tvmaze import HOUSE, JESSICA_JONES, THE_FLASH, FakeTvmaze, recorded, synthetic

from bot.catalog import lookup_and_add
from bot.catalog.export import show_json
from bot.catalog.files import seed_if_empty
from bot.catalog.importer import import_records
from bot.catalog.records import ShowRecord
from bot.catalog.sources.base import SourceError
from bot.catalog.sources.http import ApiError, JsonApi, use_shared_limiter
from bot.catalog.sources.sync import tvmaze_schedule, tvmaze_show, tvmaze_updates
from bot.catalog.sources.tvmaze import CALLS_PER_WINDOW, WINDOW_SECONDS, TvmazeClient, show_to_record, strip_html
from bot.catalog.sources.tvmaze_index import tvmaze_index
from bot.common.config import Settings
from bot.storage import connect_sync, open_database


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# --------------------------------------------------------------------------------------------------------------------
# Mapping


def test_recorded_show_maps_to_a_record() -> None:
    record = show_to_record(recorded(JESSICA_JONES))
    assert record.title == "Marvel's Jessica Jones"
    assert (record.premiered, record.status, record.network, record.country) == (
        "2015-11-20",
        "running",
        "Netflix",
        "US",
    )
    assert record.ids == {"tvmaze": 1370, "imdb": "tt2357547"}
    assert record.genres == ["Action", "Crime", "Science Fiction"]
    assert record.poster_url == "https://static.tvmaze.com/uploads/images/original_untouched/31/77884.jpg"
    assert record.synopsis is not None and record.synopsis.startswith("Haunted by a traumatic past")
    assert "<" not in record.synopsis and record.synopsis_source == "TVmaze"
    assert record.source == "tvmaze" and record.kind == "scripted" and record.runtime == 60
    assert record.source_popularity == 2 and record.popularity is None  # TVmaze's "weight" in the 2017 recording

    house = show_to_record(recorded(HOUSE))
    assert (house.network, house.country, house.ids["tvmaze"]) == ("FOX", "US", 118)
    assert house.official_site is None  # the 2017 recording has no officialSite


def test_synthetic_cast_and_crew_map_to_characters_and_creators() -> None:
    record = show_to_record(synthetic("tvmaze_show_990001_embed_cast_crew.json"))
    assert [(c.name, c.character) for c in record.cast] == [
        ("Alex Example", "Keeper Nora"),
        ("Sam Placeholder", "The Visitor"),
    ]
    assert record.creators == ["Jordan Sample"]
    assert (record.runtime, record.network, record.country, record.ended) == (45, "Example Stream", None, "2032-06-30")
    assert record.synopsis == "A keeper of a fictional lighthouse & her test data.\n\nSecond paragraph."


@pytest.mark.parametrize("body", [[], {"name": "No id"}, {"id": "7", "name": "Text id"}, {"id": 7, "name": " "}, None])
def test_malformed_show_objects_raise_source_error(body: Any) -> None:
    with pytest.raises(SourceError, match="malformed"):
        show_to_record(body)


def test_strip_html_keeps_text_only() -> None:
    assert strip_html("<p>A &amp; B<br/>C</p>") == "A & B\n\nC"
    assert strip_html("") is None and strip_html(None) is None


# --------------------------------------------------------------------------------------------------------------------
# The client over HTTP


async def test_show_by_name_and_id(tvmaze: FakeTvmaze) -> None:
    tvmaze.recordings.use(JESSICA_JONES, THE_FLASH)
    async with TvmazeClient(tvmaze.base_url) as client:
        jones = await client.show_by_name("jessica jones")
        flash = await client.show_by_id(13)
        missing = await client.show_by_name("no such show")
        missing_id = await client.show_by_id(424242)
    assert jones is not None and jones.ids["tvmaze"] == 1370
    assert flash is not None and flash.title == "The Flash" and flash.ids["tvmaze"] == 13
    assert missing is None and missing_id is None
    assert "embed%5B%5D=cast" in tvmaze.requests[0] or "embed[]=cast" in tvmaze.requests[0]
    assert "embed" in tvmaze.requests[1] and "crew" in tvmaze.requests[1]


async def test_429_waits_retry_after_then_succeeds(tvmaze: FakeTvmaze) -> None:
    tvmaze.recordings.use(JESSICA_JONES)
    tvmaze.failures["jessica jones"] = [429, 500]
    sleep = RecordingSleep()
    async with TvmazeClient(tvmaze.base_url, sleep=sleep, backoff_seconds=0.5) as client:
        record = await client.show_by_name("jessica jones")
    assert record is not None and record.ids["tvmaze"] == 1370
    assert sleep.delays == [3.0, 1.0]  # Retry-After, then exponential backoff (0.5 * 2) after the 500
    assert len(tvmaze.requests) == 3


async def test_persistent_errors_and_malformed_bodies_raise(tvmaze: FakeTvmaze) -> None:
    tvmaze.failures["house"] = [503] * 10
    async with TvmazeClient(tvmaze.base_url, sleep=RecordingSleep()) as client:
        with pytest.raises(ApiError, match=r"server error \(503\), gave up after 5 attempts"):
            await client.show_by_name("house")
        with pytest.raises(ApiError, match="malformed response"):
            await client.show_by_name("broken")


class GrantLog(AsyncLimiter):
    """An aiolimiter limiter noting the loop time of each grant. Nothing awaits between the grant (the bucket's level
    rising) and the note, so the notes obey the leaky bucket's bound exactly, however busy the machine."""

    def __init__(self, max_rate: float, time_period: float) -> None:
        super().__init__(max_rate, time_period)
        self.granted: list[float] = []

    async def acquire(self, amount: float = 1) -> None:
        await super().acquire(amount)
        self.granted.append(asyncio.get_running_loop().time())


async def test_every_tvmaze_job_of_the_process_waits_on_one_limiter(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    """The index bootstrap, the schedules, the updates and a lookup running at once make every call through the one
    limiter, so together they stay within TVmaze's rate (separately limited, they could each use all of it)."""
    production = TvmazeClient("https://api.tvmaze.com").api.limiter
    assert production is TvmazeClient("https://api.tvmaze.com/").api.limiter
    assert (production.max_rate, production.time_period) == (CALLS_PER_WINDOW, WINDOW_SECONDS)

    # TVmaze's limit with time scaled down tenfold (20 calls per second), so the test takes about a second.
    window = WINDOW_SECONDS / 10
    limiter = GrantLog(CALLS_PER_WINDOW, window)
    use_shared_limiter(tvmaze.base_url, limiter)
    tvmaze.serve_recorded_index(pages=20)  # 19 pages of 13 shows (the last 11) and the 404: 20 calls
    tvmaze.recordings.use(JESSICA_JONES)
    db_path = tmp_path / "t.db"
    async with open_database(db_path) as db:
        conn = connect_sync(db_path)
        try:  # a show the updates job re-reads
            import_records(conn, [ShowRecord(title="The Quiet Lighthouse Test Show", ids={"tvmaze": 990001})])
        finally:
            conn.close()
        settings = Settings(database_path=db_path, tvmaze_base_url=tvmaze.base_url, catalog_sync="tvmaze")
        index, schedule, updates, looked_up = await asyncio.gather(
            tvmaze_index(tvmaze.base_url, db_path),
            tvmaze_schedule(tvmaze.base_url, db_path, date(2031, 5, 1), 7),  # 14 calls
            tvmaze_updates(tvmaze.base_url, db_path),  # 2 calls
            lookup_and_add(settings, db, "jessica jones"),  # 1 call
        )
    assert index.pages == len(tvmaze.index_pages) == 19 and schedule.total > 0
    assert updates.updated == 1 and looked_up is not None

    calls = len(tvmaze.requests)
    assert calls == 37 and len(limiter.granted) == calls  # every call waited on the shared limiter
    rate = CALLS_PER_WINDOW / window
    granted = sorted(limiter.granted)
    # A leaky bucket of 20 draining at 20 a second: over any span of T seconds, at most 20 + 20 T calls (so at most
    # 40 in any one second, and 20 a second sustained) ...
    for first in range(calls):
        for last in range(first, calls):
            assert last - first + 1 <= CALLS_PER_WINDOW + rate * (granted[last] - granted[first]) + 1e-6
    # ... and so the 37 calls took at least the time the 17 beyond the burst of 20 needed.
    assert granted[-1] - granted[0] >= (calls - CALLS_PER_WINDOW) / rate - 1e-6


async def test_network_errors_are_retried_then_reported() -> None:
    sleep = RecordingSleep()
    api = JsonApi("http://127.0.0.1:9", name="Nowhere", limiter=AsyncLimiter(5, 1.0), sleep=sleep, max_attempts=2)
    async with api:
        with pytest.raises(ApiError, match="network error"):
            await api.get("/x")
    assert len(sleep.delays) == 1


# --------------------------------------------------------------------------------------------------------------------
# Sync into the catalog


async def test_show_sync_merges_with_the_curated_show(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    tvmaze.recordings.use(JESSICA_JONES)
    db_path = tmp_path / "t.db"
    async with open_database(db_path) as db:
        await seed_if_empty(db)
        before = await db.fetchval("SELECT COUNT(*) FROM shows")
        summary, record = await tvmaze_show(tvmaze.base_url, db_path, "jessica jones")
        assert record is not None and (summary.added, summary.updated) == (0, 1)
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == before
        show_id = await db.fetchval("SELECT id FROM shows WHERE tvmaze_id = 1370")
        show = await show_json(db, int(show_id))
        assert show is not None and show["title"] == "Jessica Jones"
        assert show["synopsis_source"] == "Showbot editors"  # curated words kept
        assert show["poster_url"] == "https://static.tvmaze.com/uploads/images/original_untouched/31/77884.jpg"
        assert show["ids"]["imdb"] == "tt2357547" and "tvmaze" in show["sources"]

        again, _ = await tvmaze_show(tvmaze.base_url, db_path, "jessica jones")
        assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
        missing, none = await tvmaze_show(tvmaze.base_url, db_path, "no such show")
        assert none is None and missing.skipped == ["'no such show': TVmaze knows no such show"]


async def test_schedule_sync_records_release_events(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    async with open_database(db_path) as db:
        summary = await tvmaze_schedule(tvmaze.base_url, db_path, date(2031, 5, 1), 2)
        assert (summary.added, summary.skipped) == (3, [])
        assert len([r for r in tvmaze.requests if r.startswith("/schedule/web")]) == 2
        rows = await db.fetchall(
            """SELECT s.title, r.kind, r.date, r.season, r.service, r.region, r.source FROM releases r
               JOIN shows s ON s.id = r.show_id WHERE r.kind != 'premiere' OR r.source = 'tvmaze' AND r.date > '2031-04'
               ORDER BY s.title, r.date, r.kind"""
        )
        events = [tuple(row) for row in rows]
        assert ("Evening Test Broadcast", "episodes", "2031-05-01", 7, "Example Network", "US", "tvmaze") in events
        assert ("Paper Moon Test Series", "premiere", "2031-05-02", 1, "Example Stream", "", "tvmaze") in events
        assert ("Paper Moon Test Series", "episodes", "2031-05-01", 1, "Example Stream", "", "tvmaze") in events
        assert ("Fixture Falls", "season_premiere", "2031-05-01", 3, "Sample Plus", "GB", "tvmaze") in events

        again = await tvmaze_schedule(tvmaze.base_url, db_path, date(2031, 5, 1), 2)
        assert (again.added, again.updated) == (0, 0)


async def test_updates_refresh_only_known_shows_and_name_failures(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    async with open_database(db_path):
        pass
    conn = connect_sync(db_path)
    try:
        # Two shows the catalog knows by TVmaze id: one TVmaze changed, one it has since deleted (404).
        import_records(conn, [ShowRecord(title="The Quiet Lighthouse Test Show", ids={"tvmaze": 990001})])
        import_records(conn, [ShowRecord(title="Gone Test Show", ids={"tvmaze": 990099})])
    finally:
        conn.close()
    summary = await tvmaze_updates(tvmaze.base_url, db_path)
    assert summary.updated == 1
    assert summary.skipped == ["TVmaze show 990099: no longer on TVmaze (404)"]
    assert "/shows/990001" in " ".join(tvmaze.requests)
    async with open_database(db_path) as db:
        show = await show_json(db, 1)
    assert show is not None and show["creators"] == ["Jordan Sample"]
    assert show["cast"][0] == {"name": "Alex Example", "character": "Keeper Nora"}


# --------------------------------------------------------------------------------------------------------------------
# Lookup on a miss


async def test_lookup_and_add_only_with_a_configured_source(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    tvmaze.recordings.use(JESSICA_JONES, HOUSE)

    async with open_database(tmp_path / "t.db") as db:
        off = Settings(database_path=tmp_path / "t.db", tvmaze_base_url=tvmaze.base_url)
        assert await lookup_and_add(off, db, "jessica jones") is None
        assert tvmaze.requests == []

        on = Settings(database_path=tmp_path / "t.db", tvmaze_base_url=tvmaze.base_url, catalog_sync="tvmaze")
        show_id = await lookup_and_add(on, db, "jessica jones")
        assert show_id is not None
        assert await db.fetchval("SELECT title FROM shows WHERE id = ?", (show_id,)) == "Marvel's Jessica Jones"
        assert await lookup_and_add(on, db, "jessica jones") == show_id  # found again, not added twice
        assert await lookup_and_add(on, db, "no such show") is None
        assert await lookup_and_add(on, db, "house") is not None
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == 2


def test_a_search_guess_unlike_the_asked_title_is_refused() -> None:
    from bot.catalog.sources.lookup import resembles

    assert resembles("Breaking Bda", ShowRecord(title="Breaking Bad"))
    assert resembles("jessica jones", ShowRecord(title="Marvel's Jessica Jones"))
    assert not resembles("paper moon", ShowRecord(title="Fixture Falls"))
    assert not resembles("the", ShowRecord(title="The Wire"))


# --------------------------------------------------------------------------------------------------------------------
# Background sync


async def test_background_jobs_record_outcomes_and_contain_failures(tvmaze: FakeTvmaze, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.catalog import run_background_job
    from bot.common.config import Settings

    now = datetime(2031, 5, 1, 6, 0, tzinfo=UTC)
    async with open_database(tmp_path / "t.db") as db:
        settings = Settings(database_path=tmp_path / "t.db", tvmaze_base_url=tvmaze.base_url, catalog_sync="tvmaze")
        outcome = await run_background_job(settings, db, "schedule", now)
        assert outcome == "Imported 3 shows: 3 added, 0 updated, 0 unchanged."
        assert len([r for r in tvmaze.requests if r.startswith("/schedule/web")]) == 7
        state = json.loads(await db.fetchval("SELECT value FROM bot_state WHERE key = 'catalog_sync:schedule'"))
        assert state == {"at": "2031-05-01T06:00:00+00:00", "outcome": outcome}

        conn = connect_sync(tmp_path / "t.db")
        try:
            import_records(conn, [ShowRecord(title="The Quiet Lighthouse Test Show", ids={"tvmaze": 990001})])
        finally:
            conn.close()
        assert (await run_background_job(settings, db, "updates", now)).endswith("0 added, 1 updated, 0 unchanged.")
        # The next run only fetches shows changed since this one (the fixture's stamps are older than 2031).
        fetched = len(tvmaze.requests)
        later = datetime(2031, 5, 1, 7, 0, tzinfo=UTC)
        assert (await run_background_job(settings, db, "updates", later)).startswith("Imported 0 shows")
        assert [r for r in tvmaze.requests[fetched:] if r.startswith("/shows/")] == []

        # A source that answers 404 everywhere (a wrong base URL) fails the job without raising.
        wrong = Settings(
            database_path=tmp_path / "t.db", tvmaze_base_url=f"{tvmaze.base_url}/nowhere", catalog_sync="tvmaze"
        )
        failed = await run_background_job(wrong, db, "schedule", now)
        assert failed == "failed: TVmaze /schedule/web: not found (404)"
        state = json.loads(await db.fetchval("SELECT value FROM bot_state WHERE key = 'catalog_sync:schedule'"))
        assert state["outcome"] == failed


async def test_sync_cog_starts_its_loops_only_when_configured(tmp_path: Path) -> None:
    from bot.app.core import ShowBot
    from bot.common.config import Settings

    async with open_database(tmp_path / "t.db") as db:
        for catalog_sync, tmdb_key, running in ((None, "k", False), ("tvmaze", None, True), ("tvmaze", "k", True)):
            settings = Settings(database_path=tmp_path / "t.db", catalog_sync=catalog_sync, tmdb_api_key=tmdb_key)
            async with ShowBot(settings, db, extensions=[]) as bot:  # set up as for a login, never connected
                await bot.load_extension("cogs.catalog_sync")
                cog = bot.get_cog("CatalogSync")
                assert cog is not None
                assert cog.schedule_daily.is_running() is running  # type: ignore[attr-defined]
                assert cog.updates_hourly.is_running() is running  # type: ignore[attr-defined]
                # TMDB joins when its key is set, and only with sync on.
                assert cog.tmdb_daily.is_running() is (running and tmdb_key is not None)  # type: ignore[attr-defined]
                await bot.unload_extension("cogs.catalog_sync")
