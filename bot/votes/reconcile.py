"""Reconciliation after downtime and after a new gateway session: the reactions on tracked messages compared with the
ones the bot last saw, and the difference applied like live events (in line with them when the processor runs)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from bot.votes.events import ReconcileCounts, ReconcileMessage, Untrack, VoteEvent
from bot.votes.processor import VoteProcessor
from bot.votes.store import VoteStore

log = logging.getLogger(__name__)

RECONCILE_DAYS = 14


class MessageGone(Exception):
    """The message no longer exists (404 Unknown Message): stop tracking it."""


class ChannelGone(Exception):
    """The channel no longer exists or cannot be seen any more (404 Unknown Channel): stop tracking its messages."""


FetchReactors = Callable[[int, int, str], Awaitable[Iterable[int]]]  # (channel_id, message_id, emoji) -> member ids


async def reconcile_tracked_messages(
    store: VoteStore,
    fetch_reactors: FetchReactors,
    *,
    now: datetime,
    days: int = RECONCILE_DAYS,
    processor: VoteProcessor | None = None,
    in_guild: Callable[[int], bool] | None = None,
) -> ReconcileCounts:
    """Bring votes in line with the reactions on tracked, active messages posted in the last `days` days (of the
    servers `in_guild` accepts, when given: a gateway shard's).

    For each message, the members reacting now (from `fetch_reactors`, which must leave out bots) are compared with
    the reactions the bot last saw: a reaction added while offline is applied like a live one, a reaction removed
    while offline is retracted like a live one (so the vote goes only if that reaction set it). A restart with
    nothing changed offline changes nothing. With a running `processor` the diff is applied in line with live events;
    members with live events during the fetch are left to those events. A message or channel that is gone is
    untracked; any other fetch failure skips the message (logged).
    """
    totals = ReconcileCounts()
    channels_gone: set[int] = set()
    for message in await store.messages_to_reconcile(now - timedelta(days=days)):
        if message.channel_id in channels_gone or (in_guild is not None and not in_guild(message.guild_id)):
            continue
        if processor is not None:
            processor.watch(message.message_id)
        try:
            reactors = {
                emoji: frozenset(await fetch_reactors(message.channel_id, message.message_id, emoji))
                for emoji in message.emojis
            }
        except asyncio.CancelledError:  # a newer reconciliation replaces this one
            if processor is not None:
                processor.unwatch(message.message_id)
            raise
        except (MessageGone, ChannelGone) as exc:
            if processor is not None:
                processor.unwatch(message.message_id)
            gone = (
                Untrack("channel", (message.channel_id,))
                if isinstance(exc, ChannelGone)
                else Untrack("message", (message.message_id,))
            )
            if isinstance(exc, ChannelGone):
                channels_gone.add(message.channel_id)
            log.info("Untracking %s %s: it is gone", gone.scope, gone.ids[0])
            await _apply(store, processor, gone)
            continue
        except Exception:
            if processor is not None:
                processor.unwatch(message.message_id)
            log.warning("Could not read the reactions of message %s; skipping it", message.message_id, exc_info=True)
            continue
        result = await _apply(store, processor, ReconcileMessage(message.message_id, reactors))
        assert isinstance(result, ReconcileCounts)
        totals += result
    return totals


async def _apply(store: VoteStore, processor: VoteProcessor | None, event: VoteEvent) -> object:
    if processor is not None and processor.running:
        return await processor.submit_and_wait(event)
    return (await store.apply_batch([event]))[0]
