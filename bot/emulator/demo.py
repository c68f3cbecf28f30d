"""The demo server the console and the end-to-end tests use: "Showbot Demo" with a few channels and members."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.emulator.permissions import (
    ADD_REACTIONS,
    EMBED_LINKS,
    MANAGE_GUILD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    USE_APPLICATION_COMMANDS,
    VIEW_CHANNEL,
)
from bot.emulator.server import DiscordEmulator
from bot.emulator.state import GUILD_ANNOUNCEMENT, Channel, Guild, Role, User

# What the README asks server owners to grant the bot.
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ADD_REACTIONS | READ_MESSAGE_HISTORY
DEMO_MEMBERS = ("alice", "bob", "carol")


@dataclass
class DemoServer:
    guild: Guild
    members: dict[str, User]  # alice, bob, carol and owner (the guild owner, with Manage Server)
    channels: dict[str, Channel]  # general, watch-party, announcements
    admin_role: Role
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def general(self) -> Channel:
        return self.channels["general"]


def build_demo_server(
    emulator: DiscordEmulator, name: str = "Showbot Demo", *, guild_id: int | None = None
) -> DemoServer:
    """The demo server. With `guild_id`, every member, role and channel ID is derived from it, so state the bot keeps
    about them (votes, weekly-post channels) is still theirs on the next run (the console's DATABASE_PATH)."""
    ids = iter(range(guild_id + 1, guild_id + 100)) if guild_id else None

    def next_id() -> int | None:
        return next(ids) if ids is not None else None

    owner = emulator.create_user("owner", user_id=next_id())
    permissions = BOT_PERMISSIONS | USE_APPLICATION_COMMANDS
    guild = emulator.create_guild(name, owner, bot_permissions=permissions, guild_id=guild_id)
    admin_role = emulator.create_role(guild, "Admin", MANAGE_GUILD, role_id=next_id())
    guild.members[owner.id].roles.append(admin_role.id)
    members = {"owner": owner}
    for username in DEMO_MEMBERS:
        members[username] = user = emulator.create_user(username, user_id=next_id())
        emulator.add_member(guild, user)
    channels = {
        "general": emulator.create_channel(guild, "general", topic="Chat about anything", channel_id=next_id()),
        "watch-party": emulator.create_channel(
            guild, "watch-party", topic="What are we watching this week?", channel_id=next_id()
        ),
        "announcements": emulator.create_channel(guild, "announcements", type=GUILD_ANNOUNCEMENT, channel_id=next_id()),
    }
    return DemoServer(guild, members, channels, admin_role)
