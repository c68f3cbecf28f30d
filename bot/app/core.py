"""The bot: a commands.Bot subclass that owns the database, loads the cogs and syncs commands only when they change."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import pkgutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.shard import SessionStartLimits

from bot.app.shards import IdentifyPacer, shard_of
from bot.app.translator import ShowTranslator
from bot.app.ui import ANSWER, defer_first, send_private
from bot.catalog import Facets, SearchIndex, TitleResolver, now_iso, shows_updated_since
from bot.common.clock import Clock, SystemClock, utc_iso
from bot.common.config import Settings
from bot.common.errors import UserFacingError, permission_sentence
from bot.common.i18n import N_, _, set_locale
from bot.common.ratelimit import global_limit_trace, new_global_limiter
from bot.common.render import quoted
from bot.recommend import Recommender
from bot.storage import Database
from bot.votes import VoteChange, VoteStore

log = logging.getLogger(__name__)

COGS_DIR = Path(__file__).resolve().parents[2] / "cogs"
COMMAND_HASH_KEY = "command_tree_hash"
GENERIC_FAILURE = N_("Sorry, something went wrong on my side. The error has been logged; please try again later.")
# Shows a catalog change is learned in at a time (title index, recommender), so that the event loop serves commands
# in between: a slice of 50 takes a few tens of milliseconds.
CATALOG_CHANGE_SLICE = 50


def discover_extensions(directory: Path = COGS_DIR) -> list[str]:
    """Every extension module in cogs/, skipping private modules (`_name.py`)."""
    return sorted(
        f"cogs.{module.name}"
        for module in pkgutil.iter_modules([str(directory)])
        if not module.name.startswith("_") and not module.ispkg
    )


def use_discord_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another Discord endpoint (the local emulator, or a REST proxy).

    These two class attributes are discord.py's documented way to do it; URLs are built when a Route is created,
    so this must run before login.
    """
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def intents() -> discord.Intents:
    """Only the intents the bot needs: guilds (channels, roles, permissions), reactions and deletions (votes)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_reactions = True
    # MESSAGE_DELETE / MESSAGE_DELETE_BULK come with this (not privileged; message content stays off): a deleted
    # votable message stops being tracked.
    wanted.guild_messages = True
    return wanted


class ShowTree(app_commands.CommandTree["ShowBot"]):
    """The command tree, with the one place where an app-command error becomes an answer to the user, and where
    every command that declares how it answers (`extras=ANSWERS_PUBLICLY/PRIVATELY`, bot/app/ui.py; all of cogs/ do) is
    deferred before it runs, so nothing it waits on can make Discord give up on it.

    Every command is for servers that invited the bot unless it says otherwise (`bot.app.ui.user_installable`): sent
    explicitly, since Discord would otherwise offer a command in every install and context the app is configured for.
    """

    def __init__(self, client: ShowBot, **options: Any) -> None:
        options.setdefault("allowed_installs", app_commands.AppInstallationType(guild=True, user=False))
        options.setdefault(
            "allowed_contexts", app_commands.AppCommandContext(guild=True, dm_channel=False, private_channel=False)
        )
        super().__init__(client, **options)

    async def interaction_check(self, interaction: discord.Interaction[ShowBot], /) -> bool:
        # Everything this interaction's task renders (the answer, an error, autocomplete) is in the member's language.
        set_locale(interaction.locale)
        command = interaction.command
        if interaction.type is discord.InteractionType.application_command and command is not None:
            answer = command.extras.get(ANSWER)
            if answer in ("public", "private"):
                await defer_first(interaction, private=answer == "private")
        return True

    async def on_error(self, interaction: discord.Interaction[ShowBot], error: app_commands.AppCommandError) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, UserFacingError):
            message = str(original)
        elif isinstance(error, app_commands.MissingPermissions):
            message = permission_sentence(error.missing_permissions)
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = _("This command only works in a server.")
        elif isinstance(error, app_commands.CheckFailure):
            # A check of ours says why in the member's language; discord.py's own (English) ones get the general line.
            plain = type(error) is app_commands.CheckFailure and str(error)
            message = str(error) if plain else _("You cannot use this command here.")
        elif isinstance(error, app_commands.TransformerError):
            message = _("I could not understand {value} for that option.", value=quoted(str(error.value)))
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("Command /%s failed", command, exc_info=original)
            message = _(GENERIC_FAILURE)
        await send_ephemeral(interaction, message)


async def send_ephemeral(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer `interaction` privately, whether or not it was already acknowledged."""
    try:
        await send_private(interaction, message)
    except discord.HTTPException:
        log.warning("Could not send an error message for interaction %s", interaction.id, exc_info=True)


