"""Show commands: /show, /cast, /trailer and /search, every title option autocompleting."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.core import ShowBot
from bot.app.own_votes import own_vote_buttons
from bot.app.ui import (
    ANSWERS_PRIVATELY,
    ANSWERS_PUBLICLY,
    Facet,
    OwnerOnlyView,
    defer_first,
    facet_autocomplete,
    make_votable,
    reactions_readable,
    send_response,
    server_of,
    title_autocomplete,
    user_installable,
)
from bot.catalog import (
    STATUSES,
    Filters,
    ShowSummary,
    find_shows,
    localise_show,
    lookup_and_add,
    show_id_of_choice,
    show_json,
)
from bot.common.errors import UserFacingError
from bot.common.i18n import N_, _, ngettext, pgettext, set_locale
from bot.common.render import (
    ListItem,
    cast_pages,
    plain_line,
    quoted,
    show_card,
    show_list,
    trailer_link,
    trailer_message,
)
from bot.votes import show_emoji_map

log = logging.getLogger(__name__)

PAGE_SIZE = 10


class OwnerPages(OwnerOnlyView):
    """Previous/Next paging that only the member who asked may use."""

    refusal = N_("Only the member who asked can turn these pages; run the command yourself.")

    def __init__(self, owner_id: int, page_count: int) -> None:
        super().__init__(owner_id)
        self.page_count = page_count
        self.page = 0
        self.previous_page.label = _("Previous")
        self.next_page.label = _("Next")
        self.sync_buttons()

    def sync_buttons(self) -> None:
        self.previous_page.disabled = self.page <= 0
        self.next_page.disabled = self.page >= self.page_count - 1

    async def show_page(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary, row=1)
    async def previous_page(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        self.page = max(0, self.page - 1)
        self.sync_buttons()
        await self.show_page(interaction)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary, row=1)
    async def next_page(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        self.page = min(self.page_count - 1, self.page + 1)
        self.sync_buttons()
        await self.show_page(interaction)


class CastView(OwnerPages):
    def __init__(self, owner_id: int, pages: list[discord.Embed], first: int) -> None:
        super().__init__(owner_id, len(pages))
        self.pages = pages
        self.page = first
        self.sync_buttons()

    async def show_page(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.edit_message(embed=self.pages[self.page], view=self)


class ShowPicker(discord.ui.Select["SearchView"]):
    """The select menu under search results: picking a show posts its card in the channel."""

    CUSTOM_ID = "search:open"

    def __init__(self, cog: Shows) -> None:
        super().__init__(placeholder=_("Open a show's card"), custom_id=self.CUSTOM_ID, row=0)
        self.cog = cog

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await defer_first(interaction, private=False)  # a new public message, after reading the catalog
        await self.cog.send_card(interaction, int(self.values[0]))


class SearchView(OwnerPages):
    def __init__(self, cog: Shows, owner_id: int, heading: str, results: list[ShowSummary]) -> None:
        super().__init__(owner_id, max(1, -(-len(results) // PAGE_SIZE)))
        self.cog = cog
        self.heading = heading
        self.results = results
        self.picker = ShowPicker(cog)
        self.add_item(self.picker)
        self.fill_picker()

    def page_results(self) -> list[ShowSummary]:
        return self.results[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]

    def fill_picker(self) -> None:
        self.picker.options = [
            discord.SelectOption(
                label=plain_line(f"{show.title} ({show.year})" if show.year else show.title, 100) or str(show.show_id),
                value=str(show.show_id),
            )
            for show in self.page_results()
        ]

    def embed(self) -> discord.Embed:
        items = [
            ListItem(title=show.title, year=show.year, service=show.network, synopsis=show.synopsis)
            for show in self.page_results()
        ]
        footer = " · ".join(
            [
                _("Page {page}/{pages}", page=self.page + 1, pages=self.page_count),
                ngettext("{n} show", "{n} shows", len(self.results)),
                _("pick one below to open it"),
            ]
        )
        return show_list(self.heading, items, numbered=False, footer=footer)

    async def show_page(self, interaction: discord.Interaction[Any]) -> None:
        self.fill_picker()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        # Anyone who can see the results may open a card (in their own language); only the asker turns the pages.
        set_locale(interaction.locale)
        if interaction.data is not None and interaction.data.get("custom_id") == ShowPicker.CUSTOM_ID:
            return True
        return await super().interaction_check(interaction)


class Shows(commands.Cog):
    """Everything about a show, answered from the local catalog."""

    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot

    # Shared pieces -----------------------------------------------------------------------------------------------

    async def resolve(self, interaction: discord.Interaction[ShowBot], title: str) -> int:
        """The show a title option means; a title the catalog lacks is looked up on the configured source.

        The lookup can take seconds: the interaction was deferred first (publicly: the card it usually ends in is
        for everyone to vote on); an unknown title is still answered privately (`send_private` removes the public
        "thinking…").
        """
        try:
            show_id, _ = await self.bot.titles.resolve(server_of(interaction), title)
        except UserFacingError:
            if self.bot.settings.catalog_sync is None or not title.strip() or show_id_of_choice(title) is not None:
                raise  # nothing to look up (a choice's show was removed since it was offered)
            await defer_first(interaction, private=False)
            found = await lookup_and_add(self.bot.settings, self.bot.db, title)
            if found is None:
                raise
            await self.bot.catalog_changed([found])  # the title index and the recommender learn of it
            return found
        return show_id

    async def load_show(self, interaction: discord.Interaction[ShowBot], title: str) -> dict[str, Any]:
        show_id = await self.resolve(interaction, title)
        show = await show_json(self.bot.db, show_id)
        if show is None:  # removed between the search and now
            raise UserFacingError(_("That show is no longer in the catalog."))
        return show

    async def send_card(self, interaction: discord.Interaction[ShowBot], show_id: int) -> None:
        """Post a show's card in the channel, with its trailer button and 👍/👎 to vote: reactions where the bot is in
        the server (with the server's tally), else buttons whose votes are the member's own (a user install)."""
        show = await show_json(self.bot.db, show_id)
        if show is None:
            raise UserFacingError(_("That show is no longer in the catalog."))
        label, url, _is_search = trailer_link(show)  # by the catalog's title, which trailers are found by
        show, english_note = await localise_show(self.bot.db, show, str(interaction.locale))
        view = discord.ui.View(timeout=None)  # no callbacks of its own: the vote buttons are persistent
        view.add_item(discord.ui.Button(label=label, url=url, emoji="🎬"))
        if not reactions_readable(interaction):
            for button in own_vote_buttons(show_id):
                view.add_item(button)
            await send_response(interaction, embed=show_card(show, votes=None, english_note=english_note), view=view)
            return
        assert interaction.guild_id is not None
        tally = await self.bot.votes.tally(interaction.guild_id, show_id)
        await send_response(interaction, embed=show_card(show, votes=tally, english_note=english_note), view=view)
        message = await interaction.original_response()
        await make_votable(self.bot, message, "show", show_emoji_map(show_id))

    # Commands ----------------------------------------------------------------------------------------------------

    @app_commands.command(
        name="show",
        description="A show's synopsis, cast, premiere, service, trailer and votes",
        extras=ANSWERS_PUBLICLY,
    )
    @app_commands.describe(title="Start typing, then pick the show from the list")
    @app_commands.autocomplete(title=title_autocomplete)
    @user_installable
    async def show(self, interaction: discord.Interaction[ShowBot], title: str) -> None:
        await self.send_card(interaction, await self.resolve(interaction, title))

    @app_commands.command(
        name="cast", description="The full cast of a show, with characters, and its creators", extras=ANSWERS_PUBLICLY
    )
    @app_commands.describe(title="Start typing, then pick the show from the list", page="Page to open first")
    @app_commands.autocomplete(title=title_autocomplete)
    @user_installable
    async def cast(
        self, interaction: discord.Interaction[ShowBot], title: str, page: app_commands.Range[int, 1, 100] = 1
    ) -> None:
        show = await self.load_show(interaction, title)
        pages = cast_pages(show)
        first = min(page, len(pages)) - 1
        if len(pages) == 1:
            await send_response(interaction, embed=pages[0])
            return
        view = CastView(interaction.user.id, pages, first)
        await send_response(interaction, embed=pages[first], view=view)
        view.message = await interaction.original_response()

    @app_commands.command(
        name="trailer", description="A show's trailer, played right in the channel", extras=ANSWERS_PUBLICLY
    )
    @app_commands.describe(title="Start typing, then pick the show from the list")
    @app_commands.autocomplete(title=title_autocomplete)
    @user_installable
    async def trailer(self, interaction: discord.Interaction[ShowBot], title: str) -> None:
        show = await self.load_show(interaction, title)
        await send_response(interaction, trailer_message(show))

    @app_commands.command(
        name="search", description="Find shows by title, genre, service, year or status", extras=ANSWERS_PRIVATELY
    )
    @app_commands.describe(
        query="Words of the title (typos are fine)",
        genre="Only shows of this genre",
        service="Only shows on this network or streaming service",
        year="Only shows that premiered in this year",
        status="Only running or ended shows",
    )
    @app_commands.choices(status=[app_commands.Choice(name=s.capitalize(), value=s) for s in STATUSES])
    @facet_autocomplete
    @user_installable
    async def search(
        self,
        interaction: discord.Interaction[ShowBot],
        query: str | None = None,
        genre: Facet | None = None,
        service: Facet | None = None,
        year: app_commands.Range[int, 1900, 2100] | None = None,
        status: str | None = None,
    ) -> None:
        filters = Filters(genre=genre, service=service, year=year, status=status)
        server = server_of(interaction)
        boosts = await self.bot.titles.boosts(server)
        results = await find_shows(self.bot.db, self.bot.titles.index, query, filters, guild_id=server, boosts=boosts)
        described = " · ".join(part for part in (quoted(query, 60) if query else "", describe_filters(filters)) if part)
        if not results:
            if described:
                raise UserFacingError(_("No show matches {filters}.", filters=described))
            raise UserFacingError(_("No show matches that."))
        heading = _("Shows matching {filters}", filters=described) if described else _("Shows")
        view = SearchView(self, interaction.user.id, heading, results)
        await send_response(interaction, embed=view.embed(), view=view, ephemeral=True)
        view.message = await interaction.original_response()


def describe_filters(filters: Filters) -> str:
    """The filters in words, for the answer's heading: the genre and service as members typed them, so quoted."""
    parts = [
        _("genre {genre}", genre=quoted(filters.genre)) if filters.genre else "",
        _("on {service}", service=quoted(filters.service)) if filters.service else "",
        _("from {year}", year=filters.year) if filters.year else "",
        pgettext("status", filters.status) if filters.status else "",
    ]
    return ", ".join(part for part in parts if part)


async def setup(bot: ShowBot) -> None:
    await bot.add_cog(Shows(bot))
