"""Discord pieces every cog shares: owner-only views, first answers after a deferral, and votable messages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.app_commands import Choice

from bot.common.i18n import N_, _, set_locale
from bot.votes import PERSONAL_GUILD_ID

if TYPE_CHECKING:
    from bot.app.core import ShowBot

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 300.0  # seconds a member can use the buttons under an answer before they go away
# Longest genre or service option a member may type (Discord enforces it before the bot sees the text); the longest
# shipped genre or network name is far shorter.
FACET_MAX_CHARS = 60


class LocalisedView(discord.ui.View):
    """A view whose callbacks answer in the language of the member who pressed or picked (bot/common/i18n.py): every
    view with a callback derives from it, or its interaction_check calls `set_locale(interaction.locale)` first."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        set_locale(interaction.locale)
        return True


class OwnerOnlyView(LocalisedView):
    """Buttons only the member who ran the command may press; they are removed from the message when they expire."""

    refusal = N_("These buttons belong to someone else's command; run it yourself.")

    def __init__(self, owner_id: int, *, timeout: float | None = None) -> None:
        super().__init__(timeout=VIEW_TIMEOUT if timeout is None else timeout)  # read at call time: tests shorten it
        self.owner_id = owner_id
        self.message: discord.Message | None = None  # set once the message carrying the view exists

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        await super().interaction_check(interaction)
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(_(self.refusal), ephemeral=True)
        return False

    async def on_timeout(self) -> None:
        await self.remove_from_message()

    async def remove_from_message(self) -> None:
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except discord.HTTPException:
            log.debug("Could not remove expired buttons from message %s", self.message.id)


# How a command answers, declared on it (`extras=ANSWERS_PUBLICLY` or `ANSWERS_PRIVATELY`). ShowTree defers every
# command by its declaration before the command runs: Discord wants an answer within 3 s, and storage (another
# process may hold SQLite's lock), the vote queue or the network can take longer.
ANSWER = "answer"
ANSWERS_PUBLICLY: dict[Any, Any] = {ANSWER: "public"}
ANSWERS_PRIVATELY: dict[Any, Any] = {ANSWER: "private"}
_PUBLIC_THINKING = "showbot:public-thinking"  # in interaction.extras: a public "thinking…" not yet answered


async def defer_first(interaction: discord.Interaction[Any], *, private: bool) -> None:
    """Acknowledge the interaction now with "thinking…" (private: only the member sees it); the answer follows with
    `send_response`, or privately with `send_private`. Nothing happens if it was already acknowledged."""
    if interaction.response.is_done():
        return
    await interaction.response.defer(ephemeral=private, thinking=True)
    if not private:
        interaction.extras[_PUBLIC_THINKING] = True


async def defer_update(interaction: discord.Interaction[Any]) -> None:
    """A button or menu that will edit its own message after waiting on storage: acknowledge it now."""
    if not interaction.response.is_done():
        await interaction.response.defer()


async def send_response(
    interaction: discord.Interaction[Any], content: str | None = None, *, ephemeral: bool = False, **kwargs: Any
) -> None:
    """The first answer to an interaction, whether or not it was deferred. After a deferral the answer replaces the
    "thinking…" message and keeps its visibility (Discord decides that at the deferral)."""
    if interaction.response.is_done():
        interaction.extras.pop(_PUBLIC_THINKING, None)
        await interaction.edit_original_response(content=content, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=ephemeral, **kwargs)


async def send_private(interaction: discord.Interaction[Any], content: str) -> None:
    """Answer only the member, whether or not the interaction was acknowledged. A public "thinking…" would become
    this answer for everyone to see: it is deleted first, and the answer follows as a private message."""
    if not interaction.response.is_done():
        await interaction.response.send_message(content, ephemeral=True)
        return
    if interaction.extras.pop(_PUBLIC_THINKING, False):
        await interaction.delete_original_response()
    await interaction.followup.send(content, ephemeral=True)


