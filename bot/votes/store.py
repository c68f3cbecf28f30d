"""Votes: reaction voting with gateway order preserved, and reconciliation after downtime (counting: tallies.py).

The rules (one vote per server, member and show, +1 or -1):
- Adding a mapped reaction sets the member's vote for that reaction's show; the latest action wins.
- Removing a reaction retracts the vote only when that exact reaction (message and emoji) set the current vote;
  removing a reaction that no longer defines the vote changes nothing.
- Reactions on untracked or deactivated messages, other emoji, and reactions from another server are ignored.
  Filtering bots is the caller's job (the cog knows who is a bot).

Every change goes through one `VoteProcessor`: the cog enqueues each gateway event synchronously, before any
await, so the queue holds events in gateway order; one consumer applies them in that order, many per short
transaction (`VoteStore.apply_batch`), which keeps thousands of events per second cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

import aiosqlite

from bot.common.clock import Clock, SystemClock, utc_iso
from bot.common.render import KEYCAPS
from bot.storage import Database, retry_while_locked
from bot.votes.tallies import show_tally

log = logging.getLogger(__name__)

THUMBS_UP = "👍"
THUMBS_DOWN = "👎"
RECONCILE_DAYS = 14
VoteSource = Literal["reaction", "command", "reconcile", "import"]
EmojiMap = Mapping[str, tuple[int, int]]  # emoji -> (show_id, value)


def emoji_key(emoji: str) -> str:
    """The comparison form of an emoji: clients differ on the variation selector U+FE0F (1️⃣ vs 1⃣)."""
    return emoji.replace("\ufe0f", "")


def show_emoji_map(show_id: int) -> dict[str, tuple[int, int]]:
    """👍/👎 for a message about one show."""
    return {THUMBS_UP: (show_id, 1), THUMBS_DOWN: (show_id, -1)}


def list_emoji_map(show_ids: Sequence[int]) -> dict[str, tuple[int, int]]:
    """1️⃣…🔟 for a numbered list: each keycap is an upvote for the show at that position (at most ten)."""
    return {keycap: (show_id, 1) for keycap, show_id in zip(KEYCAPS, show_ids, strict=False)}


# Values -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vote:
    guild_id: int
    user_id: int
    show_id: int
    value: int
    source: str
    message_id: int | None
    emoji: str | None
    updated_at: str


@dataclass(frozen=True, slots=True)
class EmojiTarget:
    show_id: int
    value: int
    emoji: str  # as stored for the message (canonical form)


@dataclass(frozen=True, slots=True)
class TrackedMessage:
    message_id: int
    guild_id: int
    channel_id: int
    kind: str
    created_at: str
    active: bool
    targets: dict[str, EmojiTarget]  # emoji_key(emoji) -> target

    def target(self, emoji: str) -> EmojiTarget | None:
        return self.targets.get(emoji_key(emoji))

    @property
    def emojis(self) -> list[str]:
        return [target.emoji for target in self.targets.values()]


@dataclass(frozen=True, slots=True)
class MemberVote:
    show_id: int
    title: str
    value: int
    source: str
    updated_at: str


@dataclass(slots=True)
class ReconcileCounts:
    added: int = 0
    removed: int = 0
    changed: int = 0

    @property
    def total(self) -> int:
        return self.added + self.removed + self.changed

    def __iadd__(self, other: ReconcileCounts) -> ReconcileCounts:
        self.added += other.added
        self.removed += other.removed
        self.changed += other.changed
        return self


class VoteChange(NamedTuple):
    """One committed change of a member's vote (None: no vote), as listeners receive it."""

    guild_id: int
    user_id: int
    show_id: int
    old_value: int | None
    new_value: int | None


# Called after each committed transaction that changed votes, with the net change of every vote it touched (in the
# order they were last changed). Synchronous on purpose: it runs before anything else can read the new votes.
VoteListener = Callable[[Sequence[VoteChange]], object]


# Events: everything that changes votes goes through the processor, so all of it follows one order. ------------------


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    added: bool
    guild_id: int
    user_id: int
    message_id: int
    emoji: str


