"""Running the bot: open the database, seed the catalog, connect, and stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import discord

from bot.app.core import ShowBot
from bot.catalog import seed_if_empty
from bot.common.config import Settings
from bot.storage import database_location, open_database

log = logging.getLogger(__name__)

NO_TOKEN_HELP = """\
No DISCORD_TOKEN is set, so Showbot cannot connect to Discord. To get one: open \
https://discord.com/developers/applications, choose "New Application", then on its Bot page "Reset Token" and copy \
the token into a file named .env beside README.md as DISCORD_TOKEN=... (see .env.example). Invite the bot with \
OAuth2 > URL Generator: scopes "bot" and "applications.commands"; permissions View Channel, Send Messages, Embed \
Links, Add Reactions and Read Message History. To try Showbot offline without a token, run: python -m bot console"""


# Gateway close codes that no reconnect can cure: the shard settings are wrong.
SHARD_REFUSALS = {
    4010: (
        "Discord refused the shard (close 4010): SHARD_IDS must be below SHARD_COUNT, and SHARD_COUNT the same in "
        "every process of the bot."
    ),
    4011: (
        "Discord requires more shards for this many servers (close 4011): unset SHARD_COUNT to use Discord's "
        "recommendation, or raise it."
    ),
}


class StartupError(Exception):
    """The bot cannot start; the message is one sentence for the operator."""


async def run_bot(settings: Settings) -> None:
    """Run until Discord disconnects for good or a signal arrives; a second signal exits at once."""
    token = settings.discord_token
    if token is None:
        raise StartupError(NO_TOKEN_HELP)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("Second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s received: shutting down (send it again to exit at once)", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        async with open_database(database_location(settings)) as db:
            log.info("Database: %s (%s)", settings.database_description, db.engine)  # a URL's password masked
            seeded = await seed_if_empty(db)
            if seeded is not None:
                log.info("Seeded the empty catalog: %s", seeded.line())
            async with ShowBot(settings, db) as bot:
                runner = asyncio.create_task(bot.start(token), name="discord")
                stopper = asyncio.create_task(stop.wait(), name="stop-signal")
                done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if runner in done:
                    stopper.cancel()
                    try:
                        runner.result()
                    except discord.LoginFailure:
                        raise StartupError(
                            "Discord refused DISCORD_TOKEN: reset the token on your application's Bot page and "
                            "put the new one in .env."
                        ) from None
                    except discord.PrivilegedIntentsRequired:
                        raise StartupError("Discord refused the requested intents.") from None
                    except discord.ConnectionClosed as exc:
                        if exc.code in SHARD_REFUSALS:
                            raise StartupError(SHARD_REFUSALS[exc.code]) from None
                        raise
                else:
                    await bot.close()
                    with contextlib.suppress(asyncio.CancelledError):
                        await runner
            log.info("Closed the database")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
