"""A progress bar on stderr when it is a terminal (rich's); silent otherwise (pipes, logs, tests)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Meter(Protocol):
    """What a long job reports to (a `ProgressBar`): how much there is, once it is known, and how much is done."""

    def set_total(self, total: int) -> None: ...

    def update(self, done: int) -> None: ...


class ProgressBar:
    """`update(done)` from any one thread (rich's Progress locks its own state). Use as a context manager.

    With no total (a sync that does not know how much there is yet), it shows the count and the elapsed time."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if self.enabled:
            # Imported only on a terminal: the CLI starts faster without it.
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
            )
            self._task = self._progress.add_task(label, total=total)
            self._progress.start()

    def set_total(self, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def update(self, done: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