async def make_votable(
    bot: ShowBot, message: discord.Message, kind: str, emoji_map: Mapping[str, tuple[int, int]]
) -> bool:
    """Make a message the bot posted votable: remember its emoji map, then add the emoji when the bot may.

    Tracking comes first so that a member who reacts at once is already counted. Returns whether every reaction was
    added (False without Add Reactions / Read Message History: members can still add the emoji themselves).
    """
    if message.guild is None:
        return False
    await bot.votes.track_message(message.id, message.guild.id, message.channel.id, kind, emoji_map)
    return await add_vote_reactions(message, emoji_map)


async def add_vote_reactions(message: discord.Message, emoji_map: Mapping[str, tuple[int, int]]) -> bool:
    """Add the emoji of a tracked message, in order, when the bot may (see make_votable). Each waits for the
    channel's reaction bucket (one per 0.25 s on Discord): ten of them take 2.5 s."""
    if not _may_add_reactions(message):
        log.info(
            "No permission to add reactions in channel %s; message %s stays votable", message.channel.id, message.id
        )
        return False
    try:
        for emoji in emoji_map:
            await message.add_reaction(emoji)
    except discord.Forbidden:
        log.info("Adding reactions to message %s was refused", message.id)
        return False
    except discord.HTTPException:
        log.warning("Could not add the vote reactions to message %s", message.id, exc_info=True)
        return False
    return True


def _may_add_reactions(message: discord.Message) -> bool:
    guild = message.guild
    channel = message.channel
    if guild is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return True  # unknown here: try, and take a refusal quietly
    permissions = channel.permissions_for(guild.me)
    return permissions.add_reactions and permissions.read_message_history


# Where the bot cannot read reactions: user installs.


def reactions_readable(interaction: discord.Interaction[Any]) -> bool:
    """Whether the bot is in the server the interaction comes from (installed there, so it receives that server's
    reactions). A command a member installed on their own account and used in a direct message, or in a server that
    has not invited the bot, is not: its cards carry vote buttons instead, and those votes are the member's own."""
    return interaction.guild_id is not None and interaction.is_guild_integration()


def vote_space(interaction: discord.Interaction[Any]) -> int:
    """Where the member's votes of this interaction are kept: the server's id where the bot is in the server, else
    the member's own votes (`PERSONAL_GUILD_ID`)."""
    if reactions_readable(interaction):
        assert interaction.guild_id is not None
        return interaction.guild_id
    return PERSONAL_GUILD_ID


def server_of(interaction: discord.Interaction[Any]) -> int | None:
    """The server whose votes boost titles and fill tallies: the interaction's, where the bot is in it; else None."""
    return interaction.guild_id if reactions_readable(interaction) else None


_T = TypeVar("_T")


def user_installable(command: _T) -> _T:
    """A read-only command a member may also install on their own account and use anywhere: in servers (with the bot
    or without it), direct messages with the bot and other direct or group messages."""
    command = app_commands.allowed_installs(guilds=True, users=True)(command)
    return app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(command)


# Autocomplete callbacks shared by every command with a title, genre or service option.


async def title_autocomplete(interaction: discord.Interaction[ShowBot], current: str) -> list[Choice[str]]:
    choices = await interaction.client.titles.choices(server_of(interaction), current)
    return [Choice(name=name, value=value) for name, value in choices]


async def genre_autocomplete(interaction: discord.Interaction[ShowBot], current: str) -> list[Choice[str]]:
    return [Choice(name=name, value=name) for name in interaction.client.facets.genres_matching(current)]


async def service_autocomplete(interaction: discord.Interaction[ShowBot], current: str) -> list[Choice[str]]:
    return [Choice(name=name, value=name) for name in interaction.client.facets.services_matching(current)]


# The genre and service options of /search, /recommend and /top: one type, one pair of autocompletes.
Facet = app_commands.Range[str, 1, FACET_MAX_CHARS]
facet_autocomplete = app_commands.autocomplete(genre=genre_autocomplete, service=service_autocomplete)
