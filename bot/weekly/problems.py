"""Why the weekly post cannot go out, in words an admin can act on (in the current language): the channel
permissions the bot lacks, in Discord's own names, a channel gone or hidden, Discord unreachable. Read by the cog
(/weekly set, the post) and by /weekly status."""

from __future__ import annotations

import discord

from bot.common.errors import permission_label
from bot.common.i18n import _, join_words

# What /weekly set asks for, in Discord's own words. The first three are needed to post at all; without the last two
# the post goes out but the bot cannot add the keycaps (members still can) nor look for an interrupted post.
CHANNEL_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "add_reactions", "read_message_history")
POSTING_PERMISSIONS = frozenset({"view_channel", "send_messages", "embed_links"})
REACTING_PERMISSIONS = frozenset({"add_reactions", "read_message_history"})  # Discord wants both to add a reaction


def missing_permissions(permissions: discord.Permissions, wanted: frozenset[str] | None = None) -> list[str]:
    """Discord's names of the channel permissions the bot lacks (all five by default, or those in `wanted`).

    Only the ones to grant: without View Channel Discord denies everything else, and without Send Messages it denies
    Embed Links, so those consequences are not named as if they were separate problems.
    """
    if not permissions.view_channel:
        return [permission_label("view_channel")]
    implied_off = {"embed_links"} if not permissions.send_messages else set()
    return [
        permission_label(attribute)
        for attribute in CHANNEL_PERMISSIONS
        if (wanted is None or attribute in wanted)
        and attribute not in implied_off
        and not getattr(permissions, attribute)
    ]


def missing_sentence(names: list[str], where: str) -> str:
    return _("I am missing {permissions} in {channel}.", permissions=join_words(names), channel=where)


def mention(channel_id: int) -> str:
    return f"<#{channel_id}>"


def gone_message(channel_id: int) -> str:
    return _(
        "The channel {channel} no longer exists or I cannot see it: choose another with /weekly set.",
        channel=mention(channel_id),
    )


def channel_problem(guild: discord.Guild, channel_id: int) -> str | None:
    """Why the bot could not post in `channel_id` right now, from its cache (no request), or None."""
    channel = guild.get_channel_or_thread(channel_id)
    if channel is None:
        return gone_message(channel_id)
    if not isinstance(channel, discord.TextChannel):
        return _("{channel} is not a text channel: choose another with /weekly set.", channel=channel.mention)
    missing = missing_permissions(channel.permissions_for(guild.me))
    if missing:
        return missing_sentence(missing, channel.mention)
    return None


def unreachable(error: BaseException) -> str:
    return _("Could not reach Discord ({error}).", error=type(error).__name__)


def is_transient(error: discord.HTTPException) -> bool:
    return error.status == 429 or error.status >= 500
