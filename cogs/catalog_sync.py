"""Background catalog sync when CATALOG_SYNC=tvmaze: the TVmaze schedules daily, changed shows hourly.

The work and its error containment live in bot.sources.sync.run_background_job; this cog only schedules it.
"""

from __future__ import annotations

import logging

from discord.ext import commands, tasks

from bot.core import ShowBot
from bot.sources.sync import run_background_job

log = logging.getLogger(__name__)


class CatalogSync(commands.Cog):
    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        if self.bot.settings.catalog_sync == "tvmaze":
            log.info("Catalog sync from TVmaze: schedules daily, updates hourly")
            self.schedule_daily.start()
            self.updates_hourly.start()

    async def cog_unload(self) -> None:
        self.schedule_daily.cancel()
        self.updates_hourly.cancel()

    @tasks.loop(hours=24)
    async def schedule_daily(self) -> None:
        await run_background_job(self.bot.settings, self.bot.db, "schedule", self.bot.clock.now())

    @tasks.loop(hours=1)
    async def updates_hourly(self) -> None:
        await run_background_job(self.bot.settings, self.bot.db, "updates", self.bot.clock.now())

    @schedule_daily.before_loop
    @updates_hourly.before_loop
    async def wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: ShowBot) -> None:
    await bot.add_cog(CatalogSync(bot))
