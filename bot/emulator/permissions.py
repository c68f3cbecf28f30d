"""Discord's permission bits and their names as Discord's apps show them
(https://discord.com/developers/docs/topics/permissions)."""

from __future__ import annotations

# bit -> Discord's name for it, for messages (never a number); filled as each bit is defined below.
PERMISSION_NAMES: dict[int, str] = {}


def _permission(bit: int, name: str) -> int:
    PERMISSION_NAMES[1 << bit] = name
    return 1 << bit


CREATE_INSTANT_INVITE = _permission(0, "Create Invite")
ADMINISTRATOR = _permission(3, "Administrator")
MANAGE_CHANNELS = _permission(4, "Manage Channels")
MANAGE_GUILD = _permission(5, "Manage Server")
ADD_REACTIONS = _permission(6, "Add Reactions")
VIEW_CHANNEL = _permission(10, "View Channel")
SEND_MESSAGES = _permission(11, "Send Messages")
MANAGE_MESSAGES = _permission(13, "Manage Messages")
EMBED_LINKS = _permission(14, "Embed Links")
ATTACH_FILES = _permission(15, "Attach Files")
READ_MESSAGE_HISTORY = _permission(16, "Read Message History")
USE_EXTERNAL_EMOJIS = _permission(18, "Use External Emoji")
USE_APPLICATION_COMMANDS = _permission(31, "Use Application Commands")
ALL_PERMISSIONS = (1 << 53) - 1


def permission_names(bits: int) -> list[str]:
    """The names of the permissions set in `bits`, lowest bit first (`permission bit N` for one not named above)."""
    return [
        PERMISSION_NAMES.get(1 << bit, f"permission bit {bit}") for bit in range(bits.bit_length()) if bits >> bit & 1
    ]
