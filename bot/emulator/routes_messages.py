"""REST routes for channels and their messages (read, list, send, edit, delete, each with the bot's permissions
checked as Discord checks them), a member deleting a message, and `apply_edit`, the one way a message is edited."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.emulator.core import page_limit
from bot.emulator.gateway import Gateway
from bot.emulator.permissions import EMBED_LINKS, MANAGE_MESSAGES, READ_MESSAGE_HISTORY, SEND_MESSAGES
from bot.emulator.protocol import INTENT_GUILD_MESSAGES, ApiError, Route
from bot.emulator.state import EPHEMERAL, LOADING, Channel, Guild, Message, iso_now, snowflake


class MessageRoutes(Gateway):
    def _message_routes(self) -> list[Route]:
        message = "/channels/{channel_id}/messages/{message_id}"
        return [
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("GET", "/channels/{channel_id}/messages", self._list_messages),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("GET", message, self._get_message),
            ("PATCH", message, self._edit_message),
            ("DELETE", message, self._delete_message),
        ]

    async def _get_channel(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel = self._channel(request)
        self._require(guild, channel, 0)
        return 200, channel.payload()

    async def _list_messages(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel = self._channel(request)
        self._require(guild, channel, READ_MESSAGE_HISTORY)
        limit = page_limit(request, default=50)
        messages = sorted(channel.visible_messages(), key=lambda message: message.id, reverse=True)
        if "before" in request.query:
            messages = [m for m in messages if m.id < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if m.id > int(request.query["after"])][-limit:]
        return 200, [message.payload(me=self.bot_user.id) for message in messages[:limit]]

    async def _create_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel = self._channel(request)
        self._require(guild, channel, SEND_MESSAGES | (EMBED_LINKS if body.get("embeds") else 0))
        if not (body.get("content") or body.get("embeds") or body.get("components") or body.get("sticker_ids")):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = Message(
            snowflake(),
            channel.id,
            guild.id,
            self.bot_user,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=int(body.get("flags") or 0) & ~EPHEMERAL,
        )
        channel.messages[message.id] = message
        await self.dispatch(
            "MESSAGE_CREATE", message.payload(), guild_id=message.guild_id, intent=INTENT_GUILD_MESSAGES
        )
        return 200, message.payload(me=self.bot_user.id)

    async def _get_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self._message(request)[2].payload(me=self.bot_user.id)

    async def _edit_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        if message.author.id != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        if body.get("embeds"):
            self._require(guild, channel, EMBED_LINKS)
        apply_edit(message, body)
        return 200, message.payload(me=self.bot_user.id)

    async def _delete_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        if message.author.id != self.bot_user.id:
            self._require(guild, channel, MANAGE_MESSAGES)
        channel.messages.pop(message.id)
        await self._dispatch_message_delete(guild, channel, message)
        return 204, None

    async def _dispatch_message_delete(self, guild: Guild, channel: Channel, message: Message) -> None:
        payload = {"id": str(message.id), "channel_id": str(channel.id), "guild_id": str(guild.id)}
        await self.dispatch("MESSAGE_DELETE", payload, guild_id=guild.id, intent=INTENT_GUILD_MESSAGES)

    async def user_deletes_message(self, message: Message) -> None:
        guild, channel, _ = self.find_message(message.id)
        channel.messages.pop(message.id, None)
        await self._dispatch_message_delete(guild, channel, message)


def apply_edit(message: Message, body: dict[str, Any]) -> Message:
    for key in ("content", "embeds", "components"):
        if key in body:
            value = body[key]
            setattr(message, key, (value or "") if key == "content" else list(value or []))
    if "flags" in body and body["flags"] is not None:
        message.flags = (message.flags & EPHEMERAL) | (int(body["flags"]) & ~(EPHEMERAL | LOADING))
    message.flags &= ~LOADING
    message.edited_timestamp = iso_now()
    return message
