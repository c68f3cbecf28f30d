"""Vote listeners: every committed vote change reaches them once, with the right old and new value, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.common.clock import FakeClock, utc_iso
from bot.common.render import KEYCAPS
from bot.storage import Database, IntegrityError, Location, open_database
from bot.votes import (
    THUMBS_DOWN,
    THUMBS_UP,
    CommandVote,
    ForgetMember,
    ReactionEvent,
    Untrack,
    VoteChange,
    VoteProcessor,
    VoteStore,
    list_emoji_map,
    show_emoji_map,
)
from bot.votes.events import ReconcileMessage, VoteEvent

pytestmark = pytest.mark.both_engines  # every store here runs on SQLite and on PostgreSQL

VoteKey = tuple[int, int, int]
GUILD, OTHER_GUILD = 1000, 2000
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SHOW_A, SHOW_B, SHOW_C = 1, 2, 3
MSG_A, MSG_B, MSG_LIST = 501, 502, 503  # 👍/👎 for A, 👍/👎 for B, keycaps for A, B, C


async def add_shows(db: Database, count: int = 5) -> None:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO shows (id, title, title_norm, updated_at) VALUES (?, ?, ?, ?)",
            [(i, f"Show {i}", f"show {i}", utc_iso(START)) for i in range(1, count + 1)],
        )


class Recorder:
    """A listener that replays the changes on its own copy of the votes, checking each old value as it goes."""

    def __init__(self, initial: dict[VoteKey, int] | None = None) -> None:
        self.votes: dict[VoteKey, int] = dict(initial or {})
        self.calls: list[list[VoteChange]] = []
        self.wrong_old_values: list[VoteChange] = []

    def __call__(self, changes: Sequence[VoteChange]) -> None:
        self.calls.append(list(changes))
        for change in changes:
            key = (change.guild_id, change.user_id, change.show_id)
            if self.votes.get(key) != change.old_value:
                self.wrong_old_values.append(change)
            if change.new_value is None:
                self.votes.pop(key, None)
            else:
                self.votes[key] = change.new_value

    @property
    def changes(self) -> list[VoteChange]:
        return [change for call in self.calls for change in call]


async def stored_values(db: Database) -> dict[VoteKey, int]:
    rows = await db.fetchall("SELECT guild_id, user_id, show_id, value FROM votes")
    return {(r[0], r[1], r[2]): r[3] for r in rows}


async def tracked_store(db: Database) -> VoteStore:
    store = VoteStore(db, FakeClock(START))
    await store.track_message(MSG_A, GUILD, 10, "show", show_emoji_map(SHOW_A))
    await store.track_message(MSG_B, GUILD, 10, "show", show_emoji_map(SHOW_B))
    await store.track_message(MSG_LIST, GUILD, 10, "top", list_emoji_map([SHOW_A, SHOW_B, SHOW_C]))
    return store


@pytest.fixture
async def db(empty_location: Location) -> AsyncIterator[Database]:
    async with open_database(empty_location) as database:
        await add_shows(database)
        yield database


@pytest.fixture
async def store(db: Database) -> VoteStore:
    return await tracked_store(db)


async def test_each_kind_of_change_reaches_the_listener_after_commit(store: VoteStore, db: Database) -> None:
    recorder = Recorder()
    store.add_listener(recorder)

    await store.apply_batch([ReactionEvent(True, GUILD, 1, MSG_A, THUMBS_UP)])
    assert recorder.calls == [[VoteChange(GUILD, 1, SHOW_A, None, 1)]]
    await store.apply_batch([ReactionEvent(True, GUILD, 1, MSG_A, THUMBS_DOWN)])  # switched
    assert recorder.calls[-1] == [VoteChange(GUILD, 1, SHOW_A, 1, -1)]
    await store.apply_batch([ReactionEvent(False, GUILD, 1, MSG_A, THUMBS_UP)])  # no longer defines it: nothing
    assert len(recorder.calls) == 2
    await store.apply_batch([ReactionEvent(True, GUILD, 1, MSG_LIST, KEYCAPS[2])])  # keycap 3: upvote C
    assert recorder.calls[-1] == [VoteChange(GUILD, 1, SHOW_C, None, 1)]
    await store.apply_batch([ReactionEvent(False, GUILD, 1, MSG_A, THUMBS_DOWN)])  # retracted
    assert recorder.calls[-1] == [VoteChange(GUILD, 1, SHOW_A, -1, None)]
    await store.apply_batch([CommandVote(GUILD, 1, SHOW_B, -1), CommandVote(GUILD, 2, SHOW_B, 1)])
    assert recorder.calls[-1] == [VoteChange(GUILD, 1, SHOW_B, None, -1), VoteChange(GUILD, 2, SHOW_B, None, 1)]
    await store.apply_batch([CommandVote(GUILD, 2, SHOW_B, 1)])  # the same vote again: no change
    await store.apply_batch([Untrack("message", (MSG_A,))])  # votes stay
    assert len(recorder.calls) == 5
    # /forgetme: every vote of the member in that server, including ones this batch had not read.
    await store.apply_batch([ForgetMember(GUILD, 1)])
    assert sorted(recorder.calls[-1]) == [VoteChange(GUILD, 1, SHOW_B, -1, None), VoteChange(GUILD, 1, SHOW_C, 1, None)]
    assert recorder.votes == await stored_values(db) == {(GUILD, 2, SHOW_B): 1}
    assert recorder.wrong_old_values == []


async def test_a_batch_reports_net_changes_in_the_order_of_their_last_change(store: VoteStore) -> None:
    recorder = Recorder()
    store.add_listener(recorder)
    await store.apply_batch(
        [
            CommandVote(GUILD, 1, SHOW_A, 1),
            CommandVote(GUILD, 1, SHOW_B, 1),
            CommandVote(GUILD, 1, SHOW_A, -1),  # A changed last
            CommandVote(GUILD, 1, SHOW_C, 1),
            CommandVote(GUILD, 1, SHOW_C, None),  # C: set and cleared in the batch, no net change
        ]
    )
    assert recorder.calls == [[VoteChange(GUILD, 1, SHOW_B, None, 1), VoteChange(GUILD, 1, SHOW_A, None, -1)]]


async def test_direct_methods_notify_too(store: VoteStore, db: Database) -> None:
    recorder = Recorder()
    store.add_listener(recorder)
    await store.set_vote(GUILD, 1, SHOW_A, 1, "command")
    await store.set_vote(GUILD, 1, SHOW_A, 1, "import")  # same value: nothing to hear
    await store.set_vote(GUILD, 1, SHOW_A, -1, "command")
    await store.set_vote(GUILD, 1, SHOW_B, 1, "command")
    assert await store.clear_vote(GUILD, 1, SHOW_B)
    assert not await store.clear_vote(GUILD, 1, SHOW_B)
    await store.set_vote(GUILD, 1, SHOW_C, 1, "command")
    assert await store.apply_batch([ForgetMember(GUILD, 1)]) == [2]
    forgotten = [VoteChange(GUILD, 1, SHOW_A, -1, None), VoteChange(GUILD, 1, SHOW_C, 1, None)]
    assert recorder.changes[:5] == [
        VoteChange(GUILD, 1, SHOW_A, None, 1),
        VoteChange(GUILD, 1, SHOW_A, 1, -1),
        VoteChange(GUILD, 1, SHOW_B, None, 1),
        VoteChange(GUILD, 1, SHOW_B, 1, None),
        VoteChange(GUILD, 1, SHOW_C, None, 1),
    ]
    assert sorted(recorder.changes[5:]) == forgotten
    assert await stored_values(db) == {}


async def test_reconciliation_changes_are_heard(store: VoteStore, db: Database) -> None:
    recorder = Recorder()
    store.add_listener(recorder)
    await store.apply_batch([ReactionEvent(True, GUILD, 1, MSG_A, THUMBS_UP)])
    # While the bot was away: member 1 took 👍 off, member 2 put 👎 on.
    await store.apply_batch([ReconcileMessage(MSG_A, {THUMBS_UP: frozenset(), THUMBS_DOWN: frozenset({2})})])
    assert recorder.calls[-1] == [VoteChange(GUILD, 1, SHOW_A, 1, None), VoteChange(GUILD, 2, SHOW_A, None, -1)]
    assert recorder.votes == await stored_values(db)


async def test_a_rolled_back_batch_is_not_heard_and_a_failing_listener_breaks_nothing(
    store: VoteStore, db: Database
) -> None:
    recorder = Recorder()

    def broken(changes: Sequence[VoteChange]) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(broken)
    store.add_listener(recorder)
    await store.apply_batch([CommandVote(GUILD, 1, SHOW_A, 1)])  # the broken listener is logged, the next one runs
    assert recorder.changes == [VoteChange(GUILD, 1, SHOW_A, None, 1)]
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        await store.apply_batch([CommandVote(GUILD, 1, SHOW_B, 1), CommandVote(GUILD, 1, 999_999, 1)])
    assert len(recorder.calls) == 1
    assert await stored_values(db) == {(GUILD, 1, SHOW_A): 1}
    store.remove_listener(recorder)
    store.remove_listener(recorder)  # twice: harmless
    await store.apply_batch([CommandVote(GUILD, 1, SHOW_B, 1)])
    assert len(recorder.calls) == 1


async def test_through_the_processor_a_failed_batch_replayed_one_by_one_is_heard_once(
    store: VoteStore, db: Database
) -> None:
    recorder = Recorder()
    store.add_listener(recorder)
    processor = VoteProcessor(store)
    processor.start()
    for event in [
        CommandVote(GUILD, 1, SHOW_A, 1),
        CommandVote(GUILD, 1, 999_999, 1),
        CommandVote(GUILD, 2, SHOW_B, -1),
    ]:
        processor.submit(event)
    await processor.stop()
    assert recorder.changes == [VoteChange(GUILD, 1, SHOW_A, None, 1), VoteChange(GUILD, 2, SHOW_B, None, -1)]
    assert recorder.votes == await stored_values(db)


MESSAGES = {MSG_A: (THUMBS_UP, THUMBS_DOWN), MSG_B: (THUMBS_UP, THUMBS_DOWN), MSG_LIST: KEYCAPS[:3]}
reaction = st.builds(
    lambda added, guild, user, message, position: ReactionEvent(
        added, guild, user, message, MESSAGES[message][position % len(MESSAGES[message])]
    ),
    st.booleans(),
    st.sampled_from([GUILD, GUILD, OTHER_GUILD]),
    st.integers(1, 3),
    st.sampled_from(sorted(MESSAGES)),
    st.integers(0, 2),
)
command = st.builds(
    CommandVote,
    st.sampled_from([GUILD, OTHER_GUILD]),
    st.integers(1, 3),
    st.sampled_from([SHOW_A, SHOW_B, SHOW_C]),
    st.sampled_from([1, -1, None]),
)
forget = st.builds(ForgetMember, st.sampled_from([GUILD, OTHER_GUILD]), st.integers(1, 3))
events = st.lists(st.one_of(reaction, reaction, command, forget), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=events,
    second=events,
    max_batch=st.integers(1, 8),
)
async def test_replaying_what_listeners_heard_gives_the_stored_votes(
    store: VoteStore, db: Database, first: list[VoteEvent], second: list[VoteEvent], max_batch: int
) -> None:
    """Whatever the events and batching, a listener that starts from the stored votes and applies every change it
    hears holds exactly the stored votes, and every old value it is told matches what it held."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM votes")
        await conn.execute("DELETE FROM vote_reactions")
    await store.apply_batch(first)  # votes from before the listener existed
    recorder = Recorder(await stored_values(db))
    store.add_listener(recorder)
    try:
        processor = VoteProcessor(store, max_batch=max_batch)
        processor.start()
        for event in second:
            processor.submit(event)
        await processor.stop()
    finally:
        store.remove_listener(recorder)
    assert recorder.wrong_old_values == []
    assert recorder.votes == await stored_values(db)
    assert all(change.old_value != change.new_value for change in recorder.changes)