@dataclass(frozen=True, slots=True)
class ReactionClear:
    """A moderator removed every reaction from a message (emoji None: MESSAGE_REACTION_REMOVE_ALL) or every reaction
    with one emoji (MESSAGE_REACTION_REMOVE_EMOJI): each member's reaction is retracted as if they had removed it."""

    guild_id: int
    message_id: int
    emoji: str | None


@dataclass(frozen=True, slots=True)
class CommandVote:
    """/vote: value +1/-1 sets the vote, None clears it. Result: the vote afterwards (or None)."""

    guild_id: int
    user_id: int
    show_id: int
    value: int | None


@dataclass(frozen=True, slots=True)
class ForgetMember:
    """/forgetme. Result: how many votes were deleted."""

    guild_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Untrack:
    """A message, channel or server is gone: its messages stop being votable and reconciled; votes stay."""

    scope: Literal["message", "channel", "guild"]
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReconcileMessage:
    """The members reacting now with each mapped emoji of a message, as Discord reported them.

    `live` holds (member, emoji_key) pairs with live events for this message while its reactions were being fetched:
    those events are at least as new as the fetch, so the diff leaves these pairs alone, and for those members it
    only records reactions without touching their votes (a vote from the diff would land after their newer live
    event). Result: ReconcileCounts.
    """

    message_id: int
    reactors: Mapping[str, frozenset[int]]
    live: frozenset[tuple[int, str]] = frozenset()


VoteEvent = ReactionEvent | ReactionClear | CommandVote | ForgetMember | Untrack | ReconcileMessage


# The store ---------------------------------------------------------------------------------------------------------

_VOTE_COLUMNS = "guild_id, user_id, show_id, value, source, message_id, emoji, updated_at"
_UPSERT_VOTE = f"""
    INSERT INTO votes ({_VOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (guild_id, user_id, show_id) DO UPDATE SET
        value = excluded.value, source = excluded.source, message_id = excluded.message_id,
        emoji = excluded.emoji, updated_at = excluded.updated_at
"""
_DELETE_VOTE = "DELETE FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?"
_SELECT_VALUE = "SELECT value FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?"
_FORGET_MEMBER = "DELETE FROM votes WHERE guild_id = ? AND user_id = ? RETURNING show_id, value"
_LOAD_VOTES = f"""
    SELECT {", ".join("v." + column for column in _VOTE_COLUMNS.split(", "))}
    FROM json_each(?) AS k
    CROSS JOIN votes AS v ON v.guild_id = k.value ->> 0 AND v.user_id = k.value ->> 1 AND v.show_id = k.value ->> 2
"""
_LOAD_MESSAGES = """
    SELECT m.message_id, m.guild_id, m.channel_id, m.kind, m.created_at, m.active, e.emoji, e.show_id, e.value
    FROM json_each(?) AS k
    CROSS JOIN vote_messages AS m ON m.message_id = k.value
    LEFT JOIN vote_emoji AS e ON e.message_id = m.message_id
"""
_MESSAGE_CACHE_LIMIT = 20_000

VoteKey = tuple[int, int, int]  # guild, user, show
ReactionKey = tuple[int, str, int]  # message, emoji, user


def _vote_from_row(row: Sequence[Any]) -> Vote:
    return Vote(
        guild_id=row[0],
        user_id=row[1],
        show_id=row[2],
        value=row[3],
        source=row[4],
        message_id=row[5],
        emoji=row[6],
        updated_at=row[7],
    )


