"""The vote store: one vote per server, member and show (+1 or -1), the votable messages with their emoji maps (cached),
and the listeners that hear of every committed change. Ordered changes are applied by `batch.VoteBatch`, one
transaction per batch of events (`apply_batch`); counting lives in `tallies`, exporting in `export`."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.common.clock import Clock, SystemClock, utc_iso
from bot.storage import Database, Reader, Row, retry_while_locked
from bot.votes.batch import VoteBatch
from bot.votes.emoji import EmojiMap, emoji_key
from bot.votes.events import VoteEvent
from bot.votes.export import export_votes
from bot.votes.records import (
    DELETE_VOTE,
    UPSERT_VOTE,
    EmojiTarget,
    MemberVote,
    TrackedMessage,
    Vote,
    VoteChange,
    VoteListener,
    VoteSource,
    vote_row,
)
from bot.votes.tallies import show_tally

log = logging.getLogger(__name__)

_SELECT_VALUE = "SELECT value FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?"
_LOAD_MESSAGES = """
    SELECT m.message_id, m.guild_id, m.channel_id, m.kind, m.created_at, m.active, e.emoji, e.show_id, e.value
    FROM json_each(?) AS k
    CROSS JOIN vote_messages AS m ON m.message_id = CAST(k.value AS BIGINT)
    LEFT JOIN vote_emoji AS e ON e.message_id = m.message_id
