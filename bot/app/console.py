"""`python -m bot console`: the real bot against a local Discord emulator, driven from the terminal.

Lines (see HELP): `/show title:Seven Seconds`, `/weekly set channel:#watch-party day:friday`, a value ending in `?`
shows the autocomplete choices for it, `react last 👍`, `unreact last 👍`, `click last <label>`, `as bob`, `help`.
The bot's log goes to console.log beside the database, so the terminal shows only the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import discord

from bot.app.console_render import render_message, render_reactions
from bot.app.core import COMMAND_HASH_KEY, ShowBot
from bot.app.harness import running_bot
from bot.catalog import seed_if_empty
from bot.common.config import Settings
from bot.emulator import ActionError, ApiError, DiscordDriver, DiscordEmulator, NoResponse, Reply, build_demo_server
from bot.emulator.state import Message
from bot.storage import open_database

log = logging.getLogger(__name__)

# A fixed ID for the demo server: the console syncs commands to it (never globally), under its own bot_state key,
# so a console run can never make a real `python -m bot run` skip its sync.
DEMO_GUILD_ID = 1_100_000_000_000_000_001
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
OPTION_START = re.compile(r"(?:^|(?<=\s))([\w'-]+):")

HELP = """\
Type what a member of the "Showbot Demo" server would do:
  /show title:Seven Seconds          run a slash command; options are name:value (values may contain spaces)
  /weekly set channel:#watch-party day:friday time:18:00 timezone:Europe/London
                                     subcommands are words before the first option
  /show title:sev?                   end an option value with ? to see the bot's autocomplete choices for it
  react last 👍 / unreact last 👍    add or remove your reaction on the latest message the bot sent
                                     (instead of "last", a message ID)
  clear last [👍]                    a moderator removes every reaction (or every 👍) from that message
  click last <label>                 click a button (by label or custom_id) on that message
  select last <custom_id> a,b        choose values in a select menu
  messages [#channel]                show the channel's recent messages
  as <member>                        act as alice, bob, carol or owner (owner has Manage Server)
  in #channel                        run commands in #general, #watch-party or #announcements
  locale de                          the members' Discord language from now on (de, fr, es-ES, pt-BR, ja, en-US...)
  help, quit"""


class ConsoleError(Exception):
    """A line that could not run; the message says why."""


class Console:
    def __init__(
        self,
        emulator: DiscordEmulator,
        driver: DiscordDriver,
        *,
        as_json: bool,
        after_line: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.emulator = emulator
        self.driver = driver
        self.as_json = as_json
        self.after_line = after_line  # e.g. wait until the bot has stored the votes the line caused
        self.user = driver.default_user
        self.channel = driver.default_channel

    @property
    def prompt(self) -> str:
        return f"{self.user.username} in #{self.channel.name}> "

    async def run_line(self, line: str) -> bool:
        """Run one line; False (after saying why on stderr) when it could not run."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        mark = len(self.emulator.requests)
        violations = len(self.emulator.violations)
        try:
            await self._dispatch(line)
            if self.after_line is not None:
                await self.after_line()
        except (ConsoleError, ActionError, NoResponse, TimeoutError) as exc:
            print(f"✗ {exc}", file=sys.stderr)
            return False
        finally:
            if self.as_json:
                for record in self.emulator.requests[mark:]:
                    print(json.dumps(record.to_json(), ensure_ascii=False), flush=True)
        for violation in self.emulator.violations[violations:]:
            print(f"✗ Discord would reject this: {violation}", file=sys.stderr)
        return len(self.emulator.violations) == violations

    async def _dispatch(self, line: str) -> None:
        if line.startswith("/"):
            await self._slash(line[1:])
            return
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "help":
            self.say(HELP)
        elif word == "as":
            self.user = self.driver.member(rest.removeprefix("@"))
            self.say(f"You are now {self.user.username}.")
        elif word == "locale":
            self.driver.locale = discord_locale(rest)
            self.say(f"Discord's language is now {self.driver.locale}.")
        elif word == "in":
            self.channel = self.driver.channel(rest)
            self.say(f"Now in #{self.channel.name}.")
        elif word == "messages":
            channel = self.driver.channel(rest) if rest else self.channel
            recent = self.driver.messages(channel)[-10:]
            for message in recent:
                self.say(render_message(message, channel=f"#{channel.name}", locale=self.driver.locale))
            if not recent:
                self.say(f"(no messages in #{channel.name})")
        elif word in ("react", "unreact"):
            target, emoji = self._split_target(rest, "an emoji")
            action = self.driver.react if word == "react" else self.driver.unreact
            await action(target, emoji, user=self.user)
            self.say(f"{'Reacted' if word == 'react' else 'Removed'} {emoji}. Reactions now: "
                     f"{render_reactions(target) or 'none'}")  # fmt: skip
        elif word == "clear":
            target, emoji = self._split_target(rest + " *" if rest.count(" ") == 0 else rest, "an emoji")
            await self.driver.clear_reactions(target, None if emoji == "*" else emoji)
            self.say(f"Cleared {'every reaction' if emoji == '*' else emoji}. Reactions now: "
                     f"{render_reactions(target) or 'none'}")  # fmt: skip
        elif word == "click":
            target, label = self._split_target(rest, "a button label")
            self.show(await self.driver.click(target, label, user=self.user))
        elif word == "select":
            target, spec = self._split_target(rest, "a custom_id and values")
            custom_id, _, values = spec.partition(" ")
            self.show(await self.driver.select(target, custom_id, values.split(","), user=self.user))
        else:
            raise ConsoleError(f"Unknown command {word!r}; type help")

    async def _slash(self, text: str) -> None:
        starts = list(OPTION_START.finditer(text))
        command = text[: starts[0].start()].strip() if starts else text.strip()
        values: dict[str, str] = {}
        for index, match in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
            values[match.group(1)] = text[match.end() : end].strip()
        focused = [name for name, value in values.items() if value.endswith("?")]
        if len(focused) > 1:
            raise ConsoleError("Only one option at a time can end with ? (autocomplete)")
        if focused:
            name = focused[0]
            others = {key: value for key, value in values.items() if key != name}
            choices = await self.driver.autocomplete(
                command, name, values[name][:-1], user=self.user, in_channel=self.channel, **others
            )
            lines = [f"  {c['name']}" + (f"  ({c['value']})" if str(c["value"]) != c["name"] else "") for c in choices]
            self.say(f"Choices for {name}:\n" + ("\n".join(lines) if lines else "  (none)"))
            return
        reply = await self.driver.slash(command, user=self.user, in_channel=self.channel, options=values)
        self.show(reply)

    def _split_target(self, rest: str, what: str) -> tuple[Message, str]:
        target, _, remainder = rest.partition(" ")
        if not target or not remainder.strip():
            raise ConsoleError(f"Say which message (last, or an ID) and {what}")
        message = self.last_message() if target == "last" else None
        if message is None:
            try:
                message = self.driver.message(int(target)) if target.isascii() and target.isdigit() else None
            except ApiError:  # the emulator's 404 Unknown Message
                message = None
            if message is None:
                raise ConsoleError(f"No such message: {target}")
        return message, remainder.strip()

    def last_message(self) -> Message:
        """The newest message from the bot this member can see (their own ephemeral replies included)."""
        visible = []
        for channel in self.driver.guild.channels.values():
            for message in channel.messages.values():
                record = self.emulator.interactions.get(message.interaction_id or 0)
                if not message.ephemeral or (record is not None and record.user.id == self.user.id):
                    visible.append(message)
        if not visible:
            raise ConsoleError(f"The bot has not sent any message {self.user.username} can see yet")
        newest: Message = max(visible, key=lambda message: message.id)
        return newest

    def say(self, text: str) -> None:
        if not self.as_json:
            print(text, flush=True)

    def show(self, reply: Reply) -> None:
        if self.as_json:
            return
        if reply.modal is not None:
            self.say(f"(the bot opened a form: {reply.modal.get('title')!r}; the console cannot fill forms)")
        channel = f"#{self.driver.guild.channels[reply.record.channel.id].name}"
        messages = [reply.message] if reply.message is not None else []
        for message in messages + reply.followups:
            self.say(render_message(message, channel=channel, locale=self.driver.locale))


def discord_locale(text: str) -> str:
    """One of Discord's locale codes, as typed in any case ('DE', 'pt-br'); any other word is refused."""
    known = {locale.value.casefold(): locale.value for locale in discord.Locale}
    code = known.get(text.strip().replace("_", "-").casefold())
    if code is None:
        raise ConsoleError(f"{text.strip()!r} is not a Discord locale; try de, fr, es-ES, pt-BR, ja or en-US")
    return code


async def votes_applied(bot: ShowBot) -> None:
    """Wait until the vote events queued so far are stored: a line's reactions count for the next line."""
    processor = getattr(bot.get_cog("Votes"), "processor", None)
    if processor is not None:
        await processor.drain()


def _log_to_file(settings: Settings) -> tuple[Path, logging.Handler]:
    """Send the log to console.log beside the database instead of the terminal."""
    path = settings.database_path.parent / "console.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_showbot", False) or isinstance(handler, logging.StreamHandler):
            root.removeHandler(handler)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    return path, file_handler


