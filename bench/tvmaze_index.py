"""The whole TVmaze index into a running bot's catalog, against a local fake TVmaze, and autocomplete afterwards.

    python bench/tvmaze_index.py --shows 90000 --json

A child process serves a fake TVmaze show index (`/shows?page=N`, 250 shows a page, 404 past the last page): N show
objects shaped like the recorded index page (../shared/data/tvmaze/shows_index_page1_2016.json, used round-robin as
templates: its genres, networks, summaries, images, statuses), each with a new id, a generated title (the titles of
bench/autocomplete.py), a premiere year and a TVmaze weight. The pages are serialised before the clock starts, and
served from another process, so neither the fake's work nor its memory is counted here.

The timed path is what the connected bot does on its first start: `bot.catalog.sources.tvmaze_index.tvmaze_index` with
the bot's `catalog_changed` as the page hook (a ShowBot with no cogs and no Discord connection, seeded with the shipped
catalog): each page fetched over local HTTP and decoded, mapped to records, imported in one transaction with the
position, then the title index, the browse facets and the recommender learn that page's shows. Left out: TVmaze's
rate limit (the limiter is unlimited here; at 20 calls per 10 s the 360 pages take 3 minutes by themselves),
network latency, Discord. While it runs, a probe task asks to wake every 5 ms and records how late it woke: the event
loop's pauses, which a command arriving then waits out (on a busy machine they include waiting for a core). Then, in
the same run: the process's RSS after it and at its peak (which includes the
title index rebuild the bot then makes: two indexes exist while it is swapped in), and autocomplete (the cog's
handler, the query mix of bench/autocomplete.py), median and p99 of wall and CPU time, on the index learned page by
page and on the rebuilt one.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from _common import emit  # noqa: E402
from aiolimiter import AsyncLimiter  # noqa: E402
from autocomplete import generated_titles, handler, percentile, query_mix  # noqa: E402

from bot.app.core import ShowBot  # noqa: E402
from bot.catalog import TitleResolver, seed_if_empty  # noqa: E402
from bot.catalog.sources.tvmaze import TvmazeClient  # noqa: E402
from bot.catalog.sources.tvmaze_index import tvmaze_index  # noqa: E402
from bot.common.config import Settings  # noqa: E402
from bot.storage import open_database  # noqa: E402

TEMPLATES = ROOT.parent / "shared" / "data" / "tvmaze" / "shows_index_page1_2016.json"
PAGE_SIZE = 250
FIRST_ID = 100_000  # above every id of the recorded page and the shipped catalog


def generated_pages(count: int, seed: int) -> list[bytes]:
    """`count` show objects in pages of 250, each a copy of a recorded show with a new id, title, year and weight."""
    templates = json.loads(TEMPLATES.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    titles = generated_titles(count, rng)
    shows = []
    for number, title in enumerate(titles):
        show = copy.deepcopy(templates[number % len(templates)])
        show["id"] = FIRST_ID + number
        show["name"] = title
        show["premiered"] = f"{rng.randint(1950, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        show["weight"] = min(100, int(rng.paretovariate(1.2) * 5))  # most shows near 0, few near 100, like TVmaze's
        show["url"] = f"https://www.tvmaze.com/shows/{show['id']}"
        show["externals"] = {"tvrage": None, "thetvdb": None, "imdb": None}  # the template's ids belong to it
        shows.append(show)
    return [json.dumps(shows[start : start + PAGE_SIZE]).encode() for start in range(0, len(shows), PAGE_SIZE)]


def serve(port: int, count: int, seed: int) -> None:
    """The child process: the fake TVmaze index on 127.0.0.1:port until killed; prints 'ready' when listening."""
    from aiohttp import web

    pages = generated_pages(count, seed)

    async def index(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        if page >= len(pages):
            return web.json_response({"name": "Not Found", "status": 404}, status=404)
        return web.Response(body=pages[page], content_type="application/json")

    app = web.Application()
    app.router.add_get("/shows", index)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def time_autocomplete(titles: TitleResolver, queries: list[str]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of the cog's autocomplete handler per query (after a warm-up), on the resolver's
    current index. CPU time leaves out what the OS gave other processes on a busy machine."""
    for query in queries[:200]:
        await handler(titles, query)
    wall, cpu = [], []
    for query in queries:
        started_ns, started_cpu_ns = time.perf_counter_ns(), time.thread_time_ns()
        await handler(titles, query)
        cpu.append((time.thread_time_ns() - started_cpu_ns) / 1e6)
        wall.append((time.perf_counter_ns() - started_ns) / 1e6)
    return wall, cpu


