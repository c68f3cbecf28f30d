"""The world every part of the emulator shares (`EmulatorCore`): the bot's identity, users, guilds, synced commands,
the log of requests and interactions, the emulator's clock, waiting for a change, building a test's world, and the
lookups (with the bot's permissions checked) that the REST routes start from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.emulator.permissions import READ_MESSAGE_HISTORY, VIEW_CHANNEL
from bot.emulator.protocol import ApiError, InteractionRecord, RecordedRequest
from bot.emulator.state import DEFAULT_EVERYONE, Channel, Guild, Member, Message, Role, User, snowflake


class EmulatorCore:
    """The shared state; the gateway, the REST routes and fault injection build on it (see server.DiscordEmulator)."""

    def __init__(self, *, token: str | None, bot_name: str) -> None:
        self.token = token
        self.application_id = snowflake()
        self.bot_user = User(self.application_id, bot_name, bot=True)
        self.owner_user = User(snowflake(), "developer")
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user, self.owner_user.id: self.owner_user}
        self.guilds: dict[int, Guild] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.time_offset = 0.0
        self._changed = asyncio.Event()
        self.port = 0

    def now(self) -> float:
        """The emulator's clock for interaction deadlines; `advance_time` moves it without waiting."""
        return time.monotonic() + self.time_offset

    def advance_time(self, seconds: float) -> None:
        self.time_offset += seconds

    # --------------------------------------------------------------------------------------------- world building
    def create_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> User:
        user = User(user_id or snowflake(), username, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(
        self, name: str, owner: User, *, bot_permissions: int = DEFAULT_EVERYONE, guild_id: int | None = None
    ) -> Guild:
        """A guild the bot is in (dispatched on IDENTIFY; use `add_guild` to make the bot join one later)."""
        guild = Guild(guild_id or snowflake(), name, owner.id)
        guild.roles[guild.id] = Role(guild.id, "@everyone", DEFAULT_EVERYONE, 0)
        guild.members[owner.id] = Member(owner)
        bot_role = self.create_role(guild, self.bot_user.username, bot_permissions)
        guild.members[self.bot_user.id] = Member(self.bot_user, roles=[bot_role.id])
        self.guilds[guild.id] = guild
        return guild

    def create_role(self, guild: Guild, name: str, permissions: int, *, role_id: int | None = None) -> Role:
        role = Role(role_id or snowflake(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def create_channel(
        self, guild: Guild, name: str, *, type: int = 0, topic: str | None = None, channel_id: int | None = None
    ) -> Channel:
        channel = Channel(
            channel_id or snowflake(), guild.id, name, type=type, position=len(guild.channels), topic=topic
        )
        guild.channels[channel.id] = channel
        return channel

    def add_member(self, guild: Guild, user: User, *roles: Role) -> Member:
        member = Member(user, roles=[role.id for role in roles])
        guild.members[user.id] = member
        return member

    def commands_for(self, guild_id: int | None) -> list[dict[str, Any]]:
        """The chat-input commands a user sees in a guild: guild commands first, then global ones."""
        guild_commands = self.guild_commands.get(guild_id, []) if guild_id else []
        names = {command["name"] for command in guild_commands}
        return guild_commands + [command for command in self.global_commands if command["name"] not in names]

    def find_message(self, message_id: int) -> tuple[Guild, Channel, Message]:
        for guild in self.guilds.values():
            for channel in guild.channels.values():
                if message_id in channel.messages:
                    return guild, channel, channel.messages[message_id]
        raise ApiError(404, 10008, "Unknown Message")

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel]:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild, guild.channels[channel_id]
        raise ApiError(404, 10003, "Unknown Channel")

    # ------------------------------------------------------------------------------------------------- waiting
    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 (a deadline for an event-driven wait)
        what: str = "a condition",
    ) -> None:
        """Wait until `predicate()` holds; re-checked whenever a request or gateway message arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"Timed out after {timeout:.1f}s waiting for {what}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    # ------------------------------------------------------------------------------------- what routes start from
    def _channel(self, request: web.Request) -> tuple[Guild, Channel]:
        return self.find_channel(int(request.match_info["channel_id"]))

    def _require(self, guild: Guild, channel: Channel, needed: int) -> None:
        have = guild.permissions_in(channel, self.bot_user.id)
        if not have & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if have & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    def _message(self, request: web.Request) -> tuple[Guild, Channel, Message]:
        guild, channel = self._channel(request)
        self._require(guild, channel, READ_MESSAGE_HISTORY)
        message = channel.messages.get(int(request.match_info["message_id"]))
        if message is None or message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return guild, channel, message


def page_limit(request: web.Request, *, default: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        errors = {"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "Must be between 1 and 100."}]}}
        raise ApiError(400, 50035, "Invalid Form Body", errors)
    return int(raw)
