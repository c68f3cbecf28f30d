"""The bot's own pacing under Discord's global rate limit (50 requests per second per bot).

discord.py paces each route's bucket from the X-RateLimit headers, but it does nothing about the global limit until
Discord answers a global 429, and every 429 counts towards Discord's ban on invalid requests. So every REST request
this process sends waits for a shared leaky bucket first (aiolimiter), hooked in through discord.py's documented
`http_trace` (aiohttp calls `on_request_start` before each request, retries included).

The bucket lets a burst of GLOBAL_BURST through at once and then GLOBAL_REQUESTS_PER_SECOND, a little under
Discord's 50: a request reaches Discord some time after it left, and requests that left paced can arrive bunched.
With Discord's bucket of 50 refilling at 50 per second, requests paced this way stay under it as long as none is
delayed by more than (50 - GLOBAL_BURST) / GLOBAL_REQUESTS_PER_SECOND, about 0.8 s. Interaction callbacks and
interaction webhooks (followups, @original) are outside the global limit on Discord, so they never wait here.
The limiter is per process. A bot split over several processes shares Discord's one global limit, so each process
keeps to a share of it (`REST_REQUESTS_PER_SECOND`; `python -m bot cluster` sets GLOBAL_REQUESTS_PER_SECOND / N in each
of its N processes), with a burst in proportion, so that the processes' bursts together stay GLOBAL_BURST.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import discord
from aiolimiter import AsyncLimiter

from bot.common.config import GLOBAL_REQUESTS_PER_SECOND

GLOBAL_BURST = 10


def counts_towards_global(url: str) -> bool:
    """True for a request to Discord's REST API that Discord counts towards the global limit."""
    base = discord.http.Route.BASE  # read at request time: bot.app.core.use_discord_endpoints may have moved it
    if not url.startswith(base):
        return False  # the gateway, a CDN, anything else
    path = url[len(base) :]
    return not path.startswith(("/interactions/", "/webhooks/"))


def global_limit_trace(limiter: AsyncLimiter, trace: aiohttp.TraceConfig | None = None) -> aiohttp.TraceConfig:
    """`trace` (or a new TraceConfig) with a hook that makes every counted request wait for `limiter`."""
    trace = trace or aiohttp.TraceConfig()

    async def pace(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if counts_towards_global(str(params.url)):
            await limiter.acquire()

    trace.on_request_start.append(pace)
    return trace


def new_global_limiter(requests_per_second: float = GLOBAL_REQUESTS_PER_SECOND) -> AsyncLimiter:
    """A bucket for `requests_per_second` (this process's share), its burst the same share of GLOBAL_BURST."""
    burst = max(1.0, GLOBAL_BURST * requests_per_second / GLOBAL_REQUESTS_PER_SECOND)
    # aiolimiter's leaky bucket holds max_rate and drains it over time_period.
    return AsyncLimiter(burst, burst / requests_per_second)
