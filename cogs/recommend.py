"""Recommendations: /recommend (for the member, or for:server) with a "More" button, and /similar.

The recommender is the bot's (`bot.recommender`, kept up to date vote by vote through `bot.votes_changed`); paging
and wording are in bot/recommend/picks.py. Every list is votable: each keycap upvotes the show at that position.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.core import ShowBot
from bot.app.ui import (
    ANSWERS_PUBLICLY,
    Facet,
    OwnerOnlyView,
    defer_first,
    facet_autocomplete,
    make_votable,
    reactions_readable,
    send_private,
    send_response,
    server_of,
    title_autocomplete,
    user_installable,
    vote_space,
)
from bot.common.errors import UserFacingError
from bot.common.i18n import N_, _
from bot.common.render import plain_line
from bot.recommend import (
    GuildState,
    PickPage,
    PickRequest,
    known_name,
    list_items,
    next_picks,
    no_picks_message,
    picks_embed,
    picks_heading,
    similar_embed,
)
from bot.votes import PERSONAL_GUILD_ID, list_emoji_map

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 600.0  # seconds the "More" button stays
LOAD_WAIT = 10.0  # seconds to wait for a server's votes to load (the command was deferred: Discord waits 15 min)
SIMILAR_COUNT = 5
NO_SERVER_HERE = N_("Picks for the whole server need the bot in the server; here I can pick for you (for:me).")
STILL_LOADING = N_("I am still reading this server's votes; try again in a few seconds.")


class MorePicks(OwnerOnlyView):
    """The "More" button under a page of picks: only the member who asked may press it; it posts the next five."""

    refusal = N_("Only the member who asked can get more of these picks; run /recommend for your own.")

    def __init__(self, cog: Recommend, request: PickRequest, heading: str, shown: list[int]) -> None:
        super().__init__(request.user_id, timeout=VIEW_TIMEOUT)
        self.cog = cog
        self.request = request
        self.heading = heading
        self.shown = shown
        self.more.label = _("More")

    @discord.ui.button(label="More", emoji="➡️", style=discord.ButtonStyle.primary)
    async def more(self, interaction: discord.Interaction[Any], button: discord.ui.Button[MorePicks]) -> None:
        self.stop()
        # A new message, so that each page keeps its own picks under its own keycaps; storage is read first.
        await defer_first(interaction, private=False)
        page = await next_picks(self.cog.bot.recommender, self.request, self.shown)
        if page.items:
            await self.cog.post_picks(interaction, self.request, self.heading, page, self.shown + page.show_ids)
        else:
            await send_private(interaction, _("That is all I have for now: vote on these to get new picks."))
        await self.remove_from_message()  # the button has moved to the new page (or there is no more)


class Recommend(commands.Cog):
    """What to watch next, from this server's votes and the catalog."""

    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot

    async def server_state(self, guild_id: int) -> GuildState:
        """The server's recommender state; reading a big server's votes for the first time may take a while, and
        an interaction cannot wait: the read goes on in the background and the member is asked to retry."""
        loading = asyncio.ensure_future(self.bot.recommender.guild(guild_id))
        try:
            return await asyncio.wait_for(asyncio.shield(loading), LOAD_WAIT)
        except TimeoutError:
            loading.add_done_callback(_log_failure)
            raise UserFacingError(_(STILL_LOADING)) from None

    async def post_picks(
        self,
        interaction: discord.Interaction[ShowBot],
        request: PickRequest,
        heading: str,
        page: PickPage,
        shown: list[int],
    ) -> None:
        """Post a page of picks in the channel as the answer to `interaction` and make it votable."""
        items = await list_items(self.bot.db, page.items)
        votable = reactions_readable(interaction)
        embed = picks_embed(heading, items, page, scope=request.scope, votable=votable)
        view = MorePicks(self, request, heading, shown) if page.has_more else None
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        await send_response(interaction, embed=embed, **extra)
        message = await interaction.original_response()
        if view is not None:
            view.message = message
        if votable:
            await make_votable(self.bot, message, "recommend", list_emoji_map(page.show_ids))

    # Commands ----------------------------------------------------------------------------------------------------

    @app_commands.command(
        name="recommend",
        description="Up to 5 shows you (or this server) may like next, and why",
        extras=ANSWERS_PUBLICLY,
    )
    @app_commands.describe(
        genre="Only shows of this genre",
        service="Only shows on this streaming service",
        audience="Picks for you (default) or for the whole server",
    )
    @app_commands.rename(audience="for")
    @facet_autocomplete
    @user_installable
    async def recommend(
        self,
        interaction: discord.Interaction[ShowBot],
        genre: Facet | None = None,
        service: Facet | None = None,
        audience: Literal["me", "server"] = "me",
    ) -> None:
        space = vote_space(interaction)
        if space == PERSONAL_GUILD_ID and audience == "server":
            raise UserFacingError(_(NO_SERVER_HERE))
        request = PickRequest(
            space,
            interaction.user.id,
            audience,
            known_name(self.bot.facets.genres, genre, "genre"),
            known_name(self.bot.facets.services, service, "service"),
        )
        await self.server_state(space)
        page = await next_picks(self.bot.recommender, request)
        if not page.items:
            raise UserFacingError(no_picks_message(request))
        heading = picks_heading(request, interaction.user.display_name)
        await self.post_picks(interaction, request, heading, page, page.show_ids)

    @app_commands.command(name="similar", description="Shows like this one, and why", extras=ANSWERS_PUBLICLY)
    @app_commands.describe(title="Start typing, then pick the show from the list")
    @app_commands.autocomplete(title=title_autocomplete)
    @user_installable
    async def similar(self, interaction: discord.Interaction[ShowBot], title: str) -> None:
        space = vote_space(interaction)
        show_id, show_title = await self.bot.titles.resolve(server_of(interaction), title)
        await self.server_state(space)
        picks = await self.bot.recommender.similar(show_id, guild_id=space, limit=SIMILAR_COUNT)
        if not picks:
            raise UserFacingError(
                _("I know too little about **{title}** to find shows like it.", title=plain_line(show_title, 150))
            )
        items = await list_items(self.bot.db, picks)
        votable = reactions_readable(interaction)
        await send_response(interaction, embed=similar_embed(show_title, items, votable=votable))
        if votable:
            message = await interaction.original_response()
            await make_votable(self.bot, message, "similar", list_emoji_map([p.show_id for p in picks]))


def _log_failure(task: asyncio.Future[GuildState]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Reading a server's votes for recommendations failed", exc_info=task.exception())


async def setup(bot: ShowBot) -> None:
    await bot.add_cog(Recommend(bot))
