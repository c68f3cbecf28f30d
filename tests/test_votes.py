"""Votes: the reaction rules, ordering through the processor, failure injection, reconciliation, Wilson ranking."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_helpers import inject_failure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.common.clock import FakeClock, utc_iso
from bot.common.render import KEYCAPS
from bot.storage import Database, DatabaseUrl, IntegrityError, Location, open_database
from bot.votes import (
    THUMBS_DOWN,
    THUMBS_UP,
    ChannelGone,
    CommandVote,
    ForgetMember,
    MessageGone,
    ReactionClear,
    ReactionEvent,
    Untrack,
    VoteProcessor,
    VoteStore,
    list_emoji_map,
    reconcile_tracked_messages,
    show_emoji_map,
)
from bot.votes.events import ReconcileCounts, VoteEvent
from bot.votes.tallies import net_votes, top_shows, wilson_lower_bound

pytestmark = pytest.mark.both_engines  # every store here runs on SQLite and on PostgreSQL

GUILD = 1000
OTHER_GUILD = 2000
CHANNEL = 10
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SHOW_A, SHOW_B, SHOW_C = 1, 2, 3
MSG_A, MSG_B, MSG_LIST = 501, 502, 503  # 👍/👎 for A, 👍/👎 for B, keycaps for A, B, C
UNTRACKED = 999


async def add_shows(db: Database, count: int = 12) -> None:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO shows (id, title, title_norm, updated_at) VALUES (?, ?, ?, ?)",
            [(i, f"Show {i:02d}", f"show {i:02d}", utc_iso(START)) for i in range(1, count + 1)],
        )


@pytest.fixture
async def db(empty_location: Location) -> AsyncIterator[Database]:
    async with open_database(empty_location) as database:
        await add_shows(database)
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def store(db: Database, clock: FakeClock) -> VoteStore:
    store = VoteStore(db, clock)
    await store.track_message(MSG_A, GUILD, CHANNEL, "show", show_emoji_map(SHOW_A))
    await store.track_message(MSG_B, GUILD, CHANNEL, "show", show_emoji_map(SHOW_B))
    await store.track_message(MSG_LIST, GUILD, CHANNEL, "top", list_emoji_map([SHOW_A, SHOW_B, SHOW_C]))
    return store


def add(user: int, message: int, emoji: str, guild: int = GUILD) -> ReactionEvent:
    return ReactionEvent(True, guild, user, message, emoji)


def remove(user: int, message: int, emoji: str, guild: int = GUILD) -> ReactionEvent:
    return ReactionEvent(False, guild, user, message, emoji)


async def stored(db: Database) -> dict[tuple[int, int, int], tuple[int, int | None, str | None]]:
    rows = await db.fetchall("SELECT guild_id, user_id, show_id, value, message_id, emoji FROM votes")
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


async def run(store: VoteStore, events: Iterable[VoteEvent], max_batch: int = 500) -> VoteProcessor:
    processor = VoteProcessor(store, max_batch=max_batch)
    processor.start()
    for event in events:
        processor.submit(event)
    await processor.stop()
    return processor


@dataclass
class Model:
    """The rules, as plainly as they can be written: the reference the store is compared with."""

    maps: dict[int, tuple[int, dict[str, tuple[int, int]]]]
    votes: dict[tuple[int, int, int], tuple[int, int | None, str | None]] = field(default_factory=dict)

    def apply(self, event: VoteEvent) -> None:
        if isinstance(event, CommandVote):
            key = (event.guild_id, event.user_id, event.show_id)
            if event.value is None:
                self.votes.pop(key, None)
            else:
                self.votes[key] = (event.value, None, None)
            return
        assert isinstance(event, ReactionEvent)
        guild_and_map = self.maps.get(event.message_id)
        if guild_and_map is None or guild_and_map[0] != event.guild_id or event.emoji not in guild_and_map[1]:
            return
        show_id, value = guild_and_map[1][event.emoji]
        key = (event.guild_id, event.user_id, show_id)
        if event.added:
            self.votes[key] = (value, event.message_id, event.emoji)
        elif key in self.votes and self.votes[key][1:] == (event.message_id, event.emoji):
            del self.votes[key]


def standard_model() -> Model:
    return Model(
        {
            MSG_A: (GUILD, show_emoji_map(SHOW_A)),
            MSG_B: (GUILD, show_emoji_map(SHOW_B)),
            MSG_LIST: (GUILD, list_emoji_map([SHOW_A, SHOW_B, SHOW_C])),
        }
    )


# The rules --------------------------------------------------------------------------------------------------------


async def test_latest_reaction_wins_and_only_the_defining_removal_retracts(store: VoteStore, db: Database) -> None:
    await run(store, [add(7, MSG_A, THUMBS_UP), add(7, MSG_A, THUMBS_DOWN)])
    assert await stored(db) == {(GUILD, 7, SHOW_A): (-1, MSG_A, THUMBS_DOWN)}
    await run(store, [remove(7, MSG_A, THUMBS_UP)])  # no longer defines the vote: nothing changes
    assert await stored(db) == {(GUILD, 7, SHOW_A): (-1, MSG_A, THUMBS_DOWN)}
    await run(store, [remove(7, MSG_A, THUMBS_DOWN)])  # the reaction that set it: retracted
    assert await stored(db) == {}
    assert await store.tally(GUILD, SHOW_A) == (0, 0)


async def test_keycaps_upvote_the_numbered_show_and_share_the_vote_with_thumbs(store: VoteStore, db: Database) -> None:
    await run(store, [add(7, MSG_LIST, KEYCAPS[1]), add(8, MSG_LIST, KEYCAPS[2]), add(9, MSG_B, THUMBS_DOWN)])
    await run(store, [add(9, MSG_LIST, KEYCAPS[1])])  # one vote per show: the keycap replaces 9's downvote
    assert await stored(db) == {
        (GUILD, 7, SHOW_B): (1, MSG_LIST, KEYCAPS[1]),
        (GUILD, 8, SHOW_C): (1, MSG_LIST, KEYCAPS[2]),
        (GUILD, 9, SHOW_B): (1, MSG_LIST, KEYCAPS[1]),
    }
    await run(store, [remove(9, MSG_B, THUMBS_DOWN)])  # set on another message: no effect
    assert (await store.tally(GUILD, SHOW_B)) == (2, 0)


async def test_unknown_emoji_untracked_messages_and_other_servers_are_ignored(store: VoteStore, db: Database) -> None:
    await run(
        store,
        [
            add(7, MSG_A, "🔥"),
            add(7, MSG_A, KEYCAPS[0]),  # a keycap on a 👍/👎 message means nothing
            add(7, UNTRACKED, THUMBS_UP),
            add(7, MSG_A, THUMBS_UP, guild=OTHER_GUILD),
            add(7, MSG_LIST, KEYCAPS[5]),  # the list has three shows
        ],
    )
    assert await stored(db) == {}
    assert await db.fetchval("SELECT count(*) FROM vote_reactions") == 0


async def test_variation_selector_is_ignored_when_matching_emoji(store: VoteStore, db: Database) -> None:
    bare_keycap = KEYCAPS[0].replace("\ufe0f", "")
    await run(store, [add(7, MSG_LIST, bare_keycap)])
    assert await stored(db) == {(GUILD, 7, SHOW_A): (1, MSG_LIST, KEYCAPS[0])}
    await run(store, [remove(7, MSG_LIST, KEYCAPS[0])])
    assert await stored(db) == {}


async def test_command_votes_clear_and_are_not_retracted_by_reactions(store: VoteStore, db: Database) -> None:
    processor = VoteProcessor(store)
    processor.start()
    processor.submit(add(7, MSG_A, THUMBS_UP))
    vote = await processor.submit_and_wait(CommandVote(GUILD, 7, SHOW_A, -1))
    processor.submit(remove(7, MSG_A, THUMBS_UP))  # the reaction no longer defines the vote
    await processor.drain()
    assert await stored(db) == {(GUILD, 7, SHOW_A): (-1, None, None)}
    assert getattr(vote, "source", None) == "command"
    assert await processor.submit_and_wait(CommandVote(GUILD, 7, SHOW_A, None)) is None
    assert await processor.submit_and_wait(CommandVote(GUILD, 7, SHOW_B, None)) is None  # nothing to clear
    await processor.stop()
    assert await stored(db) == {}


async def test_forget_member_deletes_only_that_members_votes_in_that_server(store: VoteStore, db: Database) -> None:
    await store.track_message(600, OTHER_GUILD, 20, "show", show_emoji_map(SHOW_C))
    await run(store, [add(7, MSG_A, THUMBS_UP), add(7, MSG_B, THUMBS_DOWN), add(8, MSG_A, THUMBS_UP)])
    await run(store, [add(7, 600, THUMBS_UP, guild=OTHER_GUILD)])
    processor = VoteProcessor(store)
    processor.start()
    processor.submit(add(7, MSG_LIST, KEYCAPS[2]))  # queued before the forget: forgotten too
    deleted = await processor.submit_and_wait(ForgetMember(GUILD, 7))
    await processor.stop()
    assert deleted == 3
    assert set(await stored(db)) == {(GUILD, 8, SHOW_A), (OTHER_GUILD, 7, SHOW_C)}
    assert await store.apply_batch([ForgetMember(GUILD, 8)]) == [1]
    assert await stored(db) == {(OTHER_GUILD, 7, SHOW_C): (1, 600, THUMBS_UP)}


async def test_untracking_keeps_votes_and_stops_voting(store: VoteStore, db: Database) -> None:
    await run(store, [add(7, MSG_A, THUMBS_UP), add(8, MSG_B, THUMBS_UP)])
    assert await store.apply_batch([Untrack("message", (MSG_A,))]) == [1]
    await run(store, [add(9, MSG_A, THUMBS_UP), remove(7, MSG_A, THUMBS_UP)])  # ignored: not tracked any more
    assert await store.apply_batch([Untrack("channel", (CHANNEL,)), Untrack("guild", (GUILD,))]) == [2, 0]
    assert set(await stored(db)) == {(GUILD, 7, SHOW_A), (GUILD, 8, SHOW_B)}
    await store.track_message(MSG_A, GUILD, CHANNEL, "show", show_emoji_map(SHOW_A))  # tracking again reactivates
    await run(store, [add(9, MSG_A, THUMBS_UP)])
    assert set(await stored(db)) == {(GUILD, 7, SHOW_A), (GUILD, 8, SHOW_B), (GUILD, 9, SHOW_A)}


async def test_direct_store_api(store: VoteStore, db: Database, clock: FakeClock) -> None:
    await store.set_vote(GUILD, 7, SHOW_A, 1, "import")
    clock.advance(timedelta(minutes=1))
    await store.set_vote(GUILD, 7, SHOW_B, -1, "command")
    await store.set_vote(GUILD, 8, SHOW_A, -1, "command")
    with pytest.raises(ValueError, match="vote"):
        await store.set_vote(GUILD, 7, SHOW_C, 0, "command")
    assert await store.tally(GUILD, SHOW_A) == (1, 1)
    assert await net_votes(db, GUILD) == {SHOW_A: 0, SHOW_B: -1}
    page1 = await store.member_votes(GUILD, 7, 0, 1)
    page2 = await store.member_votes(GUILD, 7, 1, 1)
    vote = page1[0]
    assert (vote.value, vote.source, vote.updated_at) == (-1, "command", utc_iso(clock.now()))
    assert [v.show_id for v in page1 + page2] == [SHOW_B, SHOW_A]  # most recent first
    assert await store.member_vote_count(GUILD, 7) == 2
    assert await store.clear_vote(GUILD, 7, SHOW_B) is True
    assert await store.clear_vote(GUILD, 7, SHOW_B) is False
    exported = await store.export()
    assert exported[0] == {
        "guild_id": GUILD,
        "user_id": 7,
        "show_id": SHOW_A,
        "title": "Show 01",
        "value": 1,
        "source": "import",
        "updated_at": utc_iso(START),
    }
    assert len(exported) == 2
    assert await store.export(OTHER_GUILD) == []


# Ordering ---------------------------------------------------------------------------------------------------------

MEMBERS = (7, 8, 9)
EMOJI_BY_MESSAGE = {MSG_A: (THUMBS_UP, THUMBS_DOWN, "🔥"), MSG_B: (THUMBS_UP, THUMBS_DOWN), MSG_LIST: KEYCAPS[:4]}


@st.composite
def reaction_events(draw: st.DrawFn) -> ReactionEvent:
    """Mostly meaningful reactions (the message's own emoji, this server), some noise the rules must ignore."""
    message = draw(st.sampled_from([MSG_A, MSG_A, MSG_B, MSG_LIST, MSG_LIST, UNTRACKED]))
    emoji = draw(st.sampled_from(EMOJI_BY_MESSAGE.get(message, (THUMBS_UP,))))
    guild = draw(st.sampled_from([GUILD] * 9 + [OTHER_GUILD]))
    return ReactionEvent(draw(st.booleans()), guild, draw(st.sampled_from(MEMBERS)), message, emoji)


command_events = st.builds(
    CommandVote,
    guild_id=st.just(GUILD),
    user_id=st.sampled_from(MEMBERS),
    show_id=st.sampled_from([SHOW_A, SHOW_B, SHOW_C]),
    value=st.sampled_from([1, -1, None]),
)
event_lists = st.lists(st.one_of(reaction_events(), reaction_events(), reaction_events(), command_events), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=event_lists, max_batch=st.integers(1, 8), seed=st.integers(0, 2**16))
async def test_interleaved_listeners_store_what_the_gateway_order_says(
    store: VoteStore, db: Database, events: list[VoteEvent], max_batch: int, seed: int
) -> None:
    """Each event handled by its own task that awaits at random points after queueing: the result is the model's."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM votes")
        await conn.execute("DELETE FROM vote_reactions")
    rng = random.Random(seed)
    processor = VoteProcessor(store, max_batch=max_batch)
    processor.start()

    async def listener(event: VoteEvent, pause: float) -> None:
        processor.submit(event)  # before any await, as the cog does
        await asyncio.sleep(pause)

    await asyncio.gather(*(listener(event, rng.choice([0, 0, 0.001])) for event in events))
    await processor.stop()
    model = standard_model()
    for event in events:
        model.apply(event)
    assert await stored(db) == model.votes


# Failures ---------------------------------------------------------------------------------------------------------


async def test_a_database_error_drops_one_event_and_the_consumer_goes_on(store: VoteStore, db: Database) -> None:
    # A real database error for one member: a trigger aborts his inserts.
    await inject_failure(db, "votes", "user_id = 666")
    events = [add(7, MSG_A, THUMBS_UP), add(666, MSG_A, THUMBS_UP), add(8, MSG_B, THUMBS_DOWN)]
    processor = await run(store, events)
    assert set(await stored(db)) == {(GUILD, 7, SHOW_A), (GUILD, 8, SHOW_B)}
    assert (processor.stats.failed_batches, processor.stats.failed_events) == (1, 1)
    processor = VoteProcessor(store)
    processor.start()
    with pytest.raises(IntegrityError, match="injected failure"):
        await processor.submit_and_wait(CommandVote(GUILD, 666, SHOW_C, 1))
    processor.submit(add(9, MSG_B, THUMBS_UP))  # still consuming
    await processor.stop()
    assert (GUILD, 9, SHOW_B) in await stored(db)
    if db.engine == "sqlite":
        assert await db.fetchval("PRAGMA integrity_check") == "ok"


class FlakyStore(VoteStore):
    """Fails the first `failures` batches of more than one event, like a briefly locked database would."""

    def __init__(self, db: Database, clock: FakeClock, failures: int) -> None:
        super().__init__(db, clock)
        self.failures = failures

    async def apply_batch(self, events: object) -> list[object]:  # type: ignore[override]
        assert isinstance(events, list)
        if len(events) > 1 and self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database is locked")
        return await super().apply_batch(events)


async def test_a_failed_batch_is_replayed_one_by_one_in_order(db: Database, clock: FakeClock) -> None:
    flaky = FlakyStore(db, clock, failures=2)
    await flaky.track_message(MSG_A, GUILD, CHANNEL, "show", show_emoji_map(SHOW_A))
    events = [add(7, MSG_A, THUMBS_UP), add(7, MSG_A, THUMBS_DOWN), remove(7, MSG_A, THUMBS_UP), add(8, MSG_A, "👎")]
    processor = await run(flaky, events)
    assert processor.stats.failed_batches == 1 and processor.stats.failed_events == 0
    assert await stored(db) == {(GUILD, 7, SHOW_A): (-1, MSG_A, THUMBS_DOWN), (GUILD, 8, SHOW_A): (-1, MSG_A, "👎")}


# Reconciliation ---------------------------------------------------------------------------------------------------


@dataclass
class FakeReactions:
    """What Discord would answer on the reaction-users route."""

    present: dict[tuple[int, str], set[int]] = field(default_factory=dict)
    gone_messages: set[int] = field(default_factory=set)
    gone_channels: set[int] = field(default_factory=set)
    broken: set[int] = field(default_factory=set)
    calls: list[tuple[int, int, str]] = field(default_factory=list)

    def set(self, message_id: int, emoji: str, users: Iterable[int]) -> None:
        self.present[(message_id, emoji)] = set(users)

    async def fetch(self, channel_id: int, message_id: int, emoji: str) -> list[int]:
        self.calls.append((channel_id, message_id, emoji))
        if channel_id in self.gone_channels:
            raise ChannelGone(channel_id)
        if message_id in self.gone_messages:
            raise MessageGone(message_id)
        if message_id in self.broken:
            raise RuntimeError("503 Service Unavailable")
        return sorted(self.present.get((message_id, emoji), set()))


async def test_reconcile_applies_what_changed_while_offline(store: VoteStore, db: Database) -> None:
    live = [
        add(1, MSG_A, THUMBS_UP),  # will remove it offline
        add(2, MSG_A, THUMBS_UP),  # will switch to 👎 offline
        add(3, MSG_A, THUMBS_UP),
        add(3, MSG_A, THUMBS_DOWN),  # both present, the vote is 👎: kept
        add(4, MSG_A, THUMBS_UP),
        add(4, MSG_A, THUMBS_DOWN),
        remove(4, MSG_A, THUMBS_DOWN),  # retracted live, 👍 still there: a restart must not bring it back
        add(5, MSG_B, THUMBS_UP),  # nothing changes
    ]
    await run(store, live)
    await run(store, [CommandVote(GUILD, 6, SHOW_B, 1)])  # then reacts 👎 offline: the reaction is newer
    discord = FakeReactions()
    discord.set(MSG_A, THUMBS_UP, {3, 4})
    discord.set(MSG_A, THUMBS_DOWN, {2, 3, 7})  # 7: new offline
    discord.set(MSG_B, THUMBS_UP, {5})
    discord.set(MSG_B, THUMBS_DOWN, {6})
    discord.set(MSG_LIST, KEYCAPS[2], {8})  # 8: new offline
    counts = await reconcile_tracked_messages(store, discord.fetch, now=START)
    assert counts == ReconcileCounts(added=2, removed=1, changed=2)
    assert await stored(db) == {
        (GUILD, 2, SHOW_A): (-1, MSG_A, THUMBS_DOWN),
        (GUILD, 3, SHOW_A): (-1, MSG_A, THUMBS_DOWN),
        (GUILD, 5, SHOW_B): (1, MSG_B, THUMBS_UP),
        (GUILD, 6, SHOW_B): (-1, MSG_B, THUMBS_DOWN),
        (GUILD, 7, SHOW_A): (-1, MSG_A, THUMBS_DOWN),
        (GUILD, 8, SHOW_C): (1, MSG_LIST, KEYCAPS[2]),
    }
    assert await db.fetchval("SELECT count(*) FROM votes WHERE source = 'reconcile'") == 4
    assert await reconcile_tracked_messages(store, discord.fetch, now=START) == ReconcileCounts()  # idempotent


async def test_reconcile_after_a_crash_matches_the_full_replay(store: VoteStore, db: Database) -> None:
    """Events after the last commit were lost; the reactions on Discord bring the votes back."""
    rng = random.Random(5)
    events: list[VoteEvent] = []
    holding: set[tuple[int, int, str]] = set()
    for _ in range(400):
        user, message = rng.randrange(30), rng.choice([MSG_A, MSG_B, MSG_LIST])
        # The list's keycap for show C only: a show reachable from two messages makes the offline order matter.
        emoji = rng.choice(EMOJI_BY_MESSAGE[message][:2] if message != MSG_LIST else KEYCAPS[2:3])
        if (user, message, emoji) in holding:
            holding.discard((user, message, emoji))
            events.append(remove(user, message, emoji))
        elif not any(h[:2] == (user, message) for h in holding):  # one reaction per member and message at a time
            holding.add((user, message, emoji))
            events.append(add(user, message, emoji))
    await run(store, events[:250])  # processed before the crash
    discord = FakeReactions()
    for user, message, emoji in holding:
        discord.present.setdefault((message, emoji), set()).add(user)
    counts = await reconcile_tracked_messages(store, discord.fetch, now=START)
    model = standard_model()
    for event in events:
        model.apply(event)
    # Same votes as replaying every event (the anchors match too; only the source differs).
    assert await stored(db) == model.votes
    assert counts.total > 0


async def test_reconcile_untracks_gone_messages_and_channels_and_skips_failures(
    store: VoteStore, db: Database, clock: FakeClock
) -> None:
    await store.track_message(601, GUILD, 77, "show", show_emoji_map(SHOW_C))
    await store.track_message(602, GUILD, 77, "show", show_emoji_map(4))
    await run(store, [add(1, MSG_A, THUMBS_UP), add(1, MSG_B, THUMBS_UP), add(1, 601, THUMBS_UP)])
    discord = FakeReactions(gone_messages={MSG_A}, gone_channels={77}, broken={MSG_B})
    counts = await reconcile_tracked_messages(store, discord.fetch, now=START)
    assert counts == ReconcileCounts()
    active = {row[0] for row in await db.fetchall("SELECT message_id FROM vote_messages WHERE active = 1")}
    assert active == {MSG_B, MSG_LIST}  # the broken fetch is retried next time
    assert len(await stored(db)) == 3  # votes stay
    assert [call[1] for call in discord.calls].count(602) == 0  # the channel was known gone after 601


async def test_reconcile_only_reads_messages_of_the_last_14_days(store: VoteStore, clock: FakeClock) -> None:
    clock.advance(timedelta(days=15))
    await store.track_message(700, GUILD, CHANNEL, "show", show_emoji_map(SHOW_C))
    discord = FakeReactions()
    discord.set(700, THUMBS_UP, {5})
    discord.set(MSG_A, THUMBS_UP, {5})
    counts = await reconcile_tracked_messages(store, discord.fetch, now=clock.now())
    assert counts == ReconcileCounts(added=1)
    assert {call[1] for call in discord.calls} == {700}


async def test_reconcile_in_line_with_live_events_leaves_members_acting_during_the_fetch(
    store: VoteStore, db: Database
) -> None:
    processor = VoteProcessor(store)
    processor.start()
    processor.submit(add(1, MSG_A, THUMBS_UP))
    await processor.drain()
    discord = FakeReactions()
    discord.set(MSG_A, THUMBS_UP, {1, 2})  # 2 reacted offline

    async def fetch_during_live_events(channel_id: int, message_id: int, emoji: str) -> list[int]:
        users = await discord.fetch(channel_id, message_id, emoji)
        if message_id == MSG_A and emoji == THUMBS_UP:
            # While the answer travels, member 1 removes 👍 (the answer still lists him) and member 2 adds 👎.
            processor.submit(remove(1, MSG_A, THUMBS_UP))
            processor.submit(add(2, MSG_A, THUMBS_DOWN))
            discord.set(MSG_A, THUMBS_UP, {2})
            discord.set(MSG_A, THUMBS_DOWN, {2})
        return users

    counts = await reconcile_tracked_messages(store, fetch_during_live_events, now=START, processor=processor)
    assert counts == ReconcileCounts()  # both members are settled by their own live events
    assert await stored(db) == {(GUILD, 2, SHOW_A): (-1, MSG_A, THUMBS_DOWN)}
    # Member 2's offline 👍 was recorded without overriding his newer 👎: the next start changes nothing.
    assert await reconcile_tracked_messages(store, discord.fetch, now=START, processor=processor) == ReconcileCounts()
    await processor.stop()
    assert await stored(db) == {(GUILD, 2, SHOW_A): (-1, MSG_A, THUMBS_DOWN)}


async def test_a_clear_during_the_fetch_is_not_undone_by_the_reactions_read_before_it(
    store: VoteStore, db: Database
) -> None:
    """A moderator clears 👍 while reconciliation reads the message: the fetched list (from before the clear) must not
    bring back the cleared reactions' votes; 👎, not cleared, is reconciled as usual."""
    processor = VoteProcessor(store)
    processor.start()
    processor.submit(add(1, MSG_A, THUMBS_UP))
    await processor.drain()
    discord = FakeReactions()
    discord.set(MSG_A, THUMBS_UP, {1, 2})  # 2 reacted 👍 offline
    discord.set(MSG_A, THUMBS_DOWN, {3})  # 3 reacted 👎 offline

    async def fetch_then_clear(channel_id: int, message_id: int, emoji: str) -> list[int]:
        users = await discord.fetch(channel_id, message_id, emoji)
        if message_id == MSG_A and emoji == THUMBS_UP:
            processor.submit(ReactionClear(GUILD, MSG_A, THUMBS_UP))  # while the answer travels
            discord.set(MSG_A, THUMBS_UP, set())
        return users

    counts = await reconcile_tracked_messages(store, fetch_then_clear, now=START, processor=processor)
    assert counts == ReconcileCounts(added=1)  # member 3's 👎 only
    assert await stored(db) == {(GUILD, 3, SHOW_A): (-1, MSG_A, THUMBS_DOWN)}
    assert await reconcile_tracked_messages(store, discord.fetch, now=START, processor=processor) == ReconcileCounts()
    await processor.stop()


async def test_clearing_all_reactions_retracts_only_the_votes_they_set(store: VoteStore, db: Database) -> None:
    await run(
        store,
        [
            add(1, MSG_A, THUMBS_UP),
            add(2, MSG_A, THUMBS_UP),
            add(2, MSG_A, THUMBS_DOWN),
            add(3, MSG_B, THUMBS_UP),
            CommandVote(GUILD, 4, SHOW_A, 1),
        ],
    )
    cleared = await store.apply_batch([ReactionClear(GUILD, MSG_A, None), ReactionClear(GUILD + 1, MSG_B, None)])
    assert cleared == [3, 0]  # three reactions on A; B is another server's message: ignored
    assert await stored(db) == {
        (GUILD, 3, SHOW_B): (1, MSG_B, THUMBS_UP),
        (GUILD, 4, SHOW_A): (1, None, None),
    }
    assert await db.fetchval("SELECT count(*) FROM vote_reactions WHERE message_id = ?", (MSG_A,)) == 0


# Leaderboards -----------------------------------------------------------------------------------------------------


def test_wilson_lower_bound_known_values_and_ordering() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(1, 0) == pytest.approx(0.2065, abs=1e-4)
    assert wilson_lower_bound(10, 0) == pytest.approx(0.7225, abs=1e-4)
    assert wilson_lower_bound(50, 50) == pytest.approx(0.4038, abs=1e-4)
    assert wilson_lower_bound(40, 5) > wilson_lower_bound(3, 0)
    assert wilson_lower_bound(3, 0) > wilson_lower_bound(30, 30)
    for up in range(30):
        for down in range(30):
            low = wilson_lower_bound(up, down)
            assert 0.0 <= low <= (up / (up + down) if up + down else 0.0)
            assert wilson_lower_bound(up + 1, down) >= low
            assert wilson_lower_bound(up, down + 1) <= low


async def test_top_shows_ranks_by_wilson_in_the_server_period_genre_and_service(
    store: VoteStore, db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO genres (id, name) VALUES (1, 'Drama')")
        await conn.executemany("INSERT INTO show_genres (show_id, genre_id) VALUES (?, 1)", [(1,), (3,)])
        await conn.execute(
            "INSERT INTO availability (show_id, service, updated_at) VALUES (3, 'Netflix', ?)", (utc_iso(START),)
        )
    # Two months ago: show 4 was loved.
    for user in range(20):
        await store.set_vote(GUILD, user, 4, 1, "command")
    clock.advance(timedelta(days=60))
    for user in range(12):  # show 1: 10 up, 2 down; show 2: 3 up; show 3: 6 up, 6 down
        await store.set_vote(GUILD, user, 1, 1 if user < 10 else -1, "command")
        await store.set_vote(GUILD, user, 3, 1 if user % 2 else -1, "command")
    for user in range(3):
        await store.set_vote(GUILD, user, 2, 1, "command")
    await store.set_vote(OTHER_GUILD, 1, 5, 1, "command")
    now = clock.now()
    week = await top_shows(db, GUILD, "week", now=now)
    assert [(s.show_id, s.up, s.down) for s in week] == [(1, 10, 2), (2, 3, 0), (3, 6, 6)]
    assert week[0].title == "Show 01"
    assert [s.show_id for s in await top_shows(db, GUILD, "all", now=now)] == [4, 1, 2, 3]
    assert [s.show_id for s in await top_shows(db, GUILD, "all", now=now, limit=2)] == [4, 1]
    assert [s.show_id for s in await top_shows(db, GUILD, "month", genre="drama", now=now)] == [1, 3]
    assert [s.show_id for s in await top_shows(db, GUILD, "all", service="netflix", now=now)] == [3]
    assert await top_shows(db, OTHER_GUILD, "all", genre="Drama", now=now) == []
    with pytest.raises(ValueError, match="period"):
        await top_shows(db, GUILD, "year", now=now)  # type: ignore[arg-type]


# Export -----------------------------------------------------------------------------------------------------------


async def test_cli_votes_export_json_jsonl_and_table(
    store: VoteStore, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bot.app.cli import main

    await store.set_vote(GUILD, 7, SHOW_A, 1, "command")
    await store.set_vote(OTHER_GUILD, 8, SHOW_B, -1, "reaction", message_id=MSG_B, emoji=THUMBS_DOWN)
    if isinstance(db.location, DatabaseUrl):
        monkeypatch.setenv("DATABASE_URL", db.location.url)
    else:
        monkeypatch.setenv("DATABASE_PATH", str(db.location))
    # main() runs its own event loop: call it from a worker thread.
    assert await asyncio.to_thread(main, ["votes", "export", "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert [(row["guild_id"], row["user_id"], row["title"], row["value"]) for row in everything] == [
        (GUILD, 7, "Show 01", 1),
        (OTHER_GUILD, 8, "Show 02", -1),
    ]
    assert set(everything[0]) == {"guild_id", "user_id", "show_id", "title", "value", "source", "updated_at"}
    assert await asyncio.to_thread(main, ["votes", "export", "--guild", str(OTHER_GUILD), "--jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["user_id"] for line in lines] == [8]
    assert await asyncio.to_thread(main, ["votes", "export"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["guild", "member", "show", "title", "vote", "source", "updated"]
    assert "Show 02" in table[2] and "-1" in table[2]


def test_vote_reconcile_delay_setting() -> None:
    from bot.common.config import ConfigError, Settings

    assert Settings.from_env({}).vote_reconcile_delay == 0.2
    assert Settings.from_env({"VOTE_RECONCILE_DELAY": "0"}).vote_reconcile_delay == 0.0
    for bad in ("-1", "soon", "nan", "61"):
        with pytest.raises(ConfigError, match="VOTE_RECONCILE_DELAY"):
            Settings.from_env({"VOTE_RECONCILE_DELAY": bad})
