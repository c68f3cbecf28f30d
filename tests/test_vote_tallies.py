"""Net votes, the one rule: per server and in one query for several servers, as browsing orders by them (one join,
searching the votes index), and as a weekly tick ranks each server's post by its own votes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time

import pytest

from bot.catalog import Filters, SearchIndex, find_shows
from bot.common.clock import utc_iso
from bot.storage import Database, Location, open_database
from bot.votes import net_votes, net_votes_of_guilds, vote_tallies
from bot.weekly import DuePost, PostResult, WeeklyContent, run_tick, set_weekly

pytestmark = pytest.mark.both_engines  # every store here runs on SQLite and on PostgreSQL

START = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # a Monday
GUILD, OTHER_GUILD, QUIET_GUILD = 1, 2, 3
SHOWS = 6  # show i has popularity i: without votes, browsing lists 6, 5, 4, ...


@pytest.fixture
async def db(empty_location: Location) -> AsyncIterator[Database]:
    async with open_database(empty_location) as database:
        async with database.transaction() as conn:
            await conn.executemany(
                "INSERT INTO shows (id, title, title_norm, popularity, updated_at) VALUES (?, ?, ?, ?, ?)",
                [(i, f"Show {i}", f"show {i}", i, utc_iso(START)) for i in range(1, SHOWS + 1)],
            )
        yield database


async def vote(db: Database, guild_id: int, show_id: int, *values: int) -> None:
    """One vote per value, each by another member."""
    await db.executemany(
        """INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)
           VALUES (?, ?, ?, ?, 'command', ?)""",
        [(guild_id, 100 + user, show_id, value, utc_iso(START)) for user, value in enumerate(values)],
    )


async def add_votes(db: Database) -> None:
    await vote(db, GUILD, 1, 1, 1, -1)  # net 1
    await vote(db, GUILD, 2, 1, 1)  # net 2
    await vote(db, GUILD, 6, -1)  # net -1: the best-known show, voted down here
    await vote(db, GUILD, 3, 1, -1)  # net 0, with votes
    await vote(db, OTHER_GUILD, 4, 1)


async def explained(db: Database, run: Callable[[], Awaitable[object]]) -> list[str]:
    """The query plan of each statement `run` sends that reads the votes table (as SQLite runs it, values bound)."""
    statements: list[str] = []
    reader = db.reader  # type: ignore[attr-defined]  # the SQLite engine's read connection
    await reader.set_trace_callback(statements.append)
    try:
        await run()
    finally:
        await reader.set_trace_callback(None)
    plans = []
    for statement in statements:
        if "votes" in statement:
            rows = await db.fetchall("EXPLAIN QUERY PLAN " + statement)
            plans.append("\n".join(str(row["detail"]) for row in rows))
    assert plans, statements
    return plans


def assert_searches_the_votes_index_once(plan: str) -> None:
    assert "SEARCH votes USING INDEX votes_guild_show (guild_id=?)" in plan, plan
    assert "CORRELATED" not in plan and "SCAN votes" not in plan, plan


async def test_net_votes_per_server_and_for_several_servers_at_once(db: Database) -> None:
    await add_votes(db)
    assert await net_votes(db, GUILD) == {1: 1, 2: 2, 3: 0, 6: -1}
    assert await vote_tallies(db, GUILD) == {1: (1, 3), 2: (2, 2), 3: (0, 2), 6: (-1, 1)}
    several = await net_votes_of_guilds(db, [GUILD, OTHER_GUILD, QUIET_GUILD])
    assert several == {GUILD: await net_votes(db, GUILD), OTHER_GUILD: {4: 1}, QUIET_GUILD: {}}
    assert await net_votes_of_guilds(db, []) == {}
    if db.engine == "sqlite":  # the plan as SQLite runs it
        (plan,) = await explained(db, lambda: net_votes_of_guilds(db, [GUILD, OTHER_GUILD]))
        assert_searches_the_votes_index_once(plan)


async def test_browsing_without_words_puts_the_servers_favourites_first(db: Database) -> None:
    await add_votes(db)

    async def browse(guild_id: int | None) -> list[int]:
        shows = await find_shows(db, SearchIndex(), None, Filters(), guild_id=guild_id)
        return [show.show_id for show in shows]

    # Net votes first (2, 1), then the shows at 0 by popularity (5, 4, 3), the show voted down last.
    assert await browse(GUILD) == [2, 1, 5, 4, 3, 6]
    assert await browse(OTHER_GUILD) == [4, 6, 5, 3, 2, 1]
    assert await browse(None) == [6, 5, 4, 3, 2, 1]
    # The votes are joined once, from the index: not searched again for every show (as SQLite plans it).
    if db.engine == "sqlite":
        (plan,) = await explained(db, lambda: browse(GUILD))
        assert_searches_the_votes_index_once(plan)


async def test_a_weekly_tick_ranks_each_servers_post_by_its_own_votes(db: Database) -> None:
    await add_votes(db)
    for guild_id in (GUILD, OTHER_GUILD, QUIET_GUILD):
        await set_weekly(
            db, guild_id, channel_id=guild_id * 10, weekday=0, local_time=time(18), tz_name="UTC", now=START
        )
    posted: dict[int, WeeklyContent] = {}

    async def poster(due: DuePost, content: WeeklyContent) -> PostResult:
        posted[due.guild_id] = content
        return PostResult(5000 + due.guild_id)

    report = await run_tick(db, datetime(2024, 6, 3, 18, 0, tzinfo=UTC), poster)
    assert report.posted == 3
    # Nothing new this week: each post lists the server's favourites, with its own net votes.
    picks = {
        guild_id: [(item.show_id, item.net_votes) for item in content.picks] for guild_id, content in posted.items()
    }
    assert picks[GUILD][:2] == [(2, 2), (1, 1)] and (6, -1) not in picks[GUILD][:5]
    assert picks[OTHER_GUILD][0] == (4, 1)
    assert all(net == 0 for _, net in picks[QUIET_GUILD])
