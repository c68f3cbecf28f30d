"""The batch engine: the events of one transaction applied in order, with votes and reactions read once, changed in
memory, and written once (one `executemany` per table), which keeps thousands of events per second cheap.

The rules (one vote per server, member and show, +1 or -1):
- Adding a mapped reaction sets the member's vote for that reaction's show; the latest action wins.
- Removing a reaction retracts the vote only when that exact reaction (message and emoji) set the current vote;
  removing a reaction that no longer defines the vote changes nothing.
- Reactions on untracked or deactivated messages, other emoji, and reactions from another server are ignored.
  Filtering bots is the caller's job (the cog knows who is a bot).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.storage import Transaction
from bot.votes.emoji import emoji_key
from bot.votes.events import (
    CommandVote,
    ForgetMember,
    ReactionClear,
    ReactionEvent,
    ReconcileCounts,
    ReconcileMessage,
    Untrack,
    VoteEvent,
)
from bot.votes.records import (
    DELETE_VOTE,
    UPSERT_VOTE,
    VOTE_COLUMNS,
    ReactionKey,
    Vote,
    VoteChange,
    VoteKey,
    VoteSource,
    vote_from_row,
    vote_row,
)

if TYPE_CHECKING:  # the store creates batches: a runtime import would be circular
    from bot.votes.store import VoteStore


_FORGET_MEMBER = "DELETE FROM votes WHERE guild_id = ? AND user_id = ? RETURNING show_id, value"
_LOAD_VOTES = f"""
    SELECT {", ".join("v." + column for column in VOTE_COLUMNS.split(", "))}
    FROM json_each(?) AS k
    CROSS JOIN votes AS v
    ON v.guild_id = CAST(k.value ->> 0 AS BIGINT) AND v.user_id = CAST(k.value ->> 1 AS BIGINT)
    AND v.show_id = CAST(k.value ->> 2 AS BIGINT)
