"""Votes: reactions on the bot's messages, /vote, /myvotes, /forgetme and /top.

The cog only translates between Discord and `bot.votes`. Reaction events are handed to the VoteProcessor before
the listener's first await, so they are applied in the gateway's order however discord.py schedules the listener tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.core import ShowBot
from bot.app.own_votes import OwnVoteButton
from bot.app.shards import shard_of
from bot.app.ui import (
    ANSWERS_PRIVATELY,
    ANSWERS_PUBLICLY,
    Facet,
    OwnerOnlyView,
    defer_update,
    facet_autocomplete,
    make_votable,
    send_response,
    title_autocomplete,
    user_installable,
    vote_space,
)
from bot.common.errors import UserFacingError
from bot.common.i18n import _, ngettext
from bot.common.render import plain_line
from bot.votes import (
    THUMBS_DOWN,
    THUMBS_UP,
    ChannelGone,
    CommandVote,
    ForgetMember,
    MessageGone,
    ReactionClear,
    ReactionEvent,
    Untrack,
    VoteProcessor,
    forget_message,
    list_emoji_map,
    no_votes_message,
    reconcile_tracked_messages,
    top_embed,
    top_shows,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 10
REACTION_PAGE = 100  # the reaction-users route's maximum page
UNKNOWN_MESSAGE, UNKNOWN_CHANNEL = 10008, 10003


class MyVotesView(OwnerOnlyView):
    def __init__(self, cog: Votes, owner_id: int, guild_id: int, total: int) -> None:
        super().__init__(owner_id)
        self.cog = cog
        self.guild_id = guild_id
        self.total = total
        self.page = 0
        self.previous.label = _("Previous")
        self.next.label = _("Next")
        self.update_buttons()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def update_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def render(self) -> str:
        self.total = await self.cog.store.member_vote_count(self.guild_id, self.owner_id)
        self.page = min(self.page, self.pages - 1)
        self.update_buttons()
        votes = await self.cog.store.member_votes(self.guild_id, self.owner_id, self.page * PAGE_SIZE, PAGE_SIZE)
        if not votes:
            return no_votes_message(self.guild_id)
        lines = [f"{THUMBS_UP if vote.value > 0 else THUMBS_DOWN} {plain_line(vote.title, 120)}" for vote in votes]
        heading = _(
            "**Your votes** ({count}) · page {page}/{pages}", count=self.total, page=self.page + 1, pages=self.pages
        )
        return heading + "\n" + "\n".join(lines)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction[Any], button: discord.ui.Button[MyVotesView]) -> None:
        self.page = max(0, self.page - 1)
        await self.show_page(interaction)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction[Any], button: discord.ui.Button[MyVotesView]) -> None:
        self.page += 1
        await self.show_page(interaction)

    async def show_page(self, interaction: discord.Interaction[Any]) -> None:
        await defer_update(interaction)  # the page is read from storage
        await interaction.edit_original_response(content=await self.render(), view=self)


class ForgetView(OwnerOnlyView):
    def __init__(self, cog: Votes, owner_id: int, guild_id: int) -> None:
        super().__init__(owner_id)
        self.cog = cog
        self.guild_id = guild_id
        self.confirm.label = _("Delete my votes")
        self.cancel.label = _("Cancel")

    @discord.ui.button(label="Delete my votes", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction[Any], button: discord.ui.Button[ForgetView]) -> None:
        self.stop()
        event = self.cog.processor.submit_and_wait(ForgetMember(self.guild_id, self.owner_id))
        await defer_update(interaction)  # the vote queue may be waiting for the database
        deleted = await event
        assert isinstance(deleted, int)  # ForgetMember's result: how many votes it deleted
        done = ngettext("Done: deleted {n} vote of yours.", "Done: deleted {n} votes of yours.", deleted)
        await interaction.edit_original_response(content=done, view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[Any], button: discord.ui.Button[ForgetView]) -> None:
        self.stop()
        await interaction.response.edit_message(content=_("Nothing deleted."), view=None)


class Votes(commands.Cog):
    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot
        # The bot's one vote store: every vote committed through it, whatever its path (reaction, /vote, /forgetme,
        # reconciliation), reaches what the bot derives from votes (the recommender), incrementally.
        self.store = bot.votes
        self.processor = VoteProcessor(self.store)
        self.fetch_delay = bot.settings.vote_reconcile_delay
        self.known_bots: set[int] = set()
        self.reconciliations: dict[int, asyncio.Task[None]] = {}  # by shard: each shard's servers, after its session
        self.reconciliation: asyncio.Task[None] | None = None  # the one started last

    async def cog_load(self) -> None:
        self.processor.start()
        self.bot.add_dynamic_items(OwnVoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(OwnVoteButton)
        for task in self.reconciliations.values():
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.processor.stop()

    # Reconciliation ---------------------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_shard_connect(self, shard_id: int) -> None:
        """A new session of one gateway shard (READY: its first connection, or an IDENTIFY after its session was
        invalidated or could not be resumed): that shard's servers' events of the gap are lost for good, so reconcile
        their messages as at start; other shards' servers are not affected (each shard has its own session). A RESUME
        replays the missed events and needs nothing. discord.py dispatches this while parsing READY, before any later
        event of the shard, so reactions after it reach the queue as live events of the reconciliation."""
        self.start_reconciliation(shard_id)

    def start_reconciliation(self, shard_id: int) -> None:
        previous = self.reconciliations.get(shard_id)
        if previous is not None and not previous.done():
            previous.cancel()  # the new one reads every message again, with the new session's events live
        # In the background: the session must not wait for hundreds of rate-limited requests.
        task = asyncio.create_task(self.reconcile_now(shard_id), name=f"votes-reconcile-shard-{shard_id}")
        self.reconciliations[shard_id] = self.reconciliation = task

    async def reconcile_now(self, shard_id: int) -> None:
        shard_count = self.bot.shard_count or 1

        def on_this_shard(guild_id: int) -> bool:
            return shard_of(guild_id, shard_count) == shard_id

        try:
            counts = await reconcile_tracked_messages(
                self.store,
                self.fetch_reactors,
                now=self.bot.clock.now(),
                processor=self.processor,
                in_guild=on_this_shard,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Vote reconciliation failed; votes stay as they were")
            return
        log.info(
            "Vote reconciliation%s fixed %d votes (%d added, %d removed, %d changed)",
            f" of shard {shard_id}" if shard_count > 1 else "",
            counts.total,
            counts.added,
            counts.removed,
            counts.changed,
        )

    async def fetch_reactors(self, channel_id: int, message_id: int, emoji: str) -> list[int]:
        """Members (not bots) reacting with `emoji`, page by page; discord.py waits out a 429 by itself."""
        members: list[int] = []
        after: int | None = None
        while True:
            if self.fetch_delay:
                await asyncio.sleep(self.fetch_delay)  # spread the calls under the route's rate limit
            try:
                page = await self.bot.http.get_reaction_users(channel_id, message_id, emoji, REACTION_PAGE, after=after)
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise ChannelGone(channel_id) from exc
                raise MessageGone(message_id) from exc
            for user in page:
                user_id = int(user["id"])
                if user.get("bot"):
                    self.known_bots.add(user_id)
                elif user_id != self._own_id():
                    members.append(user_id)
            if len(page) < REACTION_PAGE:
                return members
            after = int(page[-1]["id"])

    def _own_id(self) -> int | None:
        return self.bot.user.id if self.bot.user else None

    # Gateway events: queue first, before any await -----------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.member is not None and payload.member.bot:
            self.known_bots.add(payload.user_id)
        self._reaction(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self._reaction(payload, added=False)  # no member on removals: bots are known from their additions

    def _reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        if payload.guild_id is None or payload.user_id == self._own_id() or payload.user_id in self.known_bots:
            return
        event = ReactionEvent(added, payload.guild_id, payload.user_id, payload.message_id, str(payload.emoji))
        self.processor.submit(event)

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        if payload.guild_id is not None:
            self.processor.submit(ReactionClear(payload.guild_id, payload.message_id, None))

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        if payload.guild_id is not None:
            self.processor.submit(ReactionClear(payload.guild_id, payload.message_id, str(payload.emoji)))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            self.processor.submit(Untrack("message", (payload.message_id,)))

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            self.processor.submit(Untrack("message", tuple(payload.message_ids)))

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self.processor.submit(Untrack("channel", (channel.id,)))

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.processor.submit(Untrack("guild", (guild.id,)))

    # Commands ---------------------------------------------------------------------------------------------------

    @app_commands.command(
        name="vote", description="Vote for a show (or clear your vote) without reactions", extras=ANSWERS_PRIVATELY
    )
    @app_commands.describe(title="The show", choice="Up, down, or clear your vote")
    @app_commands.autocomplete(title=title_autocomplete)
    @app_commands.guild_only()
    async def vote(
        self, interaction: discord.Interaction[ShowBot], title: str, choice: Literal["up", "down", "clear"]
    ) -> None:
        assert interaction.guild_id is not None
        titles = self.bot.titles
        show_id, show_title = await titles.resolve(interaction.guild_id, title)
        value = {"up": 1, "down": -1, "clear": None}[choice]
        event = CommandVote(interaction.guild_id, interaction.user.id, show_id, value)
        await self.processor.submit_and_wait(event)
        name = f"**{plain_line(show_title, 150)}**"
        if value is None:
            message = _("Your vote for {title} is cleared.", title=name)
        else:
            message = _("Your vote for {title}: {vote}", title=name, vote=THUMBS_UP if value > 0 else THUMBS_DOWN)
        await send_response(interaction, message, ephemeral=True)

    @app_commands.command(
        name="myvotes",
        description="See your votes in this server, or your own votes elsewhere (only you can see them)",
        extras=ANSWERS_PRIVATELY,
    )
    @user_installable
    async def myvotes(self, interaction: discord.Interaction[ShowBot]) -> None:
        space = vote_space(interaction)
        total = await self.store.member_vote_count(space, interaction.user.id)
        view = MyVotesView(self, interaction.user.id, space, total)
        content = await view.render()
        if total <= PAGE_SIZE:
            await send_response(interaction, content, ephemeral=True)
        else:
            await send_response(interaction, content, view=view, ephemeral=True)

    @app_commands.command(
        name="forgetme",
        description="Delete all your votes in this server, or your own votes elsewhere",
        extras=ANSWERS_PRIVATELY,
    )
    @user_installable
    async def forgetme(self, interaction: discord.Interaction[ShowBot]) -> None:
        space = vote_space(interaction)
        total = await self.store.member_vote_count(space, interaction.user.id)
        if total == 0:
            await send_response(interaction, no_votes_message(space), ephemeral=True)
            return
        await send_response(
            interaction,
            forget_message(space, total),
            view=ForgetView(self, interaction.user.id, space),
            ephemeral=True,
        )

    @app_commands.command(
        name="top", description="The server's favourite shows, by up and down votes", extras=ANSWERS_PUBLICLY
    )
    @app_commands.describe(
        period="Votes cast this week, this month, or ever (default)",
        genre="Only shows of this genre",
        service="Only shows on this streaming service",
    )
    @facet_autocomplete
    @app_commands.guild_only()
    async def top(
        self,
        interaction: discord.Interaction[ShowBot],
        period: Literal["week", "month", "all"] = "all",
        genre: Facet | None = None,
        service: Facet | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        shows = await top_shows(
            self.bot.db,
            interaction.guild_id,
            period,
            genre=genre,
            service=service,
            now=self.bot.clock.now(),
        )
        if not shows:
            raise UserFacingError(_("No votes match that yet: vote with 👍/👎 on the bot's posts, or with /vote."))
        await send_response(interaction, embed=top_embed(shows, period, genre, service))
        message = await interaction.original_response()
        await make_votable(self.bot, message, "top", list_emoji_map([s.show_id for s in shows]))


async def setup(bot: ShowBot) -> None:
    await bot.add_cog(Votes(bot))
