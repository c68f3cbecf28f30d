"""REST routes for guilds (the guild, its channels, a member) and the changes a test makes to a guild, dispatched as
Discord does: the bot joins or leaves, a channel is deleted, a role or a channel overwrite changes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.emulator.gateway import Gateway
from bot.emulator.protocol import INTENT_GUILDS, ApiError, Route
from bot.emulator.state import Channel, Guild, Overwrite, Role, User


class GuildRoutes(Gateway):
    def _guild_routes(self) -> list[Route]:
        return [
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]

    def _guild(self, request: web.Request) -> Guild:
        guild = self.guilds.get(int(request.match_info["guild_id"]))
        if guild is None or self.bot_user.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self._guild(request).rest_payload()

    async def _get_guild_channels(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, [channel.payload() for channel in self._guild(request).channels.values()]

    async def _get_member(self, request: web.Request, body: Any) -> tuple[int, Any]:
        member = self._guild(request).members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member.payload()

    async def delete_channel(self, channel: Channel) -> None:
        guild = self.guilds[channel.guild_id]
        guild.channels.pop(channel.id, None)
        await self.dispatch("CHANNEL_DELETE", channel.payload(), guild_id=guild.id, intent=INTENT_GUILDS)

    async def add_guild(self, guild: Guild) -> None:
        """The bot joins `guild` (built with create_guild): GUILD_CREATE."""
        self.guilds[guild.id] = guild
        await self.dispatch("GUILD_CREATE", guild.payload(), guild_id=guild.id, intent=INTENT_GUILDS)

    async def remove_guild(self, guild: Guild) -> None:
        """The bot is removed from `guild`: GUILD_DELETE (without `unavailable`, meaning it was kicked)."""
        self.guilds.pop(guild.id, None)
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id, intent=INTENT_GUILDS)

    async def set_overwrite(self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0) -> None:
        """Set a channel permission overwrite for a role or a member: CHANNEL_UPDATE."""
        kind = 0 if isinstance(target, Role) else 1
        channel.overwrites[target.id] = Overwrite(target.id, kind, allow, deny)
        await self.dispatch("CHANNEL_UPDATE", channel.payload(), guild_id=channel.guild_id, intent=INTENT_GUILDS)
