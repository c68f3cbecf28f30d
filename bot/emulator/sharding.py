"""Discord's sharding rules, as the gateway enforces them: which shard carries a guild, how many shards
`GET /gateway/bot` recommends, which `shard` an IDENTIFY may ask for (close 4010 / 4011), and the session start
limit (the daily IDENTIFY budget, and `max_concurrency` IDENTIFYs per 5 s, one per bucket)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_GUILDS_PER_SHARD = 2_500  # a shard carrying 2,500 or more guilds is refused with 4011
IDENTIFY_WINDOW_SECONDS = 5.0  # max_concurrency IDENTIFYs per this many seconds, one per bucket
SESSION_START_TOTAL = 1_000  # IDENTIFYs per 24 hours (RESUMEs do not count)
SESSION_START_RESET_SECONDS = 24 * 60 * 60

CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that carries a guild's events, as Discord computes it."""
    return (guild_id >> 22) % shard_count


def recommended_shards(guild_count: int, max_per_shard: int = MAX_GUILDS_PER_SHARD) -> int:
    """One shard per `max_per_shard` guilds, and one more, so that shards carry fewer than `max_per_shard` guilds
    each on average (a shard carrying `max_per_shard` or more is refused with 4011; guilds spread over shards by
    their IDs, which Discord's real IDs do evenly)."""
    return guild_count // max_per_shard + 1


@dataclass(frozen=True)
class Shard:
    id: int
    count: int

    def carries(self, guild_id: int | None) -> bool:
        """Guild events go to the guild's shard; events without a guild (direct messages) to shard 0 only."""
        if guild_id is None:
            return self.id == 0
        return shard_of(guild_id, self.count) == self.id


UNSHARDED = Shard(0, 1)


def requested_shard(data: dict[str, Any]) -> Shard | str:
    """The IDENTIFY's `shard: [id, count]` (absent: the one shard of an unsharded bot), or why it is invalid."""
    raw = data.get("shard")
    if raw is None:
        return UNSHARDED
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in raw)
    ):
        return "shard must be [shard_id, shard_count]"
    shard_id, count = raw
    if count < 1 or not 0 <= shard_id < count:
        return f"Invalid shard: shard_id {shard_id} is not within shard_count {count}"
    return Shard(shard_id, count)


@dataclass
class SessionStartLimit:
    """The bot's IDENTIFY budget: `total` per 24 hours, counted down by every accepted IDENTIFY, and at most one
    IDENTIFY per bucket (`shard_id % max_concurrency`) per 5 seconds. Times are the emulator's clock."""

    max_concurrency: int = 1
    total: int = SESSION_START_TOTAL
    used: int = 0
    window_end: float | None = None  # when `remaining` is back to `total`; set by the first IDENTIFY of a window
    last_identify: dict[int, float] = field(default_factory=dict)  # bucket -> when its last IDENTIFY was accepted

    def bucket(self, shard_id: int) -> int:
        return shard_id % self.max_concurrency

    def too_fast(self, shard_id: int, now: float) -> bool:
        last = self.last_identify.get(self.bucket(shard_id))
        return last is not None and now - last < IDENTIFY_WINDOW_SECONDS

    def count_identify(self, shard_id: int, now: float) -> None:
        self._roll(now)
        if self.window_end is None:
            self.window_end = now + SESSION_START_RESET_SECONDS
        self.used += 1
        self.last_identify[self.bucket(shard_id)] = now

    def payload(self, now: float) -> dict[str, int]:
        self._roll(now)
        reset_after = 0.0 if self.window_end is None else self.window_end - now
        return {
            "total": self.total,
            "remaining": max(0, self.total - self.used),
            "reset_after": int(reset_after * 1000),  # milliseconds, as Discord sends it
            "max_concurrency": self.max_concurrency,
        }

    def _roll(self, now: float) -> None:
        if self.window_end is not None and now >= self.window_end:
            self.window_end, self.used = None, 0
