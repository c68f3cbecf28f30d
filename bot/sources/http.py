"""A small JSON-over-HTTP client for the catalog APIs: rate limited, retrying, with timeouts.

- A token bucket keeps under the API's rate (TVmaze: about 20 calls per 10 s).
- 429: waits Retry-After (seconds; capped) or backs off exponentially, then retries.
- 5xx, timeouts and connection errors: exponential backoff, then retries; other 4xx fail at once.
- A body that is not JSON is an ApiError ("malformed"), never a crash further down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp

from bot.sources.base import SourceError

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


class TokenBucket:
    """`capacity` calls at once, refilled at `capacity / per_seconds` calls a second."""

    def __init__(
        self,
        capacity: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        self.capacity = capacity
        self.rate = capacity / per_seconds
        self.clock = clock
        self.sleep = sleep or asyncio.sleep
        self.tokens = float(capacity)
        self.updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await self.sleep((1 - self.tokens) / self.rate)


class JsonApi:
    """GET JSON from `base_url`; use as an async context manager (it owns its aiohttp session)."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        bucket: TokenBucket,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout_seconds: float = 20.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        sleep: Sleep | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.bucket = bucket
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
            await self.bucket.acquire()
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
