"""Exceptions whose message is meant for the user who caused them."""

from __future__ import annotations


class UserFacingError(Exception):
    """Raised by command code to answer with this short message (ephemeral in Discord, one line on the CLI)."""


# Discord's own names for the permissions a member or the bot may lack, keyed by discord.py's attribute names: what
# members see in their server settings ("Manage Server"), never a bit number or discord.py's "manage_guild".
PERMISSION_LABELS = {
    "administrator": "Administrator",
    "manage_guild": "Manage Server",
    "manage_channels": "Manage Channels",
    "manage_messages": "Manage Messages",
    "manage_roles": "Manage Roles",
    "manage_webhooks": "Manage Webhooks",
    "view_channel": "View Channel",
    "read_messages": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "add_reactions": "Add Reactions",
    "read_message_history": "Read Message History",
    "use_application_commands": "Use Application Commands",
}


def permission_label(name: str) -> str:
    """'manage_guild' -> 'Manage Server'; one not listed reads as its words ('kick_members' -> 'Kick Members')."""
    return PERMISSION_LABELS.get(name) or name.replace("guild", "server").replace("_", " ").title()


def permission_sentence(names: list[str]) -> str:
    """'You need the Manage Server permission to use this command.' for the permissions a member lacks."""
    labels = list(dict.fromkeys(permission_label(name) for name in names)) or ["Manage Server"]
    joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    return f"You need the {joined} permission{'s' if len(labels) > 1 else ''} to use this command."
