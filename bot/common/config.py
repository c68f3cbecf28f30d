"""Configuration: one frozen settings object built from the environment (and a `.env` file, if present)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

DEFAULT_DATABASE_PATH = Path("data/showbot.sqlite3")
DEFAULT_TVMAZE_BASE_URL = "https://api.tvmaze.com"
DEFAULT_TMDB_BASE_URL = "https://api.themoviedb.org/3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CATALOG_SYNC_SOURCES = ("tvmaze",)
DEFAULT_CATALOG_SYNC = "tvmaze"  # on unless CATALOG_SYNC=none: TVmaze needs no key
# The bot's REST requests per second, a margin under Discord's global 50 (why: bot/common/ratelimit.py).
GLOBAL_REQUESTS_PER_SECOND = 48

# A bot token is three base64url parts separated by dots; checking the shape catches a pasted client secret or a
# stray quote before discord.py fails with a less helpful message.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")


# postgresql:// or postgres://, then something: the driver checks the rest (host, port, database) when it connects.
_POSTGRESQL_URL = re.compile(r"^postgres(?:ql)?://\S+$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^:/@]*:)(?P<password>[^@]*)(?P<tail>@.*)$", re.IGNORECASE)


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***, for anything that is logged or shown."""
    match = _URL_PASSWORD.match(url)
    return f"{match['head']}***{match['tail']}" if match else url


