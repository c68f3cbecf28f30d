"""Time as a dependency: scheduled work asks a Clock, so tests move time forward instead of waiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to. `advance` wakes whoever waits on `changed`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self.changed = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)
        self.changed.set()
        self.changed = asyncio.Event()

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)


def utc_iso(when: datetime) -> str:
    """The storage form of an instant: ISO 8601 in UTC with seconds, e.g. 2018-02-23T08:00:00+00:00."""
    return when.astimezone(UTC).isoformat(timespec="seconds")