def _messages_from_rows(rows: Iterable[Sequence[Any]]) -> dict[int, TrackedMessage]:
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
        async with self.db.transaction() as conn:
            async with conn.execute(_SELECT_VALUE, (guild_id, user_id, show_id)) as cursor:
                old = await cursor.fetchone()
            await conn.execute(_UPSERT_VOTE, _vote_row(vote))
        old_value = None if old is None else int(old[0])
        if old_value != value:
            self._notify([VoteChange(guild_id, user_id, show_id, old_value, value)])
        return vote

    async def clear_vote(self, guild_id: int, user_id: int, show_id: int) -> bool:
        key = (guild_id, user_id, show_id)
        async with self.db.transaction() as conn, conn.execute(_DELETE_VOTE + " RETURNING value", key) as cursor:
            deleted = list(await cursor.fetchall())
        self._notify([VoteChange(guild_id, user_id, show_id, int(row[0]), None) for row in deleted])
        return bool(deleted)

    async def get_vote(self, guild_id: int, user_id: int, show_id: int) -> Vote | None:
        row = await self.db.fetchone(
            f"SELECT {_VOTE_COLUMNS} FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?",
            (guild_id, user_id, show_id),
        )
        return None if row is None else _vote_from_row(row)

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

    async def forget_member(self, guild_id: int, user_id: int) -> int:
        async with self.db.transaction() as conn, conn.execute(_FORGET_MEMBER, (guild_id, user_id)) as cursor:
            deleted = list(await cursor.fetchall())
        self._notify([VoteChange(guild_id, user_id, int(row[0]), int(row[1]), None) for row in deleted])
        return len(deleted)

    async def export(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Every stored vote (of one server, or all), in a stable order: a backup and a view for server owners."""
        rows = await self.db.fetchall(
            """SELECT v.guild_id, v.user_id, v.show_id, s.title, v.value, v.source, v.updated_at
               FROM votes AS v JOIN shows AS s ON s.id = v.show_id
               WHERE ?1 IS NULL OR v.guild_id = ?1
               ORDER BY v.guild_id, v.user_id, v.show_id""",
            (guild_id,),
        )
        keys = ("guild_id", "user_id", "show_id", "title", "value", "source", "updated_at")
        return [dict(zip(keys, tuple(row), strict=True)) for row in rows]

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
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO vote_messages (message_id, guild_id, channel_id, kind, created_at, active)
                   VALUES (?, ?, ?, ?, ?, 1)
                   ON CONFLICT (message_id) DO UPDATE SET
                       guild_id = excluded.guild_id, channel_id = excluded.channel_id, kind = excluded.kind,
                       active = 1""",
                (message_id, guild_id, channel_id, kind, self._now()),
            )
            await conn.execute("DELETE FROM vote_emoji WHERE message_id = ?", (message_id,))
            await conn.executemany(
                "INSERT INTO vote_emoji (message_id, emoji, show_id, value) VALUES (?, ?, ?, ?)",
                [(message_id, emoji, show_id, value) for emoji, (show_id, value) in emoji_map.items()],
            )
        self._messages.pop(message_id, None)

    async def tracked_message(self, message_id: int) -> TrackedMessage | None:
        found = await self._load_messages(self.db.reader, [message_id])
        return found.get(message_id)

    async def emoji_target(self, message_id: int, emoji: str) -> EmojiTarget | None:
        """What a reaction with `emoji` on the message votes for, if the message is tracked and active."""
        message = await self.tracked_message(message_id)
        if message is None or not message.active:
            return None
        return message.target(emoji)

    async def untrack_message(self, message_id: int) -> int:
        return await self._untrack(Untrack("message", (message_id,)))

    async def untrack_channel(self, channel_id: int) -> int:
        return await self._untrack(Untrack("channel", (channel_id,)))

    async def untrack_guild(self, guild_id: int) -> int:
        return await self._untrack(Untrack("guild", (guild_id,)))

    async def _untrack(self, event: Untrack) -> int:
        result = (await self.apply_batch([event]))[0]
        assert isinstance(result, int)
        return result

    async def messages_to_reconcile(self, since: datetime) -> list[TrackedMessage]:
        rows = await self.db.fetchall(
            "SELECT message_id FROM vote_messages WHERE active = 1 AND created_at >= ? ORDER BY created_at, message_id",
            (utc_iso(since),),
        )
        found = await self._load_messages(self.db.reader, [row[0] for row in rows])
        return [found[row[0]] for row in rows if row[0] in found]

    async def _load_messages(self, conn: aiosqlite.Connection, message_ids: Iterable[int]) -> dict[int, TrackedMessage]:
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
            async with conn.execute(_LOAD_MESSAGES, (json.dumps(missing),)) as cursor:
                loaded = _messages_from_rows(await cursor.fetchall())
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
            async with self.db.transaction() as conn:
                batch = _Batch(self, conn, self._now())
                await batch.prefetch(events)
                results = [await batch.apply(event) for event in events]
                await batch.flush()
        except BaseException:
            # The cache may hold rows read inside the rolled-back transaction.
            self.forget_cached_messages()
            raise
        self._notify(batch.changes())  # committed: now the rest of the bot may hear of it
        return results