"""
_MESSAGE_CACHE_LIMIT = 20_000


def _messages_from_rows(rows: Iterable[Row]) -> dict[int, TrackedMessage]:
    found: dict[int, TrackedMessage] = {}
    for message_id, guild_id, channel_id, kind, created_at, active, emoji, show_id, value in rows:
        message = found.get(message_id)
        if message is None:
            message = TrackedMessage(message_id, guild_id, channel_id, kind, created_at, bool(active), {})
            found[message_id] = message
        if emoji is not None:
            message.targets[emoji_key(emoji)] = EmojiTarget(show_id, value, emoji)
    return found


class VoteStore:
    """Votes and votable messages in the database. Direct methods are one short transaction each.

    Changes that must follow the order of gateway events go through a `VoteProcessor`, which calls `apply_batch`.
    Listeners (`add_listener`) hear about every vote change this store commits, whichever method made it.
    """

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        # message_id -> TrackedMessage, or None for "not a votable message" (members react to many other messages).
        self._messages: dict[int, TrackedMessage | None] = {}
        self._listeners: list[VoteListener] = []

    def _now(self) -> str:
        return utc_iso(self.clock.now())

    # Listeners ----------------------------------------------------------------------------------------------------

    def add_listener(self, listener: VoteListener) -> None:
        """Call `listener(changes)` after every committed transaction of this store that changed votes."""
        self._listeners.append(listener)

    def remove_listener(self, listener: VoteListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _notify(self, changes: Sequence[VoteChange]) -> None:
        if not changes:
            return
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:  # the votes are committed: a listener's bug must not undo nor fail them
                log.exception("A vote listener failed on %d changes", len(changes))

    # Direct vote access -------------------------------------------------------------------------------------------

    async def set_vote(
        self,
        guild_id: int,
        user_id: int,
        show_id: int,
        value: int,
        source: VoteSource,
        *,
        message_id: int | None = None,
        emoji: str | None = None,
    ) -> Vote:
        if value not in (-1, 1):
            raise ValueError(f"a vote is +1 or -1, not {value!r}")
        vote = Vote(guild_id, user_id, show_id, value, source, message_id, emoji, self._now())
        async with self.db.transaction() as tx:
            old = await tx.fetchone(_SELECT_VALUE, (guild_id, user_id, show_id))
            await tx.execute(UPSERT_VOTE, vote_row(vote))
        old_value = None if old is None else int(old[0])
        if old_value != value:
            self._notify([VoteChange(guild_id, user_id, show_id, old_value, value)])
        return vote

    async def clear_vote(self, guild_id: int, user_id: int, show_id: int) -> bool:
        key = (guild_id, user_id, show_id)
        async with self.db.transaction() as tx:
            deleted = await tx.fetchall(DELETE_VOTE + " RETURNING value", key)
        self._notify([VoteChange(guild_id, user_id, show_id, int(row[0]), None) for row in deleted])
        return bool(deleted)

    async def tally(self, guild_id: int, show_id: int) -> tuple[int, int]:
        """(up, down) votes for the show in the server."""
        return await show_tally(self.db, guild_id, show_id)

    async def member_vote_count(self, guild_id: int, user_id: int) -> int:
        return int(
            await self.db.fetchval("SELECT count(*) FROM votes WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        )

    async def member_votes(self, guild_id: int, user_id: int, offset: int = 0, limit: int = 10) -> list[MemberVote]:
        """The member's votes in a server, most recent first."""
        rows = await self.db.fetchall(
            """SELECT v.show_id, s.title, v.value, v.source, v.updated_at
               FROM votes AS v JOIN shows AS s ON s.id = v.show_id
               WHERE v.guild_id = ? AND v.user_id = ?
               ORDER BY v.updated_at DESC, s.title, v.show_id
               LIMIT ? OFFSET ?""",
            (guild_id, user_id, limit, offset),
        )
        return [MemberVote(*row) for row in rows]

    async def export(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Every stored vote (of one server, or all), in a stable order: a backup and a view for server owners."""
        return await export_votes(self.db, guild_id)

    # Votable messages ---------------------------------------------------------------------------------------------

    async def track_message(
        self, message_id: int, guild_id: int, channel_id: int, kind: str, emoji_map: EmojiMap
    ) -> None:
        """Remember which emoji on this message votes for which show (again: replaces the previous map)."""
        for emoji, (_show_id, value) in emoji_map.items():
            if value not in (-1, 1) or not emoji:
                raise ValueError(f"bad emoji map entry {emoji!r}: value must be +1 or -1")
        # A message the bot posted must become votable even while another process holds the lock: else the votes
        # on it would be ignored. The command that posted it was deferred, and waits.
        await retry_while_locked(
            lambda: self._track(message_id, guild_id, channel_id, kind, emoji_map), f"Tracking message {message_id}"
        )

    async def _track(self, message_id: int, guild_id: int, channel_id: int, kind: str, emoji_map: EmojiMap) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                """INSERT INTO vote_messages (message_id, guild_id, channel_id, kind, created_at, active)
                   VALUES (?, ?, ?, ?, ?, 1)
                   ON CONFLICT (message_id) DO UPDATE SET
                       guild_id = excluded.guild_id, channel_id = excluded.channel_id, kind = excluded.kind,
                       active = 1""",
                (message_id, guild_id, channel_id, kind, self._now()),
            )
            await tx.execute("DELETE FROM vote_emoji WHERE message_id = ?", (message_id,))
            await tx.executemany(
                "INSERT INTO vote_emoji (message_id, emoji, show_id, value) VALUES (?, ?, ?, ?)",
                [(message_id, emoji, show_id, value) for emoji, (show_id, value) in emoji_map.items()],
            )
        self._messages.pop(message_id, None)

    async def messages_to_reconcile(self, since: datetime) -> list[TrackedMessage]:
        rows = await self.db.fetchall(
            "SELECT message_id FROM vote_messages WHERE active = 1 AND created_at >= ? ORDER BY created_at, message_id",
            (utc_iso(since),),
        )
        found = await self._load_messages(self.db, [row[0] for row in rows])
        return [found[row[0]] for row in rows if row[0] in found]

    async def _load_messages(self, reader: Reader, message_ids: Iterable[int]) -> dict[int, TrackedMessage]:
        """Tracked messages by id, from the cache or the database (one query for all the misses)."""
        found: dict[int, TrackedMessage] = {}
        missing: list[int] = []
        for message_id in set(message_ids):
            if message_id in self._messages:
                cached = self._messages[message_id]
                if cached is not None:
                    found[message_id] = cached
            else:
                missing.append(message_id)
        if missing:
            loaded = _messages_from_rows(await reader.fetchall(_LOAD_MESSAGES, (json.dumps(missing),)))
            if len(self._messages) + len(missing) > _MESSAGE_CACHE_LIMIT:
                self._messages.clear()
            for message_id in missing:
                self._messages[message_id] = loaded.get(message_id)
            found.update(loaded)
        return found

    def forget_cached_messages(self) -> None:
        self._messages.clear()

    # Ordered application ------------------------------------------------------------------------------------------

    async def apply_batch(self, events: Sequence[VoteEvent]) -> list[object]:
        """Apply events in order in ONE transaction; returns one result per event (see each event's docstring).

        On any exception the transaction is rolled back and nothing of the batch is stored.
        """
        try:
            async with self.db.transaction() as tx:
                batch = VoteBatch(self, tx, self._now())
                await batch.prefetch(events)
                results = [await batch.apply(event) for event in events]
                await batch.flush()
        except BaseException:
            # The cache may hold rows read inside the rolled-back transaction.
            self.forget_cached_messages()
            raise
        self._notify(batch.changes())  # committed: now the rest of the bot may hear of it
        return results
