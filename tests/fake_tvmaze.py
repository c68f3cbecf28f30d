"""A local stand-in for the TVmaze API: recorded responses from ../shared/data/tvmaze and synthetic fixtures
(tests/fixtures, fictional shows) for routes with no recording. Shared by the source tests and the e2e tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from shared_data import SHARED_DATA, Recordings, require_shared

RECORDED = SHARED_DATA / "tvmaze"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The recordings the fake serves (a test requesting one loads it first, e.g. `tvmaze.recordings.use(JESSICA_JONES)`).
JESSICA_JONES = "singlesearch_jessica_jones_embed_seasons.json"  # GET /singlesearch/shows?q=jessica jones
HOUSE = "singlesearch_house_md_embed_seasons.json"  # GET /singlesearch/shows?q=house
THE_FLASH = "show_13_embed_seasons.json"  # GET /shows/13
SHOWS_INDEX = "shows_index_page1_2016.json"  # GET /shows?page=1: 245 shows, ids 250-499


def recorded(name: str) -> Any:
    return json.loads(require_shared(RECORDED / name).read_text(encoding="utf-8"))


def synthetic(name: str, day: str = "") -> Any:
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert document["_synthetic"] is True
    return json.loads(json.dumps(document["body"]).replace('"DATE"', json.dumps(day)))


class FakeTvmaze:
    """Routes of the TVmaze API, each answering from a recording or a synthetic fixture; records every request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.failures: dict[str, list[int]] = {}  # q -> statuses to answer first (429, 500)
        self.recordings = Recordings(RECORDED)
        self.index_pages: list[list[Any]] = []  # GET /shows?page=N answers index_pages[N]; past the end, 404
        self.index_failures: dict[int, list[int]] = {}  # page -> statuses to answer first (429, 500)
        app = web.Application()
        app.router.add_get("/shows", self.index)
        app.router.add_get("/singlesearch/shows", self.singlesearch)
        app.router.add_get("/shows/{id}", self.show)
        app.router.add_get("/schedule/web", self.schedule_web)
        app.router.add_get("/schedule", self.schedule)
        app.router.add_get("/updates/shows", self.updates)
        self.server = TestServer(app)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def not_found(self) -> web.Response:
        return web.json_response(synthetic("tvmaze_error_404.json"), status=404)

    def serve_recorded_index(self, pages: int) -> list[Any]:
        """Serve the recorded index page's shows (in id order) as the whole index, split into `pages` pages; the
        recorded shows."""
        self.recordings.use(SHOWS_INDEX)
        shows: list[Any] = self.recordings.loaded[SHOWS_INDEX]
        size = -(-len(shows) // pages)
        self.index_pages = [shows[start : start + size] for start in range(0, len(shows), size)]
        return shows

    async def index(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        page = int(request.query["page"])
        pending = self.index_failures.get(page)
        if pending:
            status = pending.pop(0)
            return web.Response(status=status, text="slow down", headers={"Retry-After": "3"} if status == 429 else {})
        if page >= len(self.index_pages):
            return self.not_found()
        return web.json_response(self.index_pages[page])

    async def singlesearch(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        query = request.query.get("q", "")
        pending = self.failures.get(query)
        if pending:
            status = pending.pop(0)
            return web.Response(status=status, text="slow down", headers={"Retry-After": "3"} if status == 429 else {})
        if query == "broken":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        if query == "jessica jones":
            return self.recordings.response(JESSICA_JONES)
        if query == "house":
            return self.recordings.response(HOUSE)
        if query == "quiet lighthouse":
            return web.json_response(synthetic("tvmaze_show_990001_embed_cast_crew.json"))
        return self.not_found()

    async def show(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        if request.match_info["id"] == "13":
            return self.recordings.response(THE_FLASH)
        if request.match_info["id"] == "990001":
            return web.json_response(synthetic("tvmaze_show_990001_embed_cast_crew.json"))
        return self.not_found()

    async def schedule_web(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        return web.json_response(synthetic("tvmaze_schedule_web.json", request.query["date"]))

    async def schedule(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        country = request.query["country"]
        if country not in ("US", "GB"):
            return web.json_response([])  # a country with nothing scheduled
        return web.json_response(synthetic(f"tvmaze_schedule_{country.lower()}.json", request.query["date"]))

    async def updates(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        assert request.query["since"] == "day"
        return web.json_response(synthetic("tvmaze_updates_shows_day.json"))
