"""The ordered processor: every change of votes goes through one `VoteProcessor`. The cog enqueues each gateway event
synchronously, before any await, so the queue holds events in gateway order; one consumer applies them in that order,
many per short transaction (`VoteStore.apply_batch`), waiting out a locked database without dropping anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass

from bot.storage import retry_while_locked
from bot.votes.emoji import emoji_key
from bot.votes.events import ReactionClear, ReactionEvent, ReconcileMessage, VoteEvent
from bot.votes.store import VoteStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ProcessorStats:
    events: int = 0
    batches: int = 0
    failed_batches: int = 0
    failed_events: int = 0
    stalls: int = 0  # times the database's lock held a batch back (retried until it went through)


@dataclass(slots=True)
class _Item:
    event: VoteEvent | None  # None: a drain barrier
    future: asyncio.Future[object] | None


class VoteProcessor:
    """One consumer applying vote events in the order they were submitted, many per transaction.

    `submit` is synchronous on purpose: a listener calls it before its first await, so events enter the queue in the
    order discord.py dispatched them, which is the gateway's order. A batch that finds the database locked by
    another connection is retried, with backoff, until it goes through (later events wait behind it). A batch that
    fails otherwise is retried event by event; an event that fails alone is logged and dropped (its future gets the
    exception); the consumer never stops.
    """

    def __init__(self, store: VoteStore, *, max_batch: int = 500) -> None:
        self.store = store
        self.max_batch = max_batch
        self.stats = ProcessorStats()
        self._queue: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # message_id -> (member, emoji_key) pairs with events since a reconciliation started fetching its reactions.
        self._watched: dict[int, set[tuple[int, str]]] = {}
        # message_id -> emoji keys (None: all) cleared by a moderator since its reconciliation started fetching.
        self._cleared: dict[int, set[str | None]] = {}

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._consume(), name="vote-processor")

    async def stop(self) -> None:
        """Apply what is queued, then stop the consumer."""
        if self.running:
            await self.drain()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, event: VoteEvent) -> None:
        """Queue an event (no await: call it before anything else in a listener)."""
        self._enqueue(event, None)

    def submit_and_wait(self, event: VoteEvent) -> Awaitable[object]:
        """Queue an event now and return an awaitable of its result (the future is created synchronously)."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._enqueue(event, future)
        return future

    async def drain(self) -> None:
        """Wait until everything submitted so far is applied (or has failed)."""
        if not self.running:
            # No consumer: apply what is queued right here (tests, and shutdown after stop()).
            while self._queue:
                await self._apply([self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))])
            return
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(None, future))
        self._wakeup.set()
        await future

    def watch(self, message_id: int) -> None:
        """Start noting members with events for the message (reconciliation is about to fetch its reactions)."""
        self._watched[message_id] = set()

    def unwatch(self, message_id: int) -> None:
        self._watched.pop(message_id, None)
        self._cleared.pop(message_id, None)

    def _enqueue(self, event: VoteEvent, future: asyncio.Future[object] | None) -> None:
        if isinstance(event, ReactionEvent) and (watched := self._watched.get(event.message_id)) is not None:
            watched.add((event.user_id, emoji_key(event.emoji)))
        if isinstance(event, ReactionClear) and event.message_id in self._watched:
            # The fetch may have read reactions from before the clear: those are gone now.
            cleared_key = None if event.emoji is None else emoji_key(event.emoji)
            self._cleared.setdefault(event.message_id, set()).add(cleared_key)
        if isinstance(event, ReconcileMessage) and event.message_id in self._watched:
            # Reactions that changed during the fetch are settled by their own (queued) events.
            live = event.live | self._watched.pop(event.message_id)
            cleared = self._cleared.pop(event.message_id, set())
            reactors = {
                emoji: frozenset() if None in cleared or emoji_key(emoji) in cleared else users
                for emoji, users in event.reactors.items()
            }
            event = ReconcileMessage(event.message_id, reactors, live)
        self._queue.append(_Item(event, future))
        self._wakeup.set()

    async def _consume(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch: list[_Item] = []
            while self._queue and len(batch) < self.max_batch:
                batch.append(self._queue.popleft())
            try:
                await self._apply(batch)
            except Exception:  # a bug here must not silence voting for the rest of the run
                log.exception("The vote consumer failed on a batch of %d items; going on", len(batch))
                for item in batch:
                    if item.future is not None and not item.future.done():
                        item.future.set_exception(RuntimeError("the vote could not be applied"))

    async def _apply_waiting_out_locks(self, events: list[VoteEvent]) -> list[object]:
        """`store.apply_batch(events)`, retried with backoff for as long as another connection holds the database's
        write lock. The batch stays at the head of the queue meanwhile, so nothing overtakes it and nothing is
        dropped; a warning is logged while it stalls."""

        def waiting() -> str:
            return f"; {len(events) + len(self._queue)} events wait in order, none is dropped"

        def count_stall() -> None:
            self.stats.stalls += 1

        return await retry_while_locked(
            lambda: self.store.apply_batch(events), "Votes", waiting=waiting, on_stall=count_stall
        )

    async def _apply(self, batch: list[_Item]) -> None:
        items = [item for item in batch if item.event is not None]
        events = [item.event for item in items if item.event is not None]
        if events:
            try:
                results = await self._apply_waiting_out_locks(events)
            except Exception:
                self.stats.failed_batches += 1
                log.exception("Vote batch of %d events failed; applying them one by one", len(events))
                await self._apply_one_by_one(items)
            else:
                for item, result in zip(items, results, strict=True):
                    _resolve(item.future, result)
            self.stats.batches += 1
            self.stats.events += len(events)
        for item in batch:
            if item.event is None:
                _resolve(item.future, None)

    async def _apply_one_by_one(self, items: list[_Item]) -> None:
        for item in items:
            assert item.event is not None
            try:
                result = (await self._apply_waiting_out_locks([item.event]))[0]
            except Exception as exc:
                self.stats.failed_events += 1
                log.exception("Dropped a vote event that cannot be stored: %s", item.event)
                if item.future is not None and not item.future.done():
                    item.future.set_exception(exc)
            else:
                _resolve(item.future, result)


def _resolve(future: asyncio.Future[object] | None, result: object) -> None:
    if future is not None and not future.done():
        future.set_result(result)
