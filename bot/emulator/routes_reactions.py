"""Reactions: the REST routes the bot uses (react, remove one or all, list who reacted) and what members do
(`add_reaction`, `remove_reaction`, `clear_reactions`), each dispatched as Discord dispatches it, with its limit of
20 distinct reactions per message."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.emulator.core import page_limit
from bot.emulator.gateway import Gateway
from bot.emulator.permissions import ADD_REACTIONS, MANAGE_MESSAGES, READ_MESSAGE_HISTORY
from bot.emulator.protocol import INTENT_GUILD_MESSAGE_REACTIONS, ApiError, Route
from bot.emulator.state import Message, Reaction, User, emoji_key, parse_emoji

REACTIONS_PER_MESSAGE_MAX = 20


class ReactionRoutes(Gateway):
    def _reaction_routes(self) -> list[Route]:
        reactions = "/channels/{channel_id}/messages/{message_id}/reactions"
        return [
            ("GET", reactions + "/{emoji_name}", self._list_reaction_users),
            ("DELETE", reactions, self._delete_all_reactions),
            ("DELETE", reactions + "/{emoji_name}", self._delete_emoji_reactions),
            ("PUT", reactions + "/{emoji_name}/@me", self._add_own_reaction),
            ("DELETE", reactions + "/{emoji_name}/{user_id}", self._delete_reaction),
        ]

    async def _add_own_reaction(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        emoji = parse_emoji(request.match_info["emoji_name"])
        if emoji_key(emoji) not in message.reaction_counts():
            self._require(guild, channel, ADD_REACTIONS | READ_MESSAGE_HISTORY)
        await self.add_reaction(message, emoji, self.bot_user)
        return 204, None

    async def _delete_reaction(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        target = request.match_info["user_id"]
        user_id = self.bot_user.id if target == "@me" else int(target)
        if user_id != self.bot_user.id:
            self._require(guild, channel, MANAGE_MESSAGES)
        await self.remove_reaction(message, parse_emoji(request.match_info["emoji_name"]), self.users[user_id])
        return 204, None

    async def _delete_all_reactions(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        self._require(guild, channel, MANAGE_MESSAGES)
        await self.clear_reactions(message)
        return 204, None

    async def _delete_emoji_reactions(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        self._require(guild, channel, MANAGE_MESSAGES)
        await self.clear_reactions(message, parse_emoji(request.match_info["emoji_name"]))
        return 204, None

    async def _list_reaction_users(self, request: web.Request, body: Any) -> tuple[int, Any]:
        _guild, _channel, message = self._message(request)
        limit = page_limit(request, default=25)
        after = int(request.query.get("after", 0))
        user_ids = sorted(message.reaction_users(emoji_key(parse_emoji(request.match_info["emoji_name"]))))
        page = [user_id for user_id in user_ids if user_id > after][:limit]
        return 200, [self.users[user_id].payload() for user_id in page]

    async def add_reaction(self, message: Message, emoji: dict[str, Any], user: User) -> bool:
        """`user` reacts to `message` (MESSAGE_REACTION_ADD is dispatched); False if they already had."""
        key = emoji_key(emoji)
        reaction = message.reactions.get(key)
        if reaction is None or not reaction.user_ids:
            if len(message.reaction_counts()) >= REACTIONS_PER_MESSAGE_MAX:
                raise ApiError(400, 30010, "Maximum number of reactions reached (20)")
            reaction = message.reactions[key] = Reaction(emoji)
        if user.id in reaction.user_ids:
            return False
        reaction.user_ids.append(user.id)
        guild = self.guilds.get(message.guild_id or 0)
        payload: dict[str, Any] = {
            **self._reaction_payload(message, emoji, user),
            "message_author_id": str(message.author.id),
            "burst": False,
            "burst_colors": [],
        }
        if guild is not None and user.id in guild.members:
            payload["member"] = guild.members[user.id].payload()
        if self._bot_hears(message):
            await self.dispatch(
                "MESSAGE_REACTION_ADD", payload, guild_id=message.guild_id, intent=INTENT_GUILD_MESSAGE_REACTIONS
            )
        return True

    async def remove_reaction(self, message: Message, emoji: dict[str, Any], user: User) -> bool:
        reaction = message.reactions.get(emoji_key(emoji))
        if reaction is None or user.id not in reaction.user_ids:
            return False
        reaction.user_ids.remove(user.id)
        payload = {**self._reaction_payload(message, emoji, user), "burst": False}
        if self._bot_hears(message):
            await self.dispatch(
                "MESSAGE_REACTION_REMOVE", payload, guild_id=message.guild_id, intent=INTENT_GUILD_MESSAGE_REACTIONS
            )
        return True

    async def clear_reactions(self, message: Message, emoji: dict[str, Any] | None = None) -> bool:
        """A moderator removes every reaction from `message` (MESSAGE_REACTION_REMOVE_ALL), or every reaction with
        `emoji` (MESSAGE_REACTION_REMOVE_EMOJI); False if there was none to remove."""
        if emoji is None:
            if not message.reaction_counts():
                return False
            message.reactions.clear()
            event, data = "MESSAGE_REACTION_REMOVE_ALL", {}
        else:
            reaction = message.reactions.pop(emoji_key(emoji), None)
            if reaction is None or not reaction.user_ids:
                return False
            event, data = "MESSAGE_REACTION_REMOVE_EMOJI", {"emoji": emoji}
        payload: dict[str, Any] = {"channel_id": str(message.channel_id), "message_id": str(message.id), **data}
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        if self._bot_hears(message):
            await self.dispatch(event, payload, guild_id=message.guild_id, intent=INTENT_GUILD_MESSAGE_REACTIONS)
        return True

    def _bot_hears(self, message: Message) -> bool:
        """Reaction events reach the bot only from servers it is in (it asks for no direct-message intents)."""
        guild = self.guilds.get(message.guild_id or 0)
        return guild is not None and self.bot_user.id in guild.members

    @staticmethod
    def _reaction_payload(message: Message, emoji: dict[str, Any], user: User) -> dict[str, Any]:
        data = {
            "user_id": str(user.id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": emoji,
            "type": 0,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        return data
