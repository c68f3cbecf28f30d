"""The real bot end to end: startup against the emulator, command sync only when changed, clean shutdown."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, bot_environment

from bot.app.core import COMMAND_HASH_KEY
from bot.app.harness import FAKE_TOKEN, running_bot
from bot.app.runner import NO_TOKEN_HELP
from bot.emulator import DiscordEmulator
from bot.storage import open_database

pytestmark = pytest.mark.e2e


def command_puts(emulator: DiscordEmulator) -> list[Any]:
    return [r for r in emulator.requests if r.method == "PUT" and r.route.endswith("/commands")]


async def test_the_real_bot_logs_in_loads_every_cog_and_syncs_once(
    make_bot: Any, emulator: DiscordEmulator, db: Any, demo: Any
) -> None:
    first = await make_bot()
    assert first.failed_extensions == {}
    assert first.get_guild(demo.guild.id) is not None
    assert len(command_puts(emulator)) == 1
    synced = {command["name"] for command in emulator.global_commands}
    assert synced == {command.name for command in first.tree.get_commands()}
    digest = await db.fetchval("SELECT value FROM bot_state WHERE key = ?", (f"{COMMAND_HASH_KEY}:global",))
    assert digest is not None and len(digest) == 64
    await first.close()

    await make_bot()  # same database, same commands: no second sync
    assert len(command_puts(emulator)) == 1
    assert emulator.identify_count == 2


async def test_a_changed_command_tree_is_synced_again(make_bot: Any, emulator: DiscordEmulator) -> None:
    first = await make_bot(extensions=[])
    await first.close()
    await make_bot(extensions=["e2e_sample_cog"])
    assert len(command_puts(emulator)) == 2
    assert "ping" in {command["name"] for command in emulator.global_commands}


async def test_dev_guild_sync_goes_to_the_guild(
    make_bot: Any, emulator: DiscordEmulator, demo: Any, driver: Any
) -> None:
    bot = await make_bot(extensions=["e2e_sample_cog"])
    await bot.close()
    guild_settings = replace(bot.settings, dev_guild_id=demo.guild.id)
    async with running_bot(emulator, guild_settings, bot.db, extensions=["e2e_sample_cog"]):
        assert "ping" in {command["name"] for command in emulator.guild_commands[demo.guild.id]}
        assert (await driver.slash("ping")).content == "pong"


async def test_the_bot_process_stops_cleanly_on_sigterm(bot_process: Any, emulator: DiscordEmulator) -> None:
    process = await bot_process()
    await process.wait_connected()
    assert await process.stop() == 0
    log = await process.stderr()
    assert "Closed the database" in log
    assert "Traceback" not in log
    async with open_database(process.database_path) as db:  # the database is intact and closed
        assert await db.fetchval("SELECT COUNT(*) FROM shows") > 0


async def test_sigint_stops_cleanly_and_the_token_never_reaches_the_log(
    bot_process: Any, emulator: DiscordEmulator
) -> None:
    process = await bot_process(log_level="DEBUG")  # the most talkative log still holds no token
    await process.wait_connected()
    assert await process.stop(signal.SIGINT) == 0
    log = await process.stderr()
    assert "Closed the database" in log
    assert FAKE_TOKEN not in log
    for part in FAKE_TOKEN.split("."):
        assert part not in log


async def test_a_second_signal_exits_at_once(bot_process: Any, emulator: DiscordEmulator) -> None:
    process = await bot_process()
    await process.wait_connected()
    process.process.send_signal(signal.SIGTERM)
    process.process.send_signal(signal.SIGINT)  # a different signal: the kernel cannot merge it into the first
    code = await asyncio.wait_for(process.process.wait(), 20)
    # Which one the bot handles first is the kernel's choice: two signals pending at once are delivered lowest number
    # first (SIGINT), so a loaded machine often sees SIGTERM second. The exit code names the second one.
    log = await process.stderr()
    first = re.findall(r"(SIGINT|SIGTERM) received: shutting down", log)
    second = re.findall(r"Second (SIGINT|SIGTERM): exiting now", log)
    assert len(first) == len(second) == 1 and first != second, log
    assert code == 128 + signal.Signals[second[0]]


async def test_without_a_token_the_bot_explains_how_to_get_one(tmp_path: Path) -> None:
    env = bot_environment(tmp_path / "db.sqlite3", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert NO_TOKEN_HELP in stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert stdout == b""


async def test_show_reply_and_a_vote_by_reaction(discord: Any, bob: Any) -> None:
    """The harness on a real cog (the lead's cog tests go further)."""
    reply = await discord.slash("show", title="Seven Seconds", user=bob)
    assert reply.embed["title"].startswith("Seven Seconds") and not reply.ephemeral
    await discord.react(reply, "👍", user=bob)
    assert reply.message.reaction_counts()["👍"] == 2  # the bot's own and bob's
    choices = await discord.autocomplete("show", "title", "seven sec", user=bob)
    assert any(choice["name"].startswith("Seven Seconds") for choice in choices)
