"""Discord's REST rate limits, as the emulator enforces them: a global limit per bot and per-route buckets.

Discord documents the mechanism (https://discord.com/developers/docs/topics/rate-limits), not every bucket's size,
and says sizes may change; the sizes below are those Discord sends today for the routes the bot uses and that
client libraries are built around. A route not listed here gets only the global limit, as the emulator cannot know
its bucket; an interaction's endpoints (its callback and its webhook) are outside the global limit, as on Discord.

- Global: 50 requests per second per bot, modelled as a token bucket that holds 50 and refills at 50 per second.
  Beyond it: 429 with `X-RateLimit-Global: true`, `X-RateLimit-Scope: global` and `"global": true` in the body.
- Per route: a bucket per route and major parameter (the channel, guild or webhook), `limit` requests in a window
  of `period` seconds that opens with the first request. Every answer carries `X-RateLimit-Limit`, `-Remaining`,
  `-Reset` (epoch seconds), `-Reset-After` (seconds) and `-Bucket` (an opaque hash); beyond it: 429 with
  `X-RateLimit-Scope: user`. Every 429 carries `Retry-After`, `Via` (discord.py treats a 429 without it as a
  Cloudflare ban) and a JSON body with `retry_after`.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

GLOBAL_LIMIT_PER_SECOND = 50
CHANNEL_MESSAGE = "/channels/{channel_id}/messages/{message_id}"
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id")


@dataclass(frozen=True, slots=True)
class BucketRule:
    name: str
    limit: int  # requests per window
    period: float  # seconds

    @property
    def hash(self) -> str:
        """The opaque id Discord sends as X-RateLimit-Bucket (stable for a route, unlike the counters)."""
        return hashlib.sha1(self.name.encode()).hexdigest()[:32]


# (method, route template) -> its bucket. One rule per route: discord.py learns a bucket's hash only from a route's
# own answers, so routes sharing one hash would each spend its first request blind.
ROUTE_BUCKETS: dict[tuple[str, str], BucketRule] = {
    ("POST", "/channels/{channel_id}/messages"): BucketRule("channel-message-create", 5, 5.0),
    ("PATCH", CHANNEL_MESSAGE): BucketRule("channel-message-edit", 5, 5.0),
    ("DELETE", CHANNEL_MESSAGE): BucketRule("channel-message-delete", 5, 1.0),
    ("PUT", CHANNEL_MESSAGE + "/reactions/{emoji_name}/@me"): BucketRule("reaction-add", 1, 0.25),
    ("DELETE", CHANNEL_MESSAGE + "/reactions/{emoji_name}/{user_id}"): BucketRule("reaction-delete", 1, 0.25),
}


def counts_towards_global(route: str) -> bool:
    """Interaction callbacks and interaction webhooks (followups, @original) are not bound to the global limit."""
    return not route.startswith(("/interactions/", "/webhooks/"))


@dataclass(slots=True)
class _Window:
    opened: float = 0.0
    used: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]
    body: dict[str, Any] | None = None  # the 429 body when not allowed
    is_global: bool = False


@dataclass
class RateLimiter:
    """The emulator's rate-limit state. `clock` is injectable so the model itself is testable without waiting."""

    global_per_second: float = GLOBAL_LIMIT_PER_SECOND
    clock: Any = time.monotonic
    wall_clock: Any = time.time
    _tokens: float = field(default=float(GLOBAL_LIMIT_PER_SECOND), init=False)
    _refilled_at: float | None = field(default=None, init=False)
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.global_per_second)

    def check(self, method: str, route: str, match_info: dict[str, str]) -> Verdict:
        now = self.clock()
        rule = ROUTE_BUCKETS.get((method, route))
        if counts_towards_global(route) and not self._take_global(now):
            retry_after = max(0.001, (1 - self._tokens) / self.global_per_second)
            return Verdict(
                False,
                {
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                    "Retry-After": str(math.ceil(retry_after)),
                    "Via": "1.1 google",
                },
                {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": True},
                is_global=True,
            )
        if rule is None:
            return Verdict(True, {})
        major = ":".join(match_info.get(name, "") for name in MAJOR_PARAMETERS)
        window = self._windows.setdefault((rule.name, major), _Window())
        if now >= window.opened + rule.period:
            window.opened, window.used = now, 0
        reset_after = window.opened + rule.period - now
        allowed = window.used < rule.limit
        if allowed:
            window.used += 1
        headers = {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Remaining": str(rule.limit - window.used),
            "X-RateLimit-Reset": f"{self.wall_clock() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": rule.hash,
        }
        if allowed:
            return Verdict(True, headers)
        headers.update({"X-RateLimit-Scope": "user", "Retry-After": str(math.ceil(reset_after)), "Via": "1.1 google"})
        body = {"message": "You are being rate limited.", "retry_after": round(reset_after, 3), "global": False}
        return Verdict(False, headers, body)

    def _take_global(self, now: float) -> bool:
        if self._refilled_at is not None:
            self._tokens = min(
                self.global_per_second, self._tokens + (now - self._refilled_at) * self.global_per_second
            )
        self._refilled_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