class ShowBot(commands.AutoShardedBot):
    """The bot, on as many gateway shards as settings say (SHARD_COUNT, SHARD_IDS; unset: every shard Discord
    recommends, in this process). Per-server work follows the shards this process runs (`runs_guild`); command sync
    is done by the process that runs shard 0 only."""

    settings: Settings
    db: Database
    clock: Clock
    votes: VoteStore  # the one vote store: every change it commits reaches votes_changed
    titles: TitleResolver  # loaded in setup_hook, before the cogs that use it
    facets: Facets  # likewise: genre and service names for the filters
    recommender: Recommender  # likewise; kept up to date by votes_changed and catalog_changed

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Clock | None = None,
        extensions: list[str] | None = None,
        **options: Any,
    ) -> None:
        # Every REST request waits for this process's share of Discord's global limit (bot/common/ratelimit.py).
        self.global_limiter = new_global_limiter(settings.rest_requests_per_second)
        options["http_trace"] = global_limit_trace(self.global_limiter, options.get("http_trace"))
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            tree_cls=ShowTree,
            # Catalog text could contain @everyone: nothing the bot sends may ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=options.pop("shard_count", settings.shard_count),
            shard_ids=options.pop("shard_ids", list(settings.shard_ids) if settings.shard_ids is not None else None),
            **options,
        )
        self.settings = settings
        self.db = db
        self.clock = clock or SystemClock()
        self.extension_names = discover_extensions() if extensions is None else extensions
        self.failed_extensions: dict[str, BaseException] = {}
        self.votes = VoteStore(db, self.clock)
        self.votes.add_listener(self.votes_changed)
        use_discord_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
        self.identify_pacer = IdentifyPacer(self.fetch_session_start_limits)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(ShowTranslator())  # before the sync: the payload carries every language
        await self.load_extensions()
        if self.runs_shard_zero:
            await self.sync_commands_if_changed()
        else:
            log.info("Not syncing commands: the process running shard 0 does (this one runs %s)", self.shard_ids)

    @property
    def runs_shard_zero(self) -> bool:
        return self.shard_ids is None or 0 in self.shard_ids

    def runs_guild(self, guild_id: int) -> bool:
        """Whether this process receives the server's events (runs its shard); before the shard count is known
        (it comes from Discord when SHARD_COUNT is unset), every server is taken as this process's."""
        if self.shard_ids is None or self.shard_count is None:
            return True
        return shard_of(guild_id, self.shard_count) in self.shard_ids

    async def launch_shards(self) -> None:
        """With DISCORD_GATEWAY_URL set (the emulator, a proxy) and SHARD_COUNT unset, ask Discord for the count here:
        discord.py would otherwise connect to the URL `GET /gateway/bot` names instead of the configured one."""
        if not self.shard_count and self.settings.discord_gateway_url:  # None until known
            self.shard_count, _, limits = await self.http.get_bot_gateway()
            self.identify_pacer.learn(SessionStartLimits(**limits))  # one request for the count and the pacing
        await super().launch_shards()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Pace IDENTIFYs by Discord's max_concurrency (bot/app/shards.py) instead of discord.py's flat 5 s."""
        await self.identify_pacer.wait_turn(shard_id or 0)

    async def load_extensions(self) -> None:
        """The shared services first (title index, recommender), then every extension; a failing one is logged and
        the others still load."""
        self.titles = await TitleResolver.load(self.db)
        self.facets = await Facets.load(self.db)
        self.recommender = await Recommender.load(self.db, clock=self.clock)
        for name in self.extension_names:
            try:
                await self.load_extension(name)
            except Exception as exc:
                # One broken cog must not take the others down with it.
                self.failed_extensions[name] = exc
                log.exception("Failed to load extension %s", name)
            else:
                log.info("Loaded extension %s", name)

    def votes_changed(self, changes: Sequence[VoteChange]) -> None:
        """Every committed vote change (the bot's vote store calls this): what is derived from votes follows, vote
        by vote, before anyone can read the new votes. Never a rebuild."""
        titles = getattr(self, "titles", None)  # None until load_extensions has run
        if titles is not None:
            titles.votes_changed(changes)  # the servers' title search boosts
        recommender = getattr(self, "recommender", None)  # likewise
        if recommender is not None:
            for change in changes:
                recommender.on_vote(*change)

    async def catalog_changed(self, show_ids: Iterable[int]) -> None:
        """Shows were added, updated or deleted (a lookup, a sync): the title index and the recommender follow, then
        cogs hear `on_catalog_changed(show_ids)`."""
        changed = sorted(set(show_ids))
        if changed:
            # In slices: a page of the TVmaze index (250 shows) learned at once kept commands waiting for a few
            # hundred milliseconds; each slice's database reads hand the event loop back in between.
            for start in range(0, len(changed), CATALOG_CHANGE_SLICE):
                part = changed[start : start + CATALOG_CHANGE_SLICE]
                await self.titles.refresh(part)
                await self.recommender.on_catalog_change(part)
            self.facets = await self.facets.learn(self.db, changed)
            self.dispatch("catalog_changed", changed)

    async def rebuild_title_index(self) -> None:
        """Build the title index afresh in a worker thread and swap it in. An index that learned most of its shows one
        page at a time (the TVmaze bootstrap) numbers them by arrival, not popularity, which makes autocomplete's
        capped candidate sets slower; the rebuilt one is what a restart would load. Shows changed meanwhile are
        learned again after the swap."""
        started = now_iso()  # the importer's clock: rows updated from now on are re-read after the swap
        index = await asyncio.to_thread(SearchIndex.load_sync, self.db.location)
        self.titles.index = index
        await self.titles.refresh(await shows_updated_since(self.db, started))

    async def command_payload(self) -> list[dict[str, Any]]:
        """What a sync would send, translations included, in a stable order: the basis of the change check (a new or
        changed translation is a change to sync)."""
        translator = self.tree.translator
        payloads = [
            await command.get_translated_payload(self.tree, translator) if translator else command.to_dict(self.tree)
            for command in self.tree.get_commands()
        ]
        return sorted(payloads, key=lambda payload: (payload.get("type", 1), payload["name"]))

    async def sync_commands_if_changed(self) -> bool:
        """Sync the command tree (to DEV_GUILD_ID when set, else globally) only when it differs from the last sync."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        scope = f"guild:{guild.id}" if guild else "global"
        payload = json.dumps(await self.command_payload(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(f"{scope}\n{payload}".encode()).hexdigest()
        key = f"{COMMAND_HASH_KEY}:{scope}"
        if await self.db.get_state(key) == digest:
            log.info("Commands unchanged since the last sync (%s); not syncing", scope)
            return False
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        await self.db.set_state((key, digest), (f"command_sync_time:{scope}", utc_iso(self.clock.now())))
        log.info("Synced %d commands (%s)", len(synced), scope)
        return True

    async def on_ready(self) -> None:
        assert self.user is not None
        shards = self.shard_ids if self.shard_ids is not None else f"all {self.shard_count}"
        log.info(
            "Logged in as %s (%s) in %d servers, on shards %s of %s",
            self.user,
            self.user.id,
            len(self.guilds),
            shards,
            self.shard_count,
        )