class ConfigError(Exception):
    """A missing or malformed setting. The message is one sentence naming the variable and what to do."""


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: str | None = field(default=None, repr=False)  # repr=False: the token never reaches a log
    database_path: Path = DEFAULT_DATABASE_PATH
    # A PostgreSQL server (postgresql://user:password@host:port/dbname) instead of the SQLite file at database_path.
    # repr=False: its password never reaches a log (`database_description` masks it).
    database_url: str | None = field(default=None, repr=False)
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    tvmaze_base_url: str = DEFAULT_TVMAZE_BASE_URL
    tmdb_base_url: str = DEFAULT_TMDB_BASE_URL
    tmdb_api_key: str | None = field(default=None, repr=False)
    # The live source the connected bot syncs from ("tvmaze") or None. from_env turns it on by default; a Settings
    # built in code (tests, the offline console) has it off unless it says otherwise.
    catalog_sync: str | None = None
    vote_reconcile_delay: float = 0.2  # seconds between reaction-list requests when reconciling votes at start
    # Gateway shards: how many the bot has in all (None: Discord's recommendation from GET /gateway/bot), and which
    # of them this process runs (None: every one). A server's events arrive on shard (guild_id >> 22) % shard_count.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # This process's share of Discord's global REST limit (50 requests per second per bot, shared by every process):
    # all of it (48, a margin under 50) for one process; `python -m bot cluster` gives each of N processes 48 / N.
    rest_requests_per_second: float = GLOBAL_REQUESTS_PER_SECOND

    @property
    def database_description(self) -> str:
        """Where the database is, for logs and messages: the URL with its password masked, or the SQLite path."""
        return mask_password(self.database_url) if self.database_url else str(self.database_path)

    @property
    def holds_shard_zero(self) -> bool:
        """Whether this process runs shard 0, which alone syncs the commands and receives direct messages."""
        return self.shard_ids is None or 0 in self.shard_ids

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: the process environment after loading `.env`)."""
        if environ is None:
            # The .env of the working directory (or a parent), never one found beside the installed package.
            load_dotenv(find_dotenv(usecwd=True), override=False)
            environ = os.environ
        env = {key: value.strip() for key, value in environ.items() if value.strip()}

        token = env.get("DISCORD_TOKEN")
        if token is not None:
            token = token.removeprefix("Bot ").strip()
            if not _TOKEN_SHAPE.match(token):
                raise ConfigError(
                    "DISCORD_TOKEN does not look like a bot token: copy it again from the Bot page of your "
                    "application in the Discord Developer Portal (not the client secret)."
                )

        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}; unset it to use INFO.")

        catalog_sync: str | None = env.get("CATALOG_SYNC", DEFAULT_CATALOG_SYNC).lower()
        if catalog_sync == "none":
            catalog_sync = None
        elif catalog_sync not in CATALOG_SYNC_SOURCES:
            raise ConfigError(
                f"CATALOG_SYNC must be {' or '.join(CATALOG_SYNC_SOURCES)} (the default), or none to turn it off."
            )

        try:
            vote_reconcile_delay = float(env.get("VOTE_RECONCILE_DELAY", "0.2"))
        except ValueError:
            vote_reconcile_delay = -1.0
        if not 0 <= vote_reconcile_delay <= 60:
            raise ConfigError("VOTE_RECONCILE_DELAY must be a number of seconds from 0 to 60; unset it to use 0.2.")

        shard_count, shard_ids = _shards(env)
        try:
            rest_requests_per_second = float(env.get("REST_REQUESTS_PER_SECOND", str(GLOBAL_REQUESTS_PER_SECOND)))
        except ValueError:
            rest_requests_per_second = 0.0
        if not 0.1 <= rest_requests_per_second <= GLOBAL_REQUESTS_PER_SECOND:
            raise ConfigError(
                f"REST_REQUESTS_PER_SECOND must be a number from 0.1 to {GLOBAL_REQUESTS_PER_SECOND} (this process's "
                f"share of Discord's global limit); unset it to use {GLOBAL_REQUESTS_PER_SECOND}."
            )
        database_url = env.get("DATABASE_URL")
        if database_url is not None and not _POSTGRESQL_URL.match(database_url):
            raise ConfigError(
                "DATABASE_URL must be a PostgreSQL URL like postgresql://user:password@host:5432/showbot "
                "(unset it to use the SQLite file at DATABASE_PATH)."
            )
        return cls(
            discord_token=token,
            database_path=Path(env.get("DATABASE_PATH", str(DEFAULT_DATABASE_PATH))).expanduser(),
            database_url=database_url,
            dev_guild_id=_snowflake(env, "DEV_GUILD_ID"),
            log_level=log_level,
            discord_api_base_url=_url(env, "DISCORD_API_BASE_URL", ("http", "https")),
            discord_gateway_url=_url(env, "DISCORD_GATEWAY_URL", ("ws", "wss")),
            tvmaze_base_url=_url(env, "TVMAZE_BASE_URL", ("http", "https")) or DEFAULT_TVMAZE_BASE_URL,
            tmdb_base_url=_url(env, "TMDB_BASE_URL", ("http", "https")) or DEFAULT_TMDB_BASE_URL,
            tmdb_api_key=env.get("TMDB_API_KEY"),
            catalog_sync=catalog_sync,
            vote_reconcile_delay=vote_reconcile_delay,
            shard_count=shard_count,
            shard_ids=shard_ids,
            rest_requests_per_second=rest_requests_per_second,
        )


def _shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT (a whole number, 1 or more) and SHARD_IDS (comma-separated ids or ranges like 0-3, each below
    SHARD_COUNT, which it needs: every process of a bot must agree on the count)."""
    raw_count, raw_ids = env.get("SHARD_COUNT"), env.get("SHARD_IDS")
    count: int | None = None
    if raw_count is not None:
        if not raw_count.isdigit() or not 1 <= int(raw_count) <= 100_000:
            raise ConfigError(
                "SHARD_COUNT must be a whole number of gateway shards, 1 or more, or unset to use Discord's "
                "recommendation."
            )
        count = int(raw_count)
    if raw_ids is None:
        return count, None
    if count is None:
        raise ConfigError("SHARD_IDS needs SHARD_COUNT, the bot's total number of shards (the same in every process).")
    ids: list[int] = []
    for part in raw_ids.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not (last.isdigit() and int(first) <= int(last))):
            raise ConfigError(f"SHARD_IDS must be shard ids separated by commas, like 0,1 or 0-3; {part!r} is not one.")
        ids.extend(range(int(first), int(last if dash else first) + 1))
    outside = sorted({shard_id for shard_id in ids if shard_id >= count})
    if outside:
        raise ConfigError(
            f"SHARD_IDS must name shards from 0 to {count - 1} (SHARD_COUNT is {count}); "
            f"{', '.join(map(str, outside))} {'is' if len(outside) == 1 else 'are'} outside."
        )
    return count, tuple(sorted(set(ids)))


def _snowflake(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**64:
        raise ConfigError(
            f"{name} must be a Discord server ID (digits only; right-click the server with Developer Mode on and "
            "choose Copy Server ID), or unset."
        )
    return int(raw)


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if raw is None:
        return None
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or any(ch.isspace() for ch in raw):
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, or unset.")
    return raw.rstrip("/")
