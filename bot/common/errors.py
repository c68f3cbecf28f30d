"""Exceptions whose message is meant for the user who caused them."""

from __future__ import annotations

from bot.common.i18n import NP_, join_words, ngettext, pgettext


class UserFacingError(Exception):
    """Raised by command code to answer with this short message (ephemeral in Discord, one line on the CLI)."""


# Discord's own names for the permissions a member or the bot may lack, keyed by discord.py's attribute names: what
# members see in their server settings ("Manage Server"), never a bit number or discord.py's "manage_guild".
PERMISSION_LABELS = {
    "administrator": NP_("permission", "Administrator"),
    "manage_guild": NP_("permission", "Manage Server"),
    "manage_channels": NP_("permission", "Manage Channels"),
    "manage_messages": NP_("permission", "Manage Messages"),
    "manage_roles": NP_("permission", "Manage Roles"),
    "manage_webhooks": NP_("permission", "Manage Webhooks"),
    "view_channel": NP_("permission", "View Channel"),
    "read_messages": NP_("permission", "View Channel"),
    "send_messages": NP_("permission", "Send Messages"),
    "embed_links": NP_("permission", "Embed Links"),
    "add_reactions": NP_("permission", "Add Reactions"),
    "read_message_history": NP_("permission", "Read Message History"),
    "use_application_commands": NP_("permission", "Use Application Commands"),
}


def permission_label(name: str) -> str:
    """'manage_guild' -> 'Manage Server' (as Discord names it in the current language: 'Server verwalten'); one not
    listed reads as its words ('kick_members' -> 'Kick Members')."""
    label = PERMISSION_LABELS.get(name)
    if label is None:
        return name.replace("guild", "server").replace("_", " ").title()
    return pgettext("permission", label)


def permission_sentence(names: list[str]) -> str:
    """'You need the Manage Server permission to use this command.' for the permissions a member lacks."""
    labels = list(dict.fromkeys(permission_label(name) for name in names)) or [permission_label("manage_guild")]
    return ngettext(
        "You need the {permissions} permission to use this command.",
        "You need the {permissions} permissions to use this command.",
        len(labels),
        permissions=join_words(labels),
    )
