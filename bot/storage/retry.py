"""Waiting out another connection's write lock: retried with backoff, warned about while it lasts, never dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.storage.errors import BUSY_TIMEOUT_MS, BusyError

log = logging.getLogger(__name__)


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` says another connection holds a lock (or a concurrent write got in first): worth retrying."""
    return isinstance(exc, BusyError)


LOCK_RETRY_FIRST, LOCK_RETRY_MAX = 0.05, 2.0  # seconds between tries while the database is locked (doubling)
STALL_WARNING_EVERY = 30.0  # seconds between warnings while something waits for the lock
T = TypeVar("T")


async def retry_while_locked(
    attempt: Callable[[], Awaitable[T]],
    what: str,
    waiting: Callable[[], str] = lambda: "",
    on_stall: Callable[[], object] | None = None,
) -> T:
    """`await attempt()`, tried again with backoff for as long as it fails because another connection holds the
    database's write lock (each try already waits `BUSY_TIMEOUT_MS` inside SQLite); any other error is raised.
    While it stalls, a warning names `what` and `waiting()` (when it starts, then every STALL_WARNING_EVERY s);
    `on_stall()` is called once when it starts."""
    tries = 0
    stalled_at: float | None = None
    warned_at = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            if not is_busy(exc):
                raise
            now = loop.time()
            if stalled_at is None:
                stalled_at = now
                if on_stall is not None:
                    on_stall()
            if now - warned_at >= STALL_WARNING_EVERY:
                warned_at = now
                log.warning(
                    "%s stalled for %.0f s: the database is locked by another connection (%s)%s",
                    what,
                    now - stalled_at + BUSY_TIMEOUT_MS / 1000,
                    exc,
                    waiting(),
                )
            await asyncio.sleep(min(LOCK_RETRY_FIRST * 2**tries, LOCK_RETRY_MAX))
            tries += 1
            continue
        if stalled_at is not None:
            log.warning("%s went through after a stall of %.1f s", what, loop.time() - stalled_at)
        return result
