"""User actions against the emulator, for tests and the console: `await discord.slash("show", title="...")`.

Slash commands are built from the commands the bot actually synced, so option names, types, choices and ranges
are checked as Discord's client would. Waiting is event-driven: in-process (the bot runs in this event loop) an
action returns once the bot has finished handling it; otherwise once the bot has answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.emulator.command_data import ActionError, CommandDataBuilder
from bot.emulator.demo import DemoServer
from bot.emulator.protocol import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    MESSAGE_COMPONENT,
    InteractionRecord,
)
from bot.emulator.server import DiscordEmulator
from bot.emulator.state import Channel, Message, User, parse_emoji

BOT_WORK_PREFIXES = (
    "discord.py: ",
    "CommandTree-invoker",
    "discord-ui-view-dispatch",
    "discord-ui-dynamic-item",
    "discord-ui-modal",
)


class NoResponse(AssertionError):
    """The bot did not answer an interaction."""


@dataclass
class Reply:
    """The bot's answer to one interaction, as it stands now (edits and followups included)."""

    record: InteractionRecord

    @property
    def type(self) -> int | None:
        """The callback type: 4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal."""
        return self.record.callback_type

    @property
    def body(self) -> Any:
        """The callback body exactly as the bot sent it."""
        return self.record.callback_body

    @property
    def message(self) -> Message | None:
        """The message the response created (or, for a button that updated its message, that message); if the bot
        deleted it (a public "thinking…" replaced by a private answer), the first followup."""
        original = self.record.original
        if original is not None and (original.id in self.record.channel.messages or not self.record.followups):
            return original
        if self.type in (DEFERRED_UPDATE, 7):
            return self.record.message
        return self.record.followups[0] if self.record.followups else None

    @property
    def content(self) -> str:
        return self.message.content if self.message else ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.message.embeds if self.message else []

    @property
    def embed(self) -> dict[str, Any]:
        if not self.embeds:
            raise AssertionError(f"The reply has no embed: {self.content!r}")
        return self.embeds[0]

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.message.components if self.message else []

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [component for component in iter_components(self.components) if component.get("type") == 2]

    @property
    def flags(self) -> int:
        return self.message.flags if self.message else 0

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and self.message.ephemeral)

    @property
    def deferred(self) -> bool:
        return self.type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE)

    @property
    def followups(self) -> list[Message]:
        """Followup messages (after a deferral, the first followup is the original message, not listed here)."""
        return [message for message in self.record.followups if message is not self.record.original]

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.record.modal

    @property
    def text(self) -> str:
        """Content plus every embed's text, for loose assertions (`"Seven Seconds" in reply.text`)."""
        return "\n".join([self.content, *(embed_text(embed) for embed in self.embeds)])


