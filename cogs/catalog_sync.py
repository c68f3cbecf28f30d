"""Background catalog sync (on by default; CATALOG_SYNC=none turns it off): TVmaze's whole show index on the first
start (resumed where it stopped, then its last page for new shows), changed shows hourly, the schedules daily; with
TMDB_API_KEY, TMDB's trailers and posters daily.

The work and its error containment live in bot.catalog.sources.background.run_background_job; this cog only schedules
it. Every
job runs in a background task, and imports run in a worker thread: commands are served meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands, tasks

from bot import catalog
from bot.app.core import ShowBot
from bot.catalog import now_iso, run_background_job, shows_to_refresh

log = logging.getLogger(__name__)


class CatalogSync(commands.Cog):
    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot
        # Set once each loop's first run (at start) is over, or at once when sync is off: whoever must not race that
        # run (a test counting shows, an operator's script) waits for it; later runs are an hour or a day away.
        self.first_pass_done = asyncio.Event()
        self._first_runs_pending = {"schedule", "updates"}
        self._learned_since_rebuild = 0  # shows the title index learned page by page since it was last built whole

    async def cog_load(self) -> None:
        if self.bot.settings.catalog_sync == "tvmaze":
            log.info(
                "Catalog sync from TVmaze: its whole show index in the background, then updates hourly, schedules daily"
            )
            self.schedule_daily.start()
            self.updates_hourly.start()
            if self.bot.settings.tmdb_api_key:
                log.info("Catalog sync from TMDB (TMDB_API_KEY is set): trailers and posters daily")
                self._first_runs_pending.add("tmdb")
                self.tmdb_daily.start()
        else:
            self.first_pass_done.set()

    async def cog_unload(self) -> None:
        self.schedule_daily.cancel()
        self.updates_hourly.cancel()
        self.tmdb_daily.cancel()

    @tasks.loop(hours=24)
    async def schedule_daily(self) -> None:
        await self.run("schedule")

    @tasks.loop(hours=24)
    async def tmdb_daily(self) -> None:
        await self.run("tmdb")

    @tasks.loop(hours=1)
    async def updates_hourly(self) -> None:
        # The index first: on the first start it is the bootstrap (minutes, at TVmaze's rate limit), and a run it
        # could not finish (TVmaze down) continues an hour later; once complete it reads only the last page.
        try:
            await run_background_job(
                self.bot.settings, self.bot.db, "index", self.bot.clock.now(), on_page=self.page_landed
            )
            if self._learned_since_rebuild >= catalog.REBUILD_INDEX_AFTER_SHOWS:  # read here: a test lowers it
                self._learned_since_rebuild = 0
                try:
                    await self.bot.rebuild_title_index()
                except Exception:  # the learned index keeps serving; the next bootstrap run tries again
                    log.exception("Catalog sync (index): rebuilding the title index failed")
        finally:
            await self.run("updates")

    async def page_landed(self, show_ids: list[int]) -> None:
        """A page of the index is in the catalog: autocomplete, /show and the recommender know its shows now."""
        self._learned_since_rebuild += len(show_ids)
        try:
            await self.bot.catalog_changed(show_ids)
        except Exception:  # the next page, or the next job, refreshes again; the bootstrap must go on
            log.exception("Catalog sync (index): refreshing the title index and the recommender failed")

    async def run(self, job: str) -> None:
        """One job, then the title index and the recommender re-read the shows it may have changed."""
        try:
            started = now_iso()  # the importer's own clock: its stamps are compared with this
            await run_background_job(self.bot.settings, self.bot.db, job, self.bot.clock.now())
            try:
                changed = await shows_to_refresh(self.bot.db, started, self.bot.clock.now().date())
                await self.bot.catalog_changed(changed)
            except Exception:  # the next job refreshes again; the loop must go on
                log.exception("Catalog sync (%s): refreshing the title index and the recommender failed", job)
        finally:
            self._first_runs_pending.discard(job)
            if not self._first_runs_pending:
                self.first_pass_done.set()

    @schedule_daily.before_loop
    @tmdb_daily.before_loop
    @updates_hourly.before_loop
    async def wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: ShowBot) -> None:
    await bot.add_cog(CatalogSync(bot))
