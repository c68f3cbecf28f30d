"""User installs: where an application command may be used, and who authorised it, as Discord decides.

A command's `integration_types` say how it may be installed (0: to a server, 1: to a member's own account) and its
`contexts` where it may be used (0: a server, 1: the direct messages with the app's bot, 2: other direct and group
messages). Each interaction carries the `context` it happened in and `authorizing_integration_owners`: `"0"` with the
server's id (or `"0"` in the bot's direct messages) when the server install authorised it, `"1"` with the member's id
when their own install did. A component interaction keeps the context and owners of the interaction whose message it
is on.

The world gains:

- `install_for_user(user)`: the member adds the app to their account (the User Install);
- `create_guild_without_bot(name, owner)`: a server that has not invited the bot (no GUILD_CREATE, no events; the
  bot's REST calls on its channels are refused with 403/50001 Missing Access, as Discord refuses a channel the bot
  cannot see);
- `direct_messages(user, other=None)`: the direct messages of `user` with the bot (context 1), or with another member
  (context 2). The bot's REST calls on direct-message channels are answered 404/10003 Unknown Channel: the emulator
  does not open DM channels to the bot (which a bot cannot do for other members' direct messages at all), so only the
  interaction's own responses (callback and webhook) reach them. Reactions there are never dispatched (the bot asks
  for no direct-message intents).

What Discord's client would not offer (a command not installed there, or not allowed in that context) raises
`ActionError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.emulator.command_data import ActionError
from bot.emulator.core import EmulatorCore
from bot.emulator.permissions import ATTACH_FILES, EMBED_LINKS, USE_EXTERNAL_EMOJIS
from bot.emulator.protocol import ApiError
from bot.emulator.state import Channel, Guild, Message, User, snowflake

GUILD_INSTALL, USER_INSTALL = 0, 1
CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL = 0, 1, 2
INSTALL_NAMES = {GUILD_INSTALL: "a server", USER_INSTALL: "a member's account"}
CONTEXT_NAMES = {
    CONTEXT_GUILD: "a server",
    CONTEXT_BOT_DM: "direct messages with the bot",
    CONTEXT_PRIVATE_CHANNEL: "direct or group messages between members",
}
DM = 1  # channel type
MENTION_EVERYONE = 1 << 17
# What Discord reports as app_permissions where the app acts only through a member's own install (docs: user-installed
# apps may attach files, embed links and mention everyone in their responses; external emoji in direct messages).
USER_INSTALL_PERMISSIONS = ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE


@dataclass
class PrivateChannel(Channel):
    """A direct-message channel (type 1) between its recipients."""

    recipients: list[User] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": DM,
            "recipients": [user.payload() for user in self.recipients],
            "last_message_id": str(next(reversed(self.messages))) if self.messages else None,
            "flags": 0,
        }


@dataclass(frozen=True)
class InteractionScope:
    """Where an interaction happens: its server (None in direct messages), context, authorising owners, and the
    payload fields that say so (guild or not, member or user, app_permissions)."""

    guild: Guild | None
    context: int
    owners: dict[str, str]
    fields: dict[str, Any]


def check_install_fields(command: dict[str, Any]) -> None:
    """A synced command's `integration_types` and `contexts`: lists of known values, without repeats (400/50035)."""
    for key, allowed in (("integration_types", INSTALL_NAMES), ("contexts", CONTEXT_NAMES)):
        values = command.get(key)
        if values is None:
            continue
        if (
            not isinstance(values, list)
            or not values
            or len(set(values)) != len(values)
            or any(value not in allowed for value in values)
        ):
            errors = {key: {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": f"Value must be one of {allowed}."}]}}
            raise ApiError(400, 50035, "Invalid Form Body", errors)


class UserInstalls(EmulatorCore):
    """Members' own installs, servers without the bot, direct messages, and each interaction's scope."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.user_installs: set[int] = set()
        self.private_channels: dict[int, PrivateChannel] = {}
        self.message_scopes: dict[int, tuple[int, dict[str, str]]] = {}  # app message id -> (context, owners)

    # --------------------------------------------------------------------------------------------- world building
    def install_for_user(self, user: User) -> None:
        self.user_installs.add(user.id)

    def create_guild_without_bot(self, name: str, owner: User) -> Guild:
        guild = self.create_guild(name, owner)
        bot_member = guild.members.pop(self.bot_user.id)
        for role_id in bot_member.roles:
            guild.roles.pop(role_id, None)
        return guild

    def direct_messages(self, user: User, other: User | None = None) -> PrivateChannel:
        """The direct messages of `user` with the bot (`other` None) or with `other`, made on first use."""
        pair = {user.id, (other or self.bot_user).id}
        for channel in self.private_channels.values():
            if {recipient.id for recipient in channel.recipients} == pair:
                return channel
        recipients = [user, other or self.bot_user]
        channel = PrivateChannel(snowflake(), 0, f"@{user.username}", type=DM, recipients=recipients)
        self.private_channels[channel.id] = channel
        return channel

    def channel_of_message(self, message_id: int) -> Channel:
        for channel in self.private_channels.values():
            if message_id in channel.messages:
                return channel
        return self.find_message(message_id)[1]

    # ------------------------------------------------------------------------------------------------ scopes
    def interaction_scope(
        self, user: User, channel: Channel, data: dict[str, Any], message: Message | None
    ) -> InteractionScope:
        """The scope of `user`'s interaction in `channel`: for a command (or its autocomplete) from the synced command
        `data["id"]`, for a component from the interaction its message answered."""
        guild = None if isinstance(channel, PrivateChannel) else self.guilds[channel.guild_id]
        if guild is not None and user.id not in guild.members:
            raise ValueError(f"{user} is not a member of {guild.name}")
        if message is not None:
            context, owners = self.message_scopes.get(message.id, (CONTEXT_GUILD, {"0": str(channel.guild_id)}))
        else:
            context, owners = self._command_scope_of(user, channel, guild, data)
        return InteractionScope(guild, context, owners, self._place_fields(user, channel, guild, context))

    def _command_scope_of(
        self, user: User, channel: Channel, guild: Guild | None, data: dict[str, Any]
    ) -> tuple[int, dict[str, str]]:
        command = self._synced_command(str(data.get("id")), guild)
        if isinstance(channel, PrivateChannel):
            with_bot = any(recipient.id == self.bot_user.id for recipient in channel.recipients)
            context = CONTEXT_BOT_DM if with_bot else CONTEXT_PRIVATE_CHANNEL
        else:
            context = CONTEXT_GUILD
        if command is None or command.get("guild_id"):  # a server's own command: that server, its install
            return context, {"0": str(channel.guild_id)}
        installs = command.get("integration_types") or [GUILD_INSTALL]
        contexts = command.get("contexts") or list(CONTEXT_NAMES)
        if context not in contexts:
            raise ActionError(f"/{command['name']} cannot be used in {CONTEXT_NAMES[context]}")
        owners: dict[str, str] = {}
        if GUILD_INSTALL in installs:
            if context == CONTEXT_GUILD and guild is not None and self.bot_user.id in guild.members:
                owners["0"] = str(guild.id)
            elif context == CONTEXT_BOT_DM:
                owners["0"] = "0"
        if USER_INSTALL in installs and user.id in self.user_installs:
            owners["1"] = str(user.id)
        if not owners:
            where = "the server" if context == CONTEXT_GUILD else "their account"
            raise ActionError(f"{user} cannot use /{command['name']} here: the app is not installed in {where}")
        return context, owners

    def _synced_command(self, command_id: str, guild: Guild | None) -> dict[str, Any] | None:
        for command in self.commands_for(guild.id if guild else None):
            if command["id"] == command_id:
                return command
        return None

    def _place_fields(self, user: User, channel: Channel, guild: Guild | None, context: int) -> dict[str, Any]:
        if guild is None:
            extra = USE_EXTERNAL_EMOJIS if context == CONTEXT_BOT_DM else 0
            return {
                "channel_id": str(channel.id),
                "channel": channel.payload(),
                "user": user.payload(),
                "app_permissions": str(USER_INSTALL_PERMISSIONS | extra),
            }
        if self.bot_user.id in guild.members:
            app_permissions = guild.permissions_in(channel, self.bot_user.id)
        else:  # only the member's own install acts here: @everyone's permissions in the channel, and the above
            app_permissions = guild.permissions_in(channel, guild.id) | USER_INSTALL_PERMISSIONS
        return {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "member": guild.members[user.id].payload(permissions=guild.permissions_in(channel, user.id)),
            "app_permissions": str(app_permissions),
        }

    def remember_scope(self, message: Message, context: int, owners: dict[str, str]) -> None:
        """A message the app posted in answer to an interaction: its components' interactions share that scope."""
        self.message_scopes[message.id] = (context, owners)