def run_console(settings: Settings, lines: list[str], member: str | None, as_json: bool, locale: str = "en-US") -> int:
    """Run the console: `lines` non-interactively (stop at the first that fails), or a prompt when there are none;
    the members' Discord language is `locale` (their replies are in it)."""
    try:
        locale = discord_locale(locale)
    except ConsoleError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    log_path, handler = _log_to_file(settings)
    try:
        return asyncio.run(_console(settings, lines, member, as_json, log_path, locale))
    except KeyboardInterrupt:
        return 130
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


async def _console(
    settings: Settings, lines: list[str], member: str | None, as_json: bool, log_path: Path, locale: str
) -> int:
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    settings = replace(settings, dev_guild_id=DEMO_GUILD_ID)
    async with DiscordEmulator(require_spec=False) as emulator:
        demo = build_demo_server(emulator, guild_id=DEMO_GUILD_ID)
        if member is not None and member.removeprefix("@") not in demo.members:
            print(f"No demo member {member!r}: choose one of {', '.join(demo.members)}.", file=sys.stderr)
            return EXIT_USAGE
        async with open_database(settings.database_path) as db:
            seeded = await seed_if_empty(db)
            if seeded is not None and not as_json:
                print(f"Seeded the empty catalog: {seeded.line()}", file=sys.stderr)
            # The emulator is new on every run: make the bot sync its commands to the demo server again.
            await db.forget_state(f"{COMMAND_HASH_KEY}:guild:{DEMO_GUILD_ID}")
            async with running_bot(emulator, settings, db) as bot:
                driver = DiscordDriver(
                    emulator, demo, user=(member or "alice").removeprefix("@"), timeout=15.0, locale=locale
                )
                console = Console(emulator, driver, as_json=as_json, after_line=lambda: votes_applied(bot))
                if lines:
                    for line in lines:
                        if not await console.run_line(line):
                            return EXIT_FAILED
                    return EXIT_OK
                await _interactive(console, log_path)
    return EXIT_OK


async def _interactive(console: Console, log_path: Path) -> None:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    commands = sorted("/" + c["name"] for c in console.emulator.commands_for(console.driver.guild.id))
    print(f"Showbot is online in the offline demo server (log: {log_path}).")
    print(f"Commands: {' '.join(commands)}. Type help for more, quit to leave.")
    while True:
        try:
            line = await asyncio.to_thread(input, console.prompt)
        except EOFError:
            print()
            return
        if line.strip() in ("quit", "exit"):
            return
        await console.run_line(line)


__all__ = ["HELP", "run_console"]
