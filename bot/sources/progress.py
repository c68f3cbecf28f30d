"""A progress bar on stderr when it is a terminal; silent otherwise (pipes, logs, tests)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30


class ProgressBar:
    """`update(done)` from any one thread; redraws at most ten times a second. Use as a context manager."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._last_draw = 0.0
        self._drawn = False

    def set_total(self, total: int) -> None:
        self.total = total

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and done != self.total:
            return
        self._last_draw = now
        if self.total:
            filled = BAR_WIDTH * min(done, self.total) // self.total
            text = f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{self.total}"
        else:
            text = f"{self.label}: {done}"
        self.stream.write(f"\r{text}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
