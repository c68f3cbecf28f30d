"""Running the real ShowBot against an emulator in this event loop (tests and the console share it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from bot.app.core import ShowBot
from bot.common.clock import Clock
from bot.common.config import Settings
from bot.emulator.server import DiscordEmulator
from bot.storage import Database

# The shape of a real bot token (three base64url parts), so Settings accepts it; it opens nothing but the emulator.
FAKE_TOKEN = "MTE5OTk5OTk5OTk5OTk5OTk5OQ.GEmula.dG9rZW4tZm9yLXRoZS1sb2NhbC1lbXVsYXRvcg"


def emulator_settings(settings: Settings, emulator: DiscordEmulator) -> Settings:
    """`settings` pointed at `emulator`, with the emulator's token."""
    return replace(
        settings,
        discord_token=emulator.token or FAKE_TOKEN,
        discord_api_base_url=emulator.api_base_url,
        discord_gateway_url=emulator.gateway_url,
    )


@contextlib.asynccontextmanager
async def running_bot(
    emulator: DiscordEmulator,
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    extensions: list[str] | None = None,
    ready_timeout: float = 10.0,
    **options: Any,
) -> AsyncIterator[ShowBot]:
    """Start ShowBot (login, cogs, command sync, gateway) and yield it once ready; close it afterwards."""
    settings = emulator_settings(settings, emulator)
    options.setdefault("guild_ready_timeout", 0.02)
    options.setdefault("chunk_guilds_at_startup", False)
    bot = ShowBot(settings, db, clock=clock, extensions=extensions, **options)
    async with bot:
        assert settings.discord_token is not None
        runner = asyncio.create_task(bot.start(settings.discord_token), name="showbot")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({runner, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            ready.cancel()
            runner.result()
            raise RuntimeError("The bot stopped before it was ready")
        if ready not in done:
            ready.cancel()
            runner.cancel()
            raise TimeoutError(f"The bot was not ready after {ready_timeout}s")
        try:
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            # Let the events dispatched while closing (on_disconnect...) run before the loop goes away.
            pending = [t for t in asyncio.all_tasks() if t.get_name().startswith("discord.py: ") and not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=5)