class LoopLagProbe:
    """How long the event loop keeps a ready task waiting: a task that asks to wake every `TICK_S` and records how
    late it woke (what a command arriving then would wait before the bot even reads it)."""

    TICK_S = 0.005

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.TICK_S)
            self.lags_ms.append(max(0.0, (time.perf_counter() - started - self.TICK_S) * 1000))

    def __enter__(self) -> LoopLagProbe:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def measure(base_url: str, directory: Path, queries: int, seed: int) -> dict[str, Any]:
    settings = Settings(database_path=directory / "bench.sqlite3", tvmaze_base_url=base_url)
    async with open_database(settings.database_path) as db:
        await seed_if_empty(db)
        bot = ShowBot(settings, db, extensions=[])
        try:
            await bot.load_extensions()  # the title index, facets and recommender, as at start-up
            shipped = len(bot.titles.index)
            hook_ms: list[float] = []

            async def timed_hook(show_ids: list[int]) -> None:
                """The bot's hook, timed: the event loop is busy with it (commands wait) while it runs."""
                started_ns = time.perf_counter_ns()
                await bot.catalog_changed(show_ids)
                hook_ms.append((time.perf_counter_ns() - started_ns) / 1e6)

            unlimited = AsyncLimiter(1_000_000, 1.0)  # TVmaze's rate limit is left out (see the docstring)
            async with TvmazeClient(base_url, limiter=unlimited) as client:
                started = time.perf_counter()
                started_cpu = time.process_time()
                with LoopLagProbe() as probe:
                    run = await tvmaze_index(base_url, settings.database_path, on_page=timed_hook, client=client)
                seconds = time.perf_counter() - started
                cpu_seconds = time.process_time() - started_cpu
            rss_after = current_rss_mb()
            catalog = int(await db.fetchval("SELECT COUNT(*) FROM shows"))
            last_title = await db.fetchval(
                "SELECT title FROM shows WHERE tvmaze_id = (SELECT MAX(tvmaze_id) FROM shows)"
            )
            last_found = bot.titles.index.resolve(str(last_title)) is not None
            index_shows = len(bot.titles.index)

            rng = random.Random(seed)
            titles = [str(row[0]) for row in await db.fetchall("SELECT title FROM shows")]
            mix = query_mix(titles, queries, rng)
            # While pages land, autocomplete serves from the index that learned them one page at a time; after the
            # bootstrap the bot rebuilds it whole in a worker thread (what a restart would load) and swaps it in.
            # (no reference to the learned index is kept here: the swap frees it, as in the bot)
            learned_timings, learned_cpu = await time_autocomplete(bot.titles, mix)
            started = time.perf_counter()
            await bot.rebuild_title_index()
            rebuild_seconds = time.perf_counter() - started
            rss_after_rebuild = current_rss_mb()
            timings, cpu_timings = await time_autocomplete(bot.titles, mix)
        finally:
            # Never logged in, so only its HTTP session is open; discord.py's sharded close() expects a login.
            await bot.http.close()
    return {
        "path": (
            "tvmaze_index() with the bot's catalog_changed hook: HTTP fetch of each page from a local fake (another "
            "process), JSON decode, mapping, import (one transaction per page with the position), title index + "
            "facets + recommender updated per page (fetch, import and hook of consecutive pages overlap). "
            "'seconds' ends when the last page is in; the title index rebuild that follows is 'rebuild_seconds'. "
            "Leaves out TVmaze's rate limit (unlimited limiter), network latency and Discord. Autocomplete is timed "
            "on the rebuilt index (autocomplete_*) and on the page-by-page one before it (learned_index_*). "
            "loop_lag_*: how late a task asking to wake every 5 ms woke during the bootstrap (the pauses commands "
            "waited out)."
        ),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "shows_read": run.position.shows,
        "pages": run.pages,
        "added": run.summary.added,
        "merged_into_existing": run.summary.updated + run.summary.unchanged,
        "skipped": len(run.summary.skipped),
        "catalog_shows": catalog,
        "shipped_shows": shipped,
        "index_shows": index_shows,
        "last_page_show_found": last_found,
        "page_hook_median_ms": round(statistics.median(hook_ms), 1),
        "page_hook_max_ms": round(max(hook_ms), 1),
        "loop_lag_max_ms": round(max(probe.lags_ms, default=0.0), 1),
        "loop_lag_p99_ms": round(percentile(probe.lags_ms, 0.99), 1) if probe.lags_ms else 0.0,
        "loop_lag_over_50ms": sum(lag > 50 for lag in probe.lags_ms),
        "rss_after_mb": round(rss_after, 1),
        "rss_after_rebuild_mb": round(rss_after_rebuild, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "autocomplete_median_ms": round(statistics.median(timings), 4),
        "autocomplete_p99_ms": round(percentile(timings, 0.99), 4),
        "autocomplete_cpu_median_ms": round(statistics.median(cpu_timings), 4),
        "autocomplete_cpu_p99_ms": round(percentile(cpu_timings, 0.99), 4),
        "rebuild_seconds": round(rebuild_seconds, 2),
        "learned_index_median_ms": round(statistics.median(learned_timings), 4),
        "learned_index_p99_ms": round(percentile(learned_timings, 0.99), 4),
        "learned_index_cpu_p99_ms": round(percentile(learned_cpu, 0.99), 4),
        "queries": len(timings),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shows", type=int, default=90_000, help="shows in the fake index (default 90000)")
    parser.add_argument("--queries", type=int, default=3000, help="autocomplete queries afterwards")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.shows, args.seed)
        return 0
    if not TEMPLATES.is_file():
        print(json.dumps({"error": f"no such file: {TEMPLATES}"}))
        return 1
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--shows", str(args.shows), "--seed", str(args.seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            print(json.dumps({"error": "the fake TVmaze did not start"}))
            return 1
        with tempfile.TemporaryDirectory(prefix="showbot-bench-") as directory:
            result = asyncio.run(measure(f"http://127.0.0.1:{port}", Path(directory), args.queries, args.seed))
    finally:
        child.terminate()
        child.wait()
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
