"""A small JSON-over-HTTP client for the catalog APIs: rate limited, retrying, with timeouts.

- One limiter per API per process (`shared_limiter`, aiolimiter's leaky bucket) keeps every client of that API (a
  lookup, the schedules, the index bootstrap, updates) together under its rate (TVmaze: about 20 calls per 10 s).
- 429: waits Retry-After (seconds; capped) or backs off exponentially, then retries.
- 5xx, timeouts and connection errors: exponential backoff, then retries; other 4xx fail at once.
- A body that is not JSON is an ApiError ("malformed"), never a crash further down.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from weakref import WeakKeyDictionary

import aiohttp
from aiolimiter import AsyncLimiter

from bot.catalog.sources.base import SourceError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
MAX_RETRY_AFTER_SECONDS = 60.0


class ApiError(SourceError):
    """A request that failed for good (after retries); `status` is the HTTP status, or None for network errors."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(ApiError):
    """HTTP 404: the API has no such thing."""


# One limiter per event loop (the bot's process has one) and API base URL. aiolimiter's limiters belong to the loop
# they were first used on, so a new loop (each test's) gets its own.
_LIMITERS: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncLimiter]] = WeakKeyDictionary()


def shared_limiter(base_url: str, calls: int, per_seconds: float) -> AsyncLimiter:
    """The limiter every client of the API at `base_url` in this process waits on: up to `calls` at once, then
    `calls / per_seconds` a second (a leaky bucket: over any T seconds, at most calls + T * calls / per_seconds).
    Made on first use; a test or benchmark may install its own first with `use_shared_limiter`."""
    by_url = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    key = base_url.rstrip("/")
    if key not in by_url:
        by_url[key] = AsyncLimiter(calls, per_seconds)
    return by_url[key]


def use_shared_limiter(base_url: str, limiter: AsyncLimiter) -> None:
    """Make `limiter` the one every client of `base_url` waits on in this event loop (a benchmark leaves the rate
    limit out with an unlimited one; a test scales time down)."""
    _LIMITERS.setdefault(asyncio.get_running_loop(), {})[base_url.rstrip("/")] = limiter


class JsonApi:
    """GET JSON from `base_url`; use as an async context manager (it owns its aiohttp session)."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        limiter: AsyncLimiter,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout_seconds: float = 20.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        sleep: Sleep | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.limiter = limiter
        self.headers = {"User-Agent": "Showbot (catalog sync)", "Accept": "application/json", **(headers or {})}
        self.params = dict(params or {})
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep or asyncio.sleep
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0

    async def __aenter__(self) -> JsonApi:
        self._session = aiohttp.ClientSession(headers=self.headers, timeout=self.timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> Any:
        """The decoded JSON body of GET base_url + path; raises NotFoundError on 404 and ApiError otherwise."""
        if self._session is None:
            raise RuntimeError("JsonApi used outside `async with`")
        url = f"{self.base_url}{path}"
        query = [*self.params.items(), *(params.items() if isinstance(params, Mapping) else params)]
        # What the log and errors show: never the query, which may hold an API key.
        shown = f"{self.name} {path}"
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire()
            self.calls += 1
            delay = self.backoff_seconds * 2 ** (attempt - 1)
            try:
                async with self._session.get(url, params=query) as response:
                    if response.status == 404:
                        raise NotFoundError(f"{shown}: not found (404)", 404)
                    if response.status == 429:
                        delay = _retry_after(response.headers.get("Retry-After"), delay)
                        problem = "rate limited (429)"
                    elif response.status >= 500:
                        problem = f"server error ({response.status})"
                    elif response.status >= 400:
                        raise ApiError(f"{shown}: refused ({response.status})", response.status)
                    else:
                        text = await response.text()
                        try:
                            return json.loads(text)
                        except ValueError:
                            raise ApiError(f"{shown}: malformed response (not JSON)", response.status) from None
                    status: int | None = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"network error ({type(exc).__name__})"
                status = None
            if attempt == self.max_attempts:
                raise ApiError(f"{shown}: {problem}, gave up after {attempt} attempts", status)
            log.warning(
                "%s: %s; retrying in %.1f s (attempt %d of %d)", shown, problem, delay, attempt, self.max_attempts
            )
            await self.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises


class ApiClient:
    """The base of an API's client that owns one JsonApi (`self.api`): `async with` opens and closes its session."""

    api: JsonApi

    async def __aenter__(self) -> Self:
        await self.api.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.api.close()


def _retry_after(header: str | None, fallback: float) -> float:
    """Retry-After in seconds (the HTTP-date form is rare for APIs: treated as absent), capped."""
    if header is not None:
        try:
            return min(max(float(header.strip()), 0.0), MAX_RETRY_AFTER_SECONDS)
        except ValueError:
            pass
    return fallback