def iter_components(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield from row.get("components", [])


def embed_text(embed: dict[str, Any]) -> str:
    parts = [embed.get("title") or "", embed.get("description") or ""]
    parts += [f"{item.get('name')}: {item.get('value')}" for item in embed.get("fields") or []]
    parts.append((embed.get("footer") or {}).get("text") or "")
    parts.append((embed.get("author") or {}).get("name") or "")
    return "\n".join(part for part in parts if part)


MessageRef = Message | Reply | int


class DiscordDriver:
    """What users do in the demo server; `user`/`channel` take a User/Channel or a name ("bob", "#general")."""

    def __init__(
        self,
        emulator: DiscordEmulator,
        server: DemoServer,
        *,
        in_process: bool = True,
        user: str = "alice",
        channel: str = "general",
        timeout: float = 5.0,
        locale: str = "en-US",
    ) -> None:
        self.emulator = emulator
        self.locale = locale  # the members' client language, sent with every interaction unless an action names one
        self.server = server
        self.in_process = in_process
        self.default_user = server.members[user]
        self.default_channel = server.channels[channel]
        self.timeout = timeout

    # ------------------------------------------------------------------------------------------------ lookups
    @property
    def guild(self) -> Any:
        return self.server.guild

    @property
    def requests(self) -> list[Any]:
        """Every REST request the bot sent, in order (RecordedRequest: method, path, body, query, route, status)."""
        return self.emulator.requests

    def member(self, name: str) -> User:
        if name in self.server.members:
            return self.server.members[name]
        raise ActionError(f"No member {name!r}; the demo server has {', '.join(self.server.members)}")

    def channel(self, name: str) -> Channel:
        try:
            return self.guild.channel_named(name)  # type: ignore[no-any-return]
        except KeyError as exc:
            raise ActionError(str(exc.args[0])) from None

    def _user(self, user: User | str | None) -> User:
        if user is None:
            return self.default_user
        return self.member(user) if isinstance(user, str) else user

    def _channel(self, channel: Channel | str | None) -> Channel:
        if channel is None:
            return self.default_channel
        return self.channel(channel) if isinstance(channel, str) else channel

    def messages(self, channel: Channel | str | None = None) -> list[Message]:
        """Messages everyone can see in a channel, oldest first."""
        return self._channel(channel).visible_messages()

    def last_message(self, channel: Channel | str | None = None) -> Message:
        messages = self.messages(channel)
        if not messages:
            raise ActionError(f"No message in #{self._channel(channel).name} yet")
        return messages[-1]

    def message(self, ref: MessageRef) -> Message:
        if isinstance(ref, Message):
            return ref
        if isinstance(ref, Reply):
            if ref.message is None:
                raise ActionError("That reply has no message")
            return ref.message
        return self.emulator.find_message(ref)[2]

    # ------------------------------------------------------------------------------------------ interactions
    async def slash(
        self,
        command: str,
        *,
        user: User | str | None = None,
        in_channel: Channel | str | None = None,
        options: dict[str, Any] | None = None,
        locale: str | None = None,
        **values: Any,
    ) -> Reply:
        """Run `/command` (subcommands separated by spaces: "weekly set") as `user` in `in_channel`, from a client in
        `locale` (default: the driver's).

        Keyword arguments are option values (`channel="#watch-party"` is the command's channel option); an option
        named `user`, `in_channel`, `options` or `locale` goes in `options={...}`.
        """
        who, where = self._user(user), self._channel(in_channel)
        data = self._command_data(command, who, where, {**(options or {}), **values}, focused=None)
        record, payload = self.emulator.new_interaction(
            APPLICATION_COMMAND, who, where, data, locale=locale or self.locale
        )
        return await self._run(record, payload, f"/{command}")

    async def autocomplete(
        self,
        command: str,
        option: str,
        value: str,
        *,
        user: User | str | None = None,
        in_channel: Channel | str | None = None,
        locale: str | None = None,
        **values: Any,
    ) -> list[dict[str, Any]]:
        """The choices the bot offers while `user` types `value` into `option` of `/command` (other options as in
        `slash`)."""
        who, where = self._user(user), self._channel(in_channel)
        data = self._command_data(command, who, where, {**values, option: value}, focused=option)
        record, payload = self.emulator.new_interaction(AUTOCOMPLETE, who, where, data, locale=locale or self.locale)
        reply = await self._run(record, payload, f"autocomplete of /{command} {option}")
        return list(reply.record.choices or [])

    async def click(
        self, message: MessageRef, button: str, *, user: User | str | None = None, locale: str | None = None
    ) -> Reply:
        """Click the button whose custom_id or label is `button` on `message`."""
        target = self.message(message)
        matches = [
            c
            for c in iter_components(target.components)
            if c.get("type") == 2 and button in (c.get("custom_id"), c.get("label"))
        ]
        if not matches:
            labels = [c.get("label") or c.get("custom_id") for c in iter_components(target.components)]
            raise ActionError(f"No button {button!r} on that message; it has {labels}")
        component = matches[0]
        if component.get("disabled"):
            raise ActionError(f"The button {button!r} is disabled")
        if component.get("style") == 5:
            raise ActionError(f"{button!r} is a link button: it opens {component.get('url')}, the bot hears nothing")
        data = {"custom_id": component["custom_id"], "component_type": 2}
        return await self._component(target, data, user, locale)

    async def select(
        self,
        message: MessageRef,
        custom_id: str,
        values: list[str],
        *,
        user: User | str | None = None,
        locale: str | None = None,
    ) -> Reply:
        """Choose `values` in the select menu `custom_id` on `message`."""
        target = self.message(message)
        menus = [c for c in iter_components(target.components) if c.get("custom_id") == custom_id and c["type"] != 2]
        if not menus:
            raise ActionError(f"No select menu {custom_id!r} on that message")
        menu = menus[0]
        if menu["type"] == 3:
            offered = {option["value"] for option in menu.get("options", [])}
            if not set(values) <= offered:
                raise ActionError(f"{sorted(set(values) - offered)} are not options of {custom_id!r}")
        if not menu.get("min_values", 1) <= len(values) <= menu.get("max_values", 1):
            raise ActionError(f"{custom_id!r} takes {menu.get('min_values', 1)}-{menu.get('max_values', 1)} values")
        data = {"custom_id": custom_id, "component_type": menu["type"], "values": values}
        return await self._component(target, data, user, locale)

    async def _component(
        self, message: Message, data: dict[str, Any], user: User | str | None, locale: str | None
    ) -> Reply:
        who = self._user(user)
        channel = self.emulator.channel_of_message(message.id)
        record, payload = self.emulator.new_interaction(
            MESSAGE_COMPONENT, who, channel, data, message=message, locale=locale or self.locale
        )
        return await self._run(record, payload, f"component {data['custom_id']!r}")

    async def _run(self, record: InteractionRecord, payload: dict[str, Any], what: str) -> Reply:
        await self.emulator.dispatch_interaction(record, payload)
        try:
            if self.in_process:
                await self.settle()
            else:
                await self.emulator.wait_for(lambda: record.answered, timeout=self.timeout, what=f"an answer to {what}")
        except TimeoutError:
            pass
        if not record.acknowledged or (self.in_process is False and not record.answered):
            sent = [f"{r.method} {r.path} -> {r.status} {r.error_code or ''}" for r in record.requests]
            raise NoResponse(f"The bot did not answer {what} (it sent: {sent or 'nothing'})")
        return Reply(record)

    # ---------------------------------------------------------------------------------------------- reactions
    async def react(self, message: MessageRef, emoji: str, *, user: User | str | None = None) -> None:
        await self.emulator.add_reaction(self.message(message), parse_emoji(emoji), self._user(user))
        await self.settle()

    async def unreact(self, message: MessageRef, emoji: str, *, user: User | str | None = None) -> None:
        await self.emulator.remove_reaction(self.message(message), parse_emoji(emoji), self._user(user))
        await self.settle()

    async def clear_reactions(self, message: MessageRef, emoji: str | None = None) -> None:
        """A moderator removes every reaction from the message, or every reaction with `emoji`."""
        await self.emulator.clear_reactions(self.message(message), None if emoji is None else parse_emoji(emoji))
        await self.settle()

    async def delete_message(self, message: MessageRef) -> None:
        await self.emulator.user_deletes_message(self.message(message))
        await self.settle()

    # ------------------------------------------------------------------------------------------------ waiting
    async def settle(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """In-process: return once the bot has read every gateway event and finished every handler it started."""
        if not self.in_process:
            return
        timeout = timeout or self.timeout
        await self.emulator.sync_gateway(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        current = asyncio.current_task()
        while True:
            busy = [
                task
                for task in asyncio.all_tasks()
                if task is not current and not task.done() and task.get_name().startswith(BOT_WORK_PREFIXES)
            ]
            if not busy:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"The bot is still busy after {timeout:.1f}s: {[t.get_name() for t in busy]}")
            await asyncio.wait(busy, timeout=remaining)

    # ------------------------------------------------------------------------------------------ payload building
    def _command_data(
        self, command: str, user: User, channel: Channel, values: dict[str, Any], *, focused: str | None
    ) -> dict[str, Any]:
        guild = self.emulator.guilds.get(channel.guild_id)  # None in direct messages
        builder = CommandDataBuilder(
            guild or self.guild,
            bot_user_id=self.emulator.bot_user.id,
            member=self.member,
            channel_named=self.channel,
            in_server=guild is not None,
        )
        synced = self.emulator.commands_for(guild.id if guild else None)
        return builder.build(synced, command, user, channel, values, focused=focused)

    def direct_messages(self, user: User | str | None = None, other: User | str | None = None) -> Channel:
        """The direct messages of `user` with the bot, or with `other`: pass it as `in_channel=` (user_installs.py)."""
        return self.emulator.direct_messages(self._user(user), None if other is None else self._user(other))
