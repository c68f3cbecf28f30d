"""The weekly post: /weekly set|preview|off|status, and the one loop that posts for every server.

The cog only translates: schedules, the (server, week) ledger, catch-up and fault handling are bot.weekly's; the
post's layout is render_weekly's (bot.common.render enforces the limits); votes are bot.votes's (the post is tracked in
the bot's vote store, its keycaps added by bot.app.ui.add_vote_reactions). Time comes from bot.common.clock, so tests
move a FakeClock and call `tick()`.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.app.core import ShowBot
from bot.app.ui import ANSWERS_PRIVATELY, add_vote_reactions, send_response
from bot.common import render
from bot.common.errors import permission_label
from bot.common.i18n import _, join_words, use_locale, weekday_name
from bot.votes import list_emoji_map
from bot.weekly import (
    POSTING_PERMISSIONS,
    REACTING_PERMISSIONS,
    WEEKDAYS,
    AfterRecorded,
    CannotCheckEarlierPost,
    DuePost,
    GuildGone,
    MissingPermissions,
    PostChannelGone,
    PostFailure,
    PostResult,
    TickReport,
    TransientPostFailure,
    WeeklyContent,
    channel_problem,
    country_choices,
    country_name,
    describe_schedule,
    disable_weekly,
    discord_time,
    format_local_time,
    gone_message,
    is_transient,
    mention,
    missing_permissions,
    missing_sentence,
    parse_local_time,
    preview_content,
    render_weekly,
    resolve_timezone,
    run_tick,
    set_weekly,
    status_text,
    timezone_choices,
    unreachable,
    weekly_marker,
    weekly_region,
    weekly_status,
)

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0
# Newest messages read when looking for a post already made (one request). Newest first rather than from the scheduled
# time: a recovery runs STALE_CLAIM after the interrupted post, which may itself have been a catch-up hours late.
RECOVERY_LOOKBACK = 100
DAY_CHOICES = [app_commands.Choice(name=day.capitalize(), value=number) for number, day in enumerate(WEEKDAYS)]


class Weekly(commands.Cog):
    weekly = app_commands.Group(
        name="weekly",
        description="This server's weekly post of new shows",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot
        # One tick at a time in this process: a tick called by a test (or a slow loop iteration) waits for the one in
        # flight instead of racing it. Across processes the ledger's claims keep posts unique.
        self._tick_lock = asyncio.Lock()
        self.last_report: TickReport | None = None
        # Set once the loop's first pass (the catch-up at start) is over: tests wait for it before moving the clock.
        self.first_pass_done = asyncio.Event()

    async def cog_load(self) -> None:
        self.weekly_loop.start()

    async def cog_unload(self) -> None:
        # A post interrupted here is recovered by the next start (DuePost.recovering), never repeated.
        self.weekly_loop.cancel()

    async def interaction_check(self, interaction: discord.Interaction[ShowBot]) -> bool:  # type: ignore[override]
        """Manage Server, checked here too: a server's admins can override the command's default permissions."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        permissions = interaction.permissions
        if not (permissions.manage_guild or permissions.administrator):
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    # The loop ------------------------------------------------------------------------------------------------------

    @tasks.loop(seconds=TICK_SECONDS)
    async def weekly_loop(self) -> None:
        try:
            await self.tick()
        except Exception:  # run_tick contains its own failures; this is the last line so the loop never dies
            log.exception("Weekly tick failed")
        finally:
            self.first_pass_done.set()

    @weekly_loop.before_loop
    async def before_weekly_loop(self) -> None:
        await self.bot.wait_until_ready()

    @weekly_loop.error
    async def weekly_loop_error(self, error: BaseException) -> None:
        log.error("The weekly loop stopped", exc_info=error)

    async def tick(self) -> TickReport:
        """One pass: every server whose post is due now (bot.common.clock) gets it, through `post`."""
        async with self._tick_lock:
            # Only this process's servers: another process runs the other shards and posts theirs.
            now = self.bot.clock.now()
            self.last_report = await run_tick(self.bot.db, now, self.post, in_guild=self.bot.runs_guild)
            return self.last_report

    # The poster ----------------------------------------------------------------------------------------------------

    async def post(self, due: DuePost, content: WeeklyContent) -> PostResult:
        """Send one server's post, in the server's language (its problems too: the admins read them in /weekly
        status). Raises a PostFailure run_tick understands; see bot.weekly on `recovering`."""
        guild = self.bot.get_guild(due.guild_id)
        if guild is None:
            raise GuildGone(_("I am no longer in this server."))
        with use_locale(guild.preferred_locale):
            return await self._post(guild, due, content)

    async def _post(self, guild: discord.Guild, due: DuePost, content: WeeklyContent) -> PostResult:
        if guild.unavailable:
            raise TransientPostFailure(_("The server is unavailable (a Discord outage)."))
        # A problem already recorded and the channel not in the cache: it is still gone or hidden. Asking Discord again
        # would be one more failed request a week (Discord bans clients that send too many); /weekly set clears it.
        channel = await self._channel(guild, due.channel_id, may_fetch=due.problem is None)
        permissions = channel.permissions_for(guild.me)
        missing = missing_permissions(permissions, POSTING_PERMISSIONS)
        if missing:
            raise MissingPermissions(missing_sentence(missing, channel.mention))
        emoji_map = list_emoji_map([show_id for _, show_id in content.numbering])
        if due.recovering or due.attempt > 1:
            # The earlier attempt may have sent the message before it was interrupted, or before a timeout or a 5xx
            # came back instead of Discord's answer.
            if not permissions.read_message_history:
                raise CannotCheckEarlierPost(
                    _(
                        "Not posted: an earlier attempt may have gone out, and without {permission} in {channel} I "
                        "cannot check; I skip the week rather than risk posting it twice.",
                        permission=permission_label("read_message_history"),
                        channel=channel.mention,
                    )
                )
            earlier = await self._find_post(channel, guild.me, due)
            if earlier is not None:
                log.info("Weekly post of guild %s for %s was already made: %s", guild.id, due.week, earlier.id)
                return self._posted(earlier, emoji_map)
        text, embed = render_weekly(content)
        try:
            message = await channel.send(text, embed=embed, allowed_mentions=render.NO_MENTIONS)
        except discord.NotFound as error:
            raise PostChannelGone(gone_message(channel.id)) from error
        except discord.Forbidden as error:
            refused = _("Discord refused my post in {channel} ({reason}).", channel=channel.mention, reason=error.text)
            raise MissingPermissions(refused) from error
        except discord.HTTPException as error:
            if is_transient(error):
                raise TransientPostFailure(_("Discord answered {status} to the post.", status=error.status)) from error
            rejected = _("Discord rejected the post ({status} {reason}).", status=error.status, reason=error.text)
            raise PostFailure(rejected) from error
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise TransientPostFailure(unreachable(error)) from error
        # Nothing slow or fallible before the message id is recorded: the reactions come after (run_tick).
        return self._posted(message, emoji_map)

    def _posted(self, message: discord.Message, emoji_map: dict[str, tuple[int, int]]) -> PostResult:
        """The post is out: run_tick records its id, then has it tracked for votes at once, and adds its keycaps
        once every server's post of the tick is out (bot/weekly/poster.py, PostResult)."""
        guild = message.guild
        if not emoji_map or guild is None:
            return PostResult(message.id, message.channel.id)

        async def track() -> None:
            await self.bot.votes.track_message(message.id, guild.id, message.channel.id, "weekly", emoji_map)

        return PostResult(message.id, message.channel.id, self._keycaps_later(message, emoji_map), recorded=track)

    async def _channel(self, guild: discord.Guild, channel_id: int, *, may_fetch: bool) -> discord.TextChannel:
        channel: object = guild.get_channel_or_thread(channel_id)
        if channel is None:
            if not may_fetch:
                raise PostChannelGone(gone_message(channel_id))
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.NotFound as error:
                raise PostChannelGone(gone_message(channel_id)) from error
            except discord.Forbidden as error:
                hidden = _("I cannot see the channel {channel} any more.", channel=mention(channel_id))
                raise MissingPermissions(hidden) from error
            except discord.HTTPException as error:
                if is_transient(error):
                    answered = _("Discord answered {status} when I looked up the channel.", status=error.status)
                    raise TransientPostFailure(answered) from error
                raise
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                raise TransientPostFailure(unreachable(error)) from error
        if not isinstance(channel, discord.TextChannel) or channel.guild.id != guild.id:
            raise PostChannelGone(
                _(
                    "{channel} is not a text channel of this server: choose one with /weekly set.",
                    channel=mention(channel_id),
                )
            )
        return channel

    async def _find_post(
        self, channel: discord.TextChannel, me: discord.Member, due: DuePost
    ) -> discord.Message | None:
        marker = weekly_marker(due.week)
        try:
            async for message in channel.history(limit=RECOVERY_LOOKBACK):
                if message.author.id == me.id and any(marker in (embed.footer.text or "") for embed in message.embeds):
                    return message
        except discord.HTTPException as error:
            if is_transient(error):
                answered = _("Discord answered {status} when I read the channel.", status=error.status)
                raise TransientPostFailure(answered) from error
            unreadable = _(
                "I could not read the history of {channel} ({reason}).", channel=channel.mention, reason=error.text
            )
            raise MissingPermissions(unreadable) from error
        return None

    def _keycaps_later(self, message: discord.Message, emoji_map: dict[str, tuple[int, int]]) -> AfterRecorded:
        """Add the keycaps to the tracked post, once run_tick has recorded it and sent every server's post; a problem
        for the admins (the post went out without its keycaps) is returned, not raised: the week is done."""

        async def make_post_votable() -> str | None:
            if await add_vote_reactions(message, emoji_map):
                return None
            guild = message.guild
            with use_locale(guild.preferred_locale if guild else None):
                where = getattr(message.channel, "mention", None) or _("the channel")
                lacking = []
                if guild is not None and isinstance(message.channel, discord.abc.GuildChannel | discord.Thread):
                    lacking = missing_permissions(message.channel.permissions_for(guild.me), REACTING_PERMISSIONS)
                if lacking:
                    return _(
                        "I am missing {permissions} in {channel}: the weekly post went out without its keycaps "
                        "(members can still add them to vote).",
                        permissions=join_words(lacking),
                        channel=where,
                    )
                return _(
                    "The weekly post in {channel} went out, but Discord refused some of its keycap reactions.",
                    channel=where,
                )

        return make_post_votable

    # Commands ------------------------------------------------------------------------------------------------------

    @weekly.command(
        name="set", description="Post new shows every week in a channel (Manage Server)", extras=ANSWERS_PRIVATELY
    )
    @app_commands.describe(
        channel="Where to post",
        day="The day of the week",
        time="Local time, 24-hour HH:MM (e.g. 18:30)",
        timezone="Your time zone, e.g. Europe/London (start typing to search)",
        country="Whose TV schedule to list, e.g. GB (default: the server's language region, else US)",
    )
    @app_commands.choices(day=DAY_CHOICES)
    async def set_command(
        self,
        interaction: discord.Interaction[ShowBot],
        channel: discord.TextChannel,
        day: app_commands.Choice[int],
        time: app_commands.Range[str, 1, 20],
        timezone: app_commands.Range[str, 1, 100],
        country: app_commands.Range[str, 1, 60] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        local_time = parse_local_time(time)
        tz_name = resolve_timezone(timezone)
        locale = str(interaction.guild_locale) if interaction.guild_locale else None
        region = await weekly_region(self.bot.db, guild.id, country, locale)
        missing = missing_permissions(channel.permissions_for(guild.me))
        if missing:
            await send_response(
                interaction,
                _(
                    "I cannot post the weekly list in {channel}: I am missing {permissions} there. "
                    "Give me those permissions in the channel (or pick another) and try again.",
                    channel=channel.mention,
                    permissions=join_words(missing),
                ),
                ephemeral=True,
            )
            return
        now = self.bot.clock.now()
        settings = await set_weekly(
            self.bot.db,
            guild.id,
            channel_id=channel.id,
            weekday=day.value,
            local_time=local_time,
            tz_name=tz_name,
            now=now,
            region=region,
        )
        next_post = settings.next_post(now)
        assert next_post is not None
        log.info("Guild %s set its weekly post: %s", guild.id, describe_schedule(settings))
        country = f"{country_name(region)} ({region})"  # 'Deutschland (DE)' in German
        done = _(
            "Done: every {day} at {time} ({timezone}) in {channel}, with what is new in {country}.",
            day=weekday_name(day.value),
            time=format_local_time(local_time),
            timezone=tz_name,
            channel=channel.mention,
            country=country,
        )
        next_line = _("Next post: {when}", when=discord_time(next_post))
        await send_response(interaction, f"{done}\n{next_line}", ephemeral=True)

    @set_command.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction[ShowBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name[:100], value=name[:100]) for name in timezone_choices(current, 25)]

    @set_command.autocomplete("country")
    async def country_autocomplete(
        self, interaction: discord.Interaction[ShowBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=label, value=code) for label, code in country_choices(current)]

    @weekly.command(
        name="preview",
        description="See exactly what the weekly post would be now (only you see it)",
        extras=ANSWERS_PRIVATELY,
    )
    async def preview_command(self, interaction: discord.Interaction[ShowBot]) -> None:
        assert interaction.guild_id is not None
        content = await preview_content(self.bot.db, interaction.guild_id, self.bot.clock.now())
        text, embed = render_weekly(content)
        await send_response(interaction, text, embed=embed, ephemeral=True)

    @weekly.command(name="off", description="Stop the weekly post", extras=ANSWERS_PRIVATELY)
    async def off_command(self, interaction: discord.Interaction[ShowBot]) -> None:
        assert interaction.guild_id is not None
        was_on = await disable_weekly(self.bot.db, interaction.guild_id, self.bot.clock.now())
        message = _("The weekly post is off.") if was_on else _("The weekly post was not on.")
        again = _("Turn it on again with /weekly set.")
        await send_response(interaction, f"{message} {again}", ephemeral=True)

    @weekly.command(
        name="status", description="The weekly post's schedule, last post and any problem", extras=ANSWERS_PRIVATELY
    )
    async def status_command(self, interaction: discord.Interaction[ShowBot]) -> None:
        guild = interaction.guild
        assert guild is not None
        status = await weekly_status(self.bot.db, guild.id, self.bot.clock.now())
        await send_response(interaction, status_text(status, guild.id, partial(channel_problem, guild)), ephemeral=True)


async def setup(bot: ShowBot) -> None:
    await bot.add_cog(Weekly(bot))
