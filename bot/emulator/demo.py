"""The demo server the console and the end-to-end tests use: "Showbot Demo" with a few channels and members."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.emulator.server import DiscordEmulator
from bot.emulator.state import (
    ADD_REACTIONS,
    EMBED_LINKS,
    GUILD_ANNOUNCEMENT,
    MANAGE_GUILD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    USE_APPLICATION_COMMANDS,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Role,
    User,
)

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


def build_demo_server(emulator: DiscordEmulator, name: str = "Showbot Demo") -> DemoServer:
    owner = emulator.create_user("owner")
    guild = emulator.create_guild(name, owner, bot_permissions=BOT_PERMISSIONS | USE_APPLICATION_COMMANDS)
    admin_role = emulator.create_role(guild, "Admin", MANAGE_GUILD)
    guild.members[owner.id].roles.append(admin_role.id)
    members = {"owner": owner}
    for username in DEMO_MEMBERS:
        members[username] = user = emulator.create_user(username)
        emulator.add_member(guild, user)
    channels = {
        "general": emulator.create_channel(guild, "general", topic="Chat about anything"),
        "watch-party": emulator.create_channel(guild, "watch-party", topic="What are we watching this week?"),
        "announcements": emulator.create_channel(guild, "announcements", type=GUILD_ANNOUNCEMENT),
    }
    return DemoServer(guild, members, channels, admin_role)
