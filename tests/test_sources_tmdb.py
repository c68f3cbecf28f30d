"""The TMDB client against a local aiohttp server replaying the recorded responses in ../shared/data/tmdb."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from shared_data import SHARED_DATA, Recordings, require_shared, serving

from bot.app.cli import main
from bot.catalog.export import show_json
from bot.catalog.importer import import_records
from bot.catalog.records import Release, ShowRecord
from bot.catalog.sources.base import SourceError
from bot.catalog.sources.http import ApiError
from bot.catalog.sources.sync import tmdb_enrich, tmdb_on_the_air
from bot.catalog.sources.tmdb import TmdbClient, providers_from, trailers_from
from bot.storage import connect_sync, open_database
from bot.weekly.content import returns_from_break, weekly_content
from bot.weekly.layout import release_label, render_weekly

RECORDED = SHARED_DATA / "tmdb"
API_KEY = "0123456789abcdef0123456789abcdef"  # not a real key: the local server checks it is sent
# The recordings FakeTmdb serves (a test requesting one loads it first: `tmdb.recordings.use(VIDEOS_1396)`).
VIDEOS_1396 = "tv_1396_videos.json"  # GET /3/tv/1396/videos
DETAILS_1396 = "tv_1396_details.json"  # GET /3/tv/1396
PROVIDERS_1399 = "tv_watch_providers.json"  # GET /3/tv/1399/watch/providers
SEARCH_GAME_OF_THRONES = "search_tv_q_game_of_thrones.json"  # GET /3/search/tv?query=Game of Thrones
ON_THE_AIR = "tv_on_the_air.json"  # GET /3/tv/on_the_air?page=1 (20 shows; later pages answer an empty list)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def recorded(name: str) -> Any:
    return json.loads(require_shared(RECORDED / name).read_text(encoding="utf-8"))


class FakeTmdb:
    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.broken: set[str] = set()
        self.recordings = Recordings(RECORDED)
        self.today = date(2026, 12, 3)  # what the synthetic next and last episodes are dated from
        app = web.Application()
        app.router.add_get("/3/tv/on_the_air", self.on_the_air)
        app.router.add_get("/3/tv/{id}/videos", self.videos)
        app.router.add_get("/3/tv/{id}/watch/providers", self.providers)
        app.router.add_get("/3/tv/{id}", self.details)
        app.router.add_get("/3/search/tv", self.search)
        self.server = TestServer(app)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/3"))

    def check(self, request: web.Request) -> web.Response | None:
        self.requests.append(request)
        if request.query.get("api_key") != API_KEY and request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"status_code": 7, "status_message": "Invalid API key"}, status=401)
        if request.path in self.broken:
            return web.Response(text="{not json", content_type="application/json")
        return None

    @staticmethod
    def not_found() -> web.Response:
        return web.json_response({"status_code": 34, "status_message": "not found"}, status=404)

    async def videos(self, request: web.Request) -> web.Response:
        if (refused := self.check(request)) is not None:
            return refused
        if request.match_info["id"] == "1396":
            return self.recordings.response(VIDEOS_1396)
        return self.not_found()

    async def details(self, request: web.Request) -> web.Response:
        if (refused := self.check(request)) is not None:
            return refused
        if request.match_info["id"] == "1396":
            return self.recordings.response(DETAILS_1396)
        episodes = json.loads((FIXTURES / "tmdb_on_the_air_episodes.json").read_text(encoding="utf-8"))["body"]
        if request.match_info["id"] in episodes and ON_THE_AIR in self.recordings.loaded:
            listed = {str(entry["id"]): entry for entry in self.recordings.loaded[ON_THE_AIR]["results"]}
            made_up = episodes[request.match_info["id"]]
            body = dict(listed[request.match_info["id"]])
            body["networks"] = [{"id": 1, "name": name} for name in made_up["networks"]]
            for key, field in (("next", "next_episode_to_air"), ("last", "last_episode_to_air")):
                episode = made_up[key]
                body[field] = episode and {
                    "air_date": (self.today + timedelta(days=episode["days"])).isoformat(),
                    "season_number": episode["season"],
                    "episode_number": episode["episode"],
                }
            return web.json_response(body)
        return self.not_found()

    async def on_the_air(self, request: web.Request) -> web.Response:
        if (refused := self.check(request)) is not None:
            return refused
        if request.query.get("page", "1") != "1":
            return web.json_response({"page": int(request.query["page"]), "results": [], "total_pages": 1})
        return self.recordings.response(ON_THE_AIR)

    async def providers(self, request: web.Request) -> web.Response:
        if (refused := self.check(request)) is not None:
            return refused
        if request.match_info["id"] == "1399":
            return self.recordings.response(PROVIDERS_1399)
        return self.not_found()

    async def search(self, request: web.Request) -> web.Response:
        if (refused := self.check(request)) is not None:
            return refused
        if request.query["query"] == "Game of Thrones":
            return self.recordings.response(SEARCH_GAME_OF_THRONES)
        # Synthetic: an empty result page, for titles with no recorded search.
        return web.json_response({"page": 1, "results": [], "total_pages": 0, "total_results": 0})


@pytest.fixture
async def tmdb() -> AsyncIterator[FakeTmdb]:
    async with serving(FakeTmdb()) as fake:
        yield fake


async def no_sleep(seconds: float) -> None:
    return None


def test_trailers_keep_youtube_trailers_official_first() -> None:
    (video,) = trailers_from(recorded(VIDEOS_1396))
    assert (video.url, video.site, video.kind, video.official) == (
        "https://www.youtube.com/watch?v=XZ8daibM3AE",
        "YouTube",
        "trailer",
        True,
    )
    season = recorded("tv_1399_season_1_videos.json")
    videos = trailers_from(season)
    expected = [v for v in season["results"] if v["site"] == "YouTube" and v["type"] == "Trailer"]
    assert len(videos) == len(expected) > 0
    assert all(v.url.startswith("https://www.youtube.com/watch?v=") and v.kind == "trailer" for v in videos)
    assert [v.official for v in videos] == sorted((v.official for v in videos), reverse=True)


def test_watch_providers_by_region() -> None:
    data = recorded(PROVIDERS_1399)
    us = providers_from(data, "us")
    assert ("Max", "US", "stream") in [(a.service, a.region, a.kind) for a in us]
    assert {a.kind for a in us} >= {"stream", "buy"}
    assert all(a.link == data["results"]["US"]["link"] for a in us)
    assert providers_from(data, "ZZ") == []
    with pytest.raises(SourceError, match="malformed"):
        providers_from({"id": 1}, "US")


async def test_client_sends_the_key_and_maps_responses(tmdb: FakeTmdb) -> None:
    tmdb.recordings.use(VIDEOS_1396, DETAILS_1396, SEARCH_GAME_OF_THRONES)
    async with TmdbClient(tmdb.base_url, API_KEY, sleep=no_sleep) as client:
        trailers = await client.trailers(1396)
        poster, popularity = await client.poster_and_popularity(1396)
        found = await client.find_show("Game of Thrones", 2011)
        wrong_year = await client.find_show("Game of Thrones", 2015)
        missing = await client.trailers(5)
        providers, known = await client.watch_providers(5, "US")
    assert trailers[0].url == "https://www.youtube.com/watch?v=XZ8daibM3AE"
    assert poster == "https://image.tmdb.org/t/p/w500/ggFHVNu6YYI5L9pCfOacjizRGt.jpg"
    assert popularity == recorded(DETAILS_1396)["popularity"]
    assert (found, wrong_year) == (1399, None)
    assert (missing, providers, known) == ([], [], False)
    assert tmdb.requests[0].query["api_key"] == API_KEY


async def test_bearer_token_refusal_and_malformed_body(tmdb: FakeTmdb) -> None:
    async with TmdbClient(tmdb.base_url, "eyJ" + "x" * 40, sleep=no_sleep) as client:
        with pytest.raises(ApiError, match=r"refused \(401\)") as refused:
            await client.trailers(1396)
    assert "eyJ" not in str(refused.value) and tmdb.requests[-1].headers["Authorization"].startswith("Bearer eyJ")
    tmdb.broken.add("/3/tv/1396/videos")
    async with TmdbClient(tmdb.base_url, API_KEY, sleep=no_sleep) as client:
        with pytest.raises(ApiError, match="malformed") as malformed:
            await client.trailers(1396)
    assert API_KEY not in str(malformed.value)


async def test_trailer_and_provider_sync_enrich_the_catalog(tmdb: FakeTmdb, tmp_path: Path) -> None:
    tmdb.recordings.use(VIDEOS_1396, DETAILS_1396, SEARCH_GAME_OF_THRONES, PROVIDERS_1399)
    db_path = tmp_path / "t.db"
    async with open_database(db_path) as db:
        conn = connect_sync(db_path)
        try:
            import_records(
                conn,
                [
                    ShowRecord(title="Breaking Bad", premiered="2008-01-20", ids={"tmdb": 1396}),
                    ShowRecord(title="Game of Thrones", premiered="2011-04-17", network="HBO"),
                    ShowRecord(title="Nowhere On Tmdb Test Show", premiered="2030-01-01"),
                ],
            )
        finally:
            conn.close()

        summary = await tmdb_enrich(tmdb.base_url, API_KEY, db_path, limit=10)
        assert summary.added == 0 and summary.updated == 2
        assert summary.skipped == ["Nowhere On Tmdb Test Show: no single match on TMDB"]
        breaking_bad = await show_json(db, 1)
        thrones = await show_json(db, 2)
        assert breaking_bad is not None and thrones is not None
        assert breaking_bad["trailer_url"] == "https://www.youtube.com/watch?v=XZ8daibM3AE"
        assert breaking_bad["poster_url"] == "https://image.tmdb.org/t/p/w500/ggFHVNu6YYI5L9pCfOacjizRGt.jpg"
        assert "tmdb" in breaking_bad["sources"]
        assert thrones["ids"]["tmdb"] == 1399 and thrones["trailer_url"] is None

        providers = await tmdb_enrich(tmdb.base_url, API_KEY, db_path, region="US", limit=10)
        assert providers.added == 0
        thrones = await show_json(db, 2)
        assert thrones is not None
        assert {"service": "Max", "region": "US", "kind": "stream"} in [
            {k: a[k] for k in ("service", "region", "kind")} for a in thrones["availability"]
        ]
        assert "Breaking Bad: TMDB has no show 1396 (404)" in providers.skipped
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == 3

        again = await tmdb_enrich(tmdb.base_url, API_KEY, db_path, region="US", limit=10)
        assert (again.added, again.updated) == (0, 0)


def test_cli_without_a_key_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.db"))
    monkeypatch.delenv("TMDB_API_KEY", raising=False)
    monkeypatch.setattr("bot.common.config.load_dotenv", lambda *_, **__: False)
    assert main(["catalog", "sync", "tmdb", "--trailers"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "TMDB_API_KEY" in err


async def test_on_the_air_feeds_the_weekly_post_with_what_is_new(tmdb: FakeTmdb, tmp_path: Path) -> None:
    """TMDB's "on the air" (the recording) gives the week's next episode of each show the catalog has: a new series,
    a season premiere, a return from a break of over a year, plain episodes; a show the catalog lacks is not read
    further nor added."""
    tmdb.recordings.use(ON_THE_AIR)
    listed = {entry["name"]: entry for entry in recorded(ON_THE_AIR)["results"]}
    in_catalog = ["Chainsaw Man", "Yellowstone", "Rick and Morty", "Strictly Come Dancing: It Takes Two"]
    db_path = tmp_path / "t.db"
    async with open_database(db_path) as db:
        conn = connect_sync(db_path)
        try:
            # The catalog knows these four by title and first-air date (from the recording), not by TMDB id; Rick and
            # Morty's season premiere is on TVmaze's schedule as well, without the previous episode's date.
            import_records(
                conn, [ShowRecord(title=name, premiered=listed[name]["first_air_date"]) for name in in_catalog]
            )
            rick_and_morty_premiere = (tmdb.today + timedelta(days=1)).isoformat()
            import_records(
                conn,
                [
                    ShowRecord(
                        title="Rick and Morty",
                        premiered=listed["Rick and Morty"]["first_air_date"],
                        source="tvmaze",
                        releases=[Release("season_premiere", rick_and_morty_premiere, "Example Schedule", 7, "")],
                    )
                ],
            )
        finally:
            conn.close()
        shows_before = await db.fetchval("SELECT COUNT(*) FROM shows")

        summary = await tmdb_on_the_air(tmdb.base_url, API_KEY, db_path, pages=2)

        assert summary.skipped == [] and summary.updated == 4 and summary.added == 0
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == shows_before
        asked = sorted(request.path for request in tmdb.requests if request.path != "/3/tv/on_the_air")
        assert asked == sorted(f"/3/tv/{listed[name]['id']}" for name in in_catalog)
        rick = await db.fetchval("SELECT id FROM shows WHERE title = 'Rick and Morty'")
        assert await db.fetchval("SELECT tmdb_id FROM shows WHERE id = ?", (rick,)) == listed["Rick and Morty"]["id"]

        post = datetime.combine(tmdb.today + timedelta(days=7), datetime.min.time(), UTC).replace(hour=18)
        content = await weekly_content(db, 1, post, "UTC")
        labels = {item.title: release_label(item) for item in content.items}
        assert labels == {
            "Chainsaw Man": "new series",
            "Yellowstone": "season 5 premiere",
            "Rick and Morty": "returns with season 7",
            "Strictly Come Dancing: It Takes Two": "new episodes",
        }
        assert [item.title for item in content.out_this_week][:3] == ["Chainsaw Man", "Rick and Morty", "Yellowstone"]
        _, embed = render_weekly(content)
        assert "returns with season 7 <t:" in (embed.description or "")
        # TMDB's releases are dated in the show's country of origin: a GB server's post lists the GB show, and Rick
        # and Morty only from the schedule row for every country (which does not say when the last episode was).
        in_gb = await weekly_content(db, 1, post, "UTC", region="GB")
        assert {item.title: release_label(item) for item in in_gb.items} == {
            "Rick and Morty": "season 7 premiere",
            "Strictly Come Dancing: It Takes Two": "new episodes",
        }


def test_a_season_premiere_returns_after_a_year_or_more() -> None:
    premiere = date(2026, 12, 10)
    assert returns_from_break("season_premiere", premiere, (premiere - timedelta(days=365)).isoformat())
    assert not returns_from_break("season_premiere", premiere, (premiere - timedelta(days=364)).isoformat())
    assert not returns_from_break("season_premiere", premiere, None)
    assert not returns_from_break("episodes", premiere, "2020-01-01")
    assert not returns_from_break("premiere", premiere, "2020-01-01")
