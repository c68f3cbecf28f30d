"""TVmaze's whole show index (`/shows?page=N`, about 90,000 shows) read into the catalog page by page: each page
in one transaction together with how far the bootstrap got, so that an interrupted run resumes where it stopped and
a finished one re-reads only the last page for new shows."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from bot.catalog.importer import ImportSummary, import_records
from bot.catalog.popularity import recompute_popularity
from bot.catalog.sources.base import SourceError, import_each
from bot.catalog.sources.progress import Meter
from bot.catalog.sources.tvmaze import IndexPage, TvmazeClient
from bot.storage import SET_STATE_SQL, EngineError, Location, connect_sync

log = logging.getLogger(__name__)

INDEX_STATE_KEY = "catalog_sync:tvmaze_index"
# After the bot's title index learned this many shows page by page, it is rebuilt whole (ShowBot.rebuild_title_index).
REBUILD_INDEX_AFTER_SHOWS = 5000
PageHook = Callable[[list[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IndexPosition:
    """How far the index bootstrap got, kept in bot_state with each page's shows (in the same transaction).

    Until the end of the index is reached, `page` is the next page to read. Once it is (`complete`), `page` is the
    last page that had shows: TVmaze appends new shows at the end, so a later run re-reads that page and any after it.
    """

    page: int = 0
    complete: bool = False
    shows: int = 0  # shows read from the index so far, over every run

    def to_json(self) -> str:
        return json.dumps({"page": self.page, "complete": self.complete, "shows": self.shows})

    @classmethod
    def from_json(cls, text: str | None) -> IndexPosition:
        """The stored position; a missing or unreadable one starts from page 0 (re-reading a page changes nothing)."""
        try:
            data = json.loads(text) if text else {}
            return cls(int(data.get("page", 0)), bool(data.get("complete", False)), int(data.get("shows", 0)))
        except (ValueError, TypeError, AttributeError):
            log.warning("TVmaze index: unreadable position %r in bot_state; starting from page 0", text)
            return cls()


@dataclass(slots=True)
class IndexRun:
    """What one run of the index bootstrap did."""

    summary: ImportSummary
    position: IndexPosition
    pages: int = 0  # pages read in this run
    first_page: int = 0


def read_index_position(location: Location) -> IndexPosition:
    conn = connect_sync(location)
    try:
        row = conn.execute("SELECT value FROM bot_state WHERE key = ?", (INDEX_STATE_KEY,)).fetchone()
    finally:
        conn.close()
    return IndexPosition.from_json(None if row is None else str(row[0]))


def import_index_page(location: Location, page: IndexPage, after: IndexPosition) -> tuple[ImportSummary, list[int]]:
    """The page's shows in one transaction together with the position `after` it; the catalog ids of its shows.

    A page whose transaction fails (one show the database refuses) is imported show by show instead, so that the
    others are kept and the failing one is named; the position is written after them."""
    conn = connect_sync(location)
    try:
        try:
            # Only the page's shows get their popularity here (against the catalog so far); the run's end derives
            # everyone's once, not a whole-catalog rewrite per page.
            summary = import_records(
                conn, page.records, state=(INDEX_STATE_KEY, after.to_json()), derive_popularity="changed"
            )
        except EngineError as exc:
            log.warning("TVmaze index page %d: its transaction failed (%s); importing show by show", page.number, exc)
            summary = import_each(location, page.records)
            conn.execute(SET_STATE_SQL, (INDEX_STATE_KEY, after.to_json()))
        tvmaze_ids = [record.ids["tvmaze"] for record in page.records]
        show_ids = [
            int(row[0])
            for row in conn.execute(
                f"SELECT id FROM shows WHERE tvmaze_id IN ({','.join('?' * len(tvmaze_ids))})", tvmaze_ids
            )
        ]
    finally:
        conn.close()
    summary.skipped = page.skipped + summary.skipped
    return summary, show_ids


async def tvmaze_index(
    base_url: str,
    location: Location,
    *,
    on_page: PageHook | None = None,
    meter: Meter | None = None,
    client: TvmazeClient | None = None,
) -> IndexRun:
    """Read TVmaze's show index (`/shows?page=N`) into the catalog, page by page, from where the last run stopped,
    until a 404 says the index has ended. After each page lands, `on_page(show ids)` (the bot's title index and
    recommender learn of them then, not at the end). `meter.update(shows read in this run)`.

    A failure (TVmaze down after retries) raises SourceError; the pages before it are kept, and the next run
    continues from the page that failed."""
    position = await asyncio.to_thread(read_index_position, location)
    run = IndexRun(ImportSummary(), position, first_page=position.page)
    async with AsyncExitStack() as stack:
        api = client if client is not None else await stack.enter_async_context(TvmazeClient(base_url))
        page_number = position.page
        read_this_run = 0
        # Three stages overlap, each in page order: page N+1 is fetched while page N is imported (in a worker
        # thread, where SQLite runs without the GIL), and page N-1's hook runs on the event loop meanwhile.
        fetching = asyncio.ensure_future(api.index_page(page_number))
        hook: asyncio.Future[None] | None = None
        try:
            while True:
                try:
                    page = await fetching
                except SourceError as exc:
                    raise SourceError(
                        f"{exc}; {run.pages} pages read in this run, the next run continues from page {page_number}"
                    ) from exc
                if page is None:
                    # The end of the index: remember the last page that had shows (re-read for new shows next time).
                    last = page_number - 1 if run.pages or not position.complete else position.page
                    run.position = IndexPosition(max(last, 0), True, run.position.shows)
                    await _set_state_sync(location, INDEX_STATE_KEY, run.position.to_json())
                    return run
                fetching = asyncio.ensure_future(api.index_page(page_number + 1))
                after = IndexPosition(page_number + 1, False, run.position.shows + len(page.records))
                summary, show_ids = await asyncio.to_thread(import_index_page, location, page, after)
                run.position = after
                run.pages += 1
                run.summary.add(summary)
                read_this_run += len(page.records)
                if meter is not None:
                    meter.update(read_this_run)
                if hook is not None:
                    await hook
                    hook = None
                if on_page is not None and show_ids:
                    hook = asyncio.ensure_future(on_page(show_ids))
                page_number += 1
        finally:
            if not fetching.done():
                fetching.cancel()
            await asyncio.gather(fetching, return_exceptions=True)  # a prefetch past a failure is not awaited
            if run.summary.popularity_inputs:  # also after a failure: the pages before it are in
                await asyncio.to_thread(_derive_popularity, location)
            if hook is not None:
                await hook  # the last page's shows are learned before this returns
    raise AssertionError("unreachable")  # the loop returns or raises


def _derive_popularity(location: Location) -> None:
    conn = connect_sync(location)
    try:
        recompute_popularity(conn)
    finally:
        conn.close()


async def _set_state_sync(location: Location, key: str, value: str) -> None:
    def write() -> None:
        conn = connect_sync(location)
        try:
            conn.execute(SET_STATE_SQL, (key, value))
        finally:
            conn.close()

    await asyncio.to_thread(write)
