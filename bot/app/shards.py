"""Gateway shards as the bot sees them: which shard carries a server, and the pacing of IDENTIFYs that discord.py
leaves to the bot (it waits 5 s before every IDENTIFY but the first and never reads Discord's `max_concurrency`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

IDENTIFY_WINDOW_SECONDS = 5.0  # Discord: max_concurrency IDENTIFYs per 5 s, one per bucket (shard_id % max_concurrency)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard whose gateway connection carries a server's events (Discord's formula)."""
    return (guild_id >> 22) % shard_count


class StartLimits(Protocol):
    total: int
    remaining: int
    reset_after: int  # milliseconds
    max_concurrency: int


class IdentifyPacer:
    """Spaces this process's IDENTIFYs as Discord allows: per bucket `shard_id % max_concurrency`, one IDENTIFY per
    5 s. With `max_concurrency` 16 (large bots), 16 shards identify at once; with 1, one every 5 s. Every attempt
    counts, so a refused IDENTIFY (op 9) is retried no sooner than 5 s later. `max_concurrency` and the day's
    IDENTIFY budget are read from `GET /gateway/bot` before the first IDENTIFY (and logged); if that fails, 1."""

    def __init__(
        self,
        fetch_limits: Callable[[], Awaitable[StartLimits]],
        *,
        window: float = IDENTIFY_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch_limits = fetch_limits
        self._window = window
        self._clock = clock
        self.max_concurrency: int | None = None
        self._learning = asyncio.Lock()
        self._buckets: dict[int, asyncio.Lock] = {}
        self._last: dict[int, float] = {}

    async def wait_turn(self, shard_id: int) -> None:
        """Return when shard `shard_id` may send its IDENTIFY (call it right before)."""
        bucket = shard_id % await self._concurrency()
        async with self._buckets.setdefault(bucket, asyncio.Lock()):
            last = self._last.get(bucket)
            if last is not None:
                wait = last + self._window - self._clock()
                if wait > 0:
                    log.info("Shard %d waits %.1f s for its IDENTIFY turn (bucket %d)", shard_id, wait, bucket)
                    await asyncio.sleep(wait)
            self._last[bucket] = self._clock()

    async def _concurrency(self) -> int:
        async with self._learning:
            if self.max_concurrency is None:
                try:
                    limits = await self._fetch_limits()
                except Exception as exc:  # the gateway still works; pace as the smallest bots must
                    log.warning("Could not read the session start limit (%s); identifying one shard per 5 s", exc)
                    self.max_concurrency = 1
                else:
                    self.learn(limits)
            assert self.max_concurrency is not None
            return self.max_concurrency

    def learn(self, limits: StartLimits) -> None:
        """Take `max_concurrency` from limits already read (and log the day's IDENTIFY budget)."""
        self.max_concurrency = max(1, limits.max_concurrency)
        log_start_limits(limits)


def log_start_limits(limits: StartLimits) -> None:
    """The day's IDENTIFY budget, for the operator: a crash loop that spends it gets the bot's token reset."""
    log.info(
        "Session start limit: %d of %d IDENTIFYs left today (resets in %.1f h), max_concurrency %d",
        limits.remaining,
        limits.total,
        limits.reset_after / 3_600_000,
        limits.max_concurrency,
    )