"""


@dataclass(slots=True)
class VoteBatch:
    """The state of one transaction: votes and reactions read once, changed in memory in event order, written once."""

    store: VoteStore
    conn: Transaction
    now: str
    votes: dict[VoteKey, Vote | None] = field(default_factory=dict)
    dirty_votes: set[VoteKey] = field(default_factory=set)
    original: dict[VoteKey, int | None] = field(default_factory=dict)  # each vote's value before this batch
    touched: dict[VoteKey, None] = field(default_factory=dict)  # votes this batch set, in order of last change
    reactions: dict[ReactionKey, bool] = field(default_factory=dict)  # pending: present or not

    async def prefetch(self, events: Sequence[VoteEvent]) -> None:
        reaction_events = [event for event in events if isinstance(event, ReactionEvent)]
        messages = await self.store._load_messages(self.conn, {event.message_id for event in reaction_events})
        keys: set[VoteKey] = set()
        for event in reaction_events:
            message = messages.get(event.message_id)
            target = message.target(event.emoji) if message else None
            if target is not None:
                keys.add((event.guild_id, event.user_id, target.show_id))
        keys.update(
            (event.guild_id, event.user_id, event.show_id) for event in events if isinstance(event, CommandVote)
        )
        await self.load_votes(keys)

    async def load_votes(self, keys: Iterable[VoteKey]) -> None:
        missing = [key for key in keys if key not in self.votes]
        if not missing:
            return
        for key in missing:
            self.votes[key] = None
        for row in await self.conn.fetchall(_LOAD_VOTES, (json.dumps(missing),)):
            vote = vote_from_row(row)
            self.votes[(vote.guild_id, vote.user_id, vote.show_id)] = vote
        for key in missing:
            loaded = self.votes[key]
            self.original.setdefault(key, None if loaded is None else loaded.value)

    async def vote(self, key: VoteKey) -> Vote | None:
        if key not in self.votes:
            await self.load_votes([key])
        return self.votes[key]

    async def put(self, key: VoteKey, vote: Vote | None) -> None:
        if key not in self.votes:
            await self.load_votes([key])  # the value before the batch, for listeners (normally prefetched)
        self.votes[key] = vote
        self.dirty_votes.add(key)
        self._touch(key)

    def _touch(self, key: VoteKey) -> None:
        self.touched.pop(key, None)
        self.touched[key] = None

    def changes(self) -> list[VoteChange]:
        """The net change of every vote this batch touched (nothing for a vote set back to what it was)."""
        found = []
        for key in self.touched:
            vote = self.votes.get(key)
            old, new = self.original.get(key), None if vote is None else vote.value
            if old != new:
                found.append(VoteChange(*key, old, new))
        return found

    async def apply(self, event: VoteEvent) -> object:
        if isinstance(event, ReactionEvent):
            await self.reaction(event, source="reaction")
            return None
        if isinstance(event, ReactionClear):
            return await self.clear(event)
        if isinstance(event, CommandVote):
            return await self.command(event)
        if isinstance(event, ForgetMember):
            return await self.forget(event)
        if isinstance(event, Untrack):
            return await self.untrack(event)
        return await self.reconcile(event)

    async def reaction(self, event: ReactionEvent, *, source: VoteSource) -> None:
        message = (await self.store._load_messages(self.conn, [event.message_id])).get(event.message_id)
        if message is None or not message.active or message.guild_id != event.guild_id:
            return
        target = message.target(event.emoji)
        if target is None:
            return
        self.reactions[(event.message_id, target.emoji, event.user_id)] = event.added
        key = (event.guild_id, event.user_id, target.show_id)
        if event.added:
            await self.put(key, Vote(*key, target.value, source, event.message_id, target.emoji, self.now))
            return
        current = await self.vote(key)
        if current is not None and current.message_id == event.message_id and current.emoji == target.emoji:
            await self.put(key, None)

    async def clear(self, event: ReactionClear) -> int:
        """Retract the cleared reactions the bot knows of (`vote_reactions`), each by the rule of a live removal.
        Result: how many members' reactions were cleared."""
        message = (await self.store._load_messages(self.conn, [event.message_id])).get(event.message_id)
        if message is None or not message.active or message.guild_id != event.guild_id:
            return 0
        target = None if event.emoji is None else message.target(event.emoji)
        if event.emoji is not None and target is None:
            return 0
        await self.flush()  # reactions recorded earlier in this batch must be seen below
        rows = await self.conn.fetchall(
            "SELECT emoji, user_id FROM vote_reactions"
            " WHERE message_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR emoji = ?2) ORDER BY user_id, emoji",
            (event.message_id, None if target is None else target.emoji),
        )
        cleared = [(str(emoji), int(user_id)) for emoji, user_id in rows]
        for emoji, user_id in cleared:
            removal = ReactionEvent(False, event.guild_id, user_id, event.message_id, emoji)
            await self.reaction(removal, source="reaction")
        return len(cleared)

    async def command(self, event: CommandVote) -> Vote | None:
        key = (event.guild_id, event.user_id, event.show_id)
        vote = None if event.value is None else Vote(*key, event.value, event.source, None, None, self.now)
        if vote is None and await self.vote(key) is None:
            return None
        await self.put(key, vote)
        return vote

    async def forget(self, event: ForgetMember) -> int:
        await self.flush()
        deleted = await self.conn.fetchall(_FORGET_MEMBER, (event.guild_id, event.user_id))
        for show_id, value in deleted:
            key = (event.guild_id, event.user_id, int(show_id))
            self.original.setdefault(key, int(value))  # a vote this batch had not read yet
            self.votes[key] = None
            self._touch(key)
        for key in [key for key in self.votes if key[:2] == (event.guild_id, event.user_id)]:
            self.votes[key] = None
        return len(deleted)

    async def untrack(self, event: Untrack) -> int:
        column = {"message": "message_id", "channel": "channel_id", "guild": "guild_id"}[event.scope]
        # The column name comes from the fixed mapping above, never from input.
        count = await self.conn.execute(
            f"UPDATE vote_messages SET active = 0 WHERE active = 1"
            f" AND {column} IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
            (json.dumps(list(event.ids)),),
        )
        if event.scope == "message":
            for message_id in event.ids:
                self.store._messages.pop(message_id, None)
        else:
            self.store.forget_cached_messages()
        return count

    async def reconcile(self, event: ReconcileMessage) -> ReconcileCounts:
        """Replay what changed on the message while the bot was away: removals first, then additions.

        Everything in the diff happened after every stored vote (the bot was offline), so additions may override
        command votes; only the order among the offline changes is unknown. Removing first makes the usual
        "switched from 👍 to 👎" come out right; a member who added both 👍 and 👎 offline gets the later emoji of
        the message's map.
        """
        counts = ReconcileCounts()
        message = (await self.store._load_messages(self.conn, [event.message_id])).get(event.message_id)
        if message is None or not message.active:
            return counts
        await self.flush()
        rows = await self.conn.fetchall(
            "SELECT emoji, user_id FROM vote_reactions WHERE message_id = ?", (event.message_id,)
        )
        known = {(emoji, user_id) for emoji, user_id in rows}
        actual: set[tuple[str, int]] = set()
        for emoji, users in event.reactors.items():
            target = message.target(emoji)
            if target is not None:
                actual.update((target.emoji, user_id) for user_id in users)
        order = {target.emoji: position for position, target in enumerate(message.targets.values())}
        removed = sorted(known - actual, key=lambda item: (item[1], order.get(item[0], 0)))
        added = sorted(actual - known, key=lambda item: (item[1], order.get(item[0], 0)))
        live_members = {user_id for user_id, _emoji in event.live}
        before: dict[VoteKey, Vote | None] = {}
        for was_added, (emoji, user_id) in [(False, item) for item in removed] + [(True, item) for item in added]:
            if (user_id, emoji_key(emoji)) in event.live:
                continue
            target = message.target(emoji)
            if target is None or user_id in live_members:
                # An emoji no longer in the map, or a member whose newer live event decides: bookkeeping only.
                self.reactions[(event.message_id, emoji, user_id)] = was_added
                continue
            key = (message.guild_id, user_id, target.show_id)
            if key not in before:
                before[key] = await self.vote(key)
            await self.reaction(
                ReactionEvent(was_added, message.guild_id, user_id, event.message_id, emoji), source="reconcile"
            )
        for key, old in before.items():
            new = self.votes.get(key)
            if old is None and new is not None:
                counts.added += 1
            elif old is not None and new is None:
                counts.removed += 1
            elif old is not None and new is not None and old.value != new.value:
                counts.changed += 1
        return counts

    async def flush(self) -> None:
        upserts = [vote_row(vote) for key in self.dirty_votes if (vote := self.votes[key]) is not None]
        deletes = [key for key in self.dirty_votes if self.votes[key] is None]
        if deletes:
            await self.conn.executemany(DELETE_VOTE, deletes)
        if upserts:
            await self.conn.executemany(UPSERT_VOTE, upserts)
        present = [key for key, is_present in self.reactions.items() if is_present]
        gone = [key for key, is_present in self.reactions.items() if not is_present]
        if gone:
            await self.conn.executemany(
                "DELETE FROM vote_reactions WHERE message_id = ? AND emoji = ? AND user_id = ?", gone
            )
        if present:
            await self.conn.executemany(
                "INSERT INTO vote_reactions (message_id, emoji, user_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                present,
            )
        self.dirty_votes.clear()
        self.reactions.clear()