@dataclass(slots=True)
class _Batch:
    """The state of one transaction: votes and reactions read once, changed in memory in event order, written once."""

    store: VoteStore
    conn: aiosqlite.Connection
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
        async with self.conn.execute(_LOAD_VOTES, (json.dumps(missing),)) as cursor:
            for row in await cursor.fetchall():
                vote = _vote_from_row(row)
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
        async with self.conn.execute(
            "SELECT emoji, user_id FROM vote_reactions WHERE message_id = ?1 AND (?2 IS NULL OR emoji = ?2)"
            " ORDER BY user_id, emoji",
            (event.message_id, None if target is None else target.emoji),
        ) as cursor:
            cleared = [(str(emoji), int(user_id)) for emoji, user_id in await cursor.fetchall()]
        for emoji, user_id in cleared:
            removal = ReactionEvent(False, event.guild_id, user_id, event.message_id, emoji)
            await self.reaction(removal, source="reaction")
        return len(cleared)

    async def command(self, event: CommandVote) -> Vote | None:
        key = (event.guild_id, event.user_id, event.show_id)
        vote = None if event.value is None else Vote(*key, event.value, "command", None, None, self.now)
        if vote is None and await self.vote(key) is None:
            return None
        await self.put(key, vote)
        return vote

    async def forget(self, event: ForgetMember) -> int:
        await self.flush()
        async with self.conn.execute(_FORGET_MEMBER, (event.guild_id, event.user_id)) as cursor:
            deleted = list(await cursor.fetchall())
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
        cursor = await self.conn.execute(
            f"UPDATE vote_messages SET active = 0 WHERE active = 1 AND {column} IN (SELECT value FROM json_each(?))",
            (json.dumps(list(event.ids)),),
        )
        if event.scope == "message":
            for message_id in event.ids:
                self.store._messages.pop(message_id, None)
        else:
            self.store.forget_cached_messages()
        return cursor.rowcount

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
        async with self.conn.execute(
            "SELECT emoji, user_id FROM vote_reactions WHERE message_id = ?", (event.message_id,)
        ) as cursor:
            known = {(emoji, user_id) for emoji, user_id in await cursor.fetchall()}
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
        upserts = [_vote_row(vote) for key in self.dirty_votes if (vote := self.votes[key]) is not None]
        deletes = [key for key in self.dirty_votes if self.votes[key] is None]
        if deletes:
            await self.conn.executemany(_DELETE_VOTE, deletes)
        if upserts:
            await self.conn.executemany(_UPSERT_VOTE, upserts)
        present = [key for key, is_present in self.reactions.items() if is_present]
        gone = [key for key, is_present in self.reactions.items() if not is_present]
        if gone:
            await self.conn.executemany(
                "DELETE FROM vote_reactions WHERE message_id = ? AND emoji = ? AND user_id = ?", gone
            )
        if present:
            await self.conn.executemany(
                "INSERT OR IGNORE INTO vote_reactions (message_id, emoji, user_id) VALUES (?, ?, ?)", present
            )
        self.dirty_votes.clear()
        self.reactions.clear()


def _vote_row(vote: Vote) -> tuple[Any, ...]:
    return (
        vote.guild_id,
        vote.user_id,
        vote.show_id,
        vote.value,
        vote.source,
        vote.message_id,
        vote.emoji,
        vote.updated_at,
    )


# The processor -----------------------------------------------------------------------------------------------------


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


# Reconciliation ----------------------------------------------------------------------------------------------------


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
) -> ReconcileCounts:
    """Bring votes in line with the reactions on tracked, active messages posted in the last `days` days.

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
        if message.channel_id in channels_gone:
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


def votes_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Exported votes as a plain-text table for a terminal."""
    if not rows:
        return "No votes stored."
    header = ("guild", "member", "show", "title", "vote", "source", "updated")
    lines = [
        (
            str(row["guild_id"]),
            str(row["user_id"]),
            str(row["show_id"]),
            row["title"] if len(row["title"]) <= 40 else row["title"][:39] + "…",
            "+1" if row["value"] > 0 else "-1",
            row["source"],
            row["updated_at"],
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *lines]) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *lines]
    )
