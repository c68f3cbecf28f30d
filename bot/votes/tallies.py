"""Counting votes: net votes (up minus down per show in a server), up/down tallies, and the Wilson-score leaderboard.

This is the one place that says how votes add up. Other packages read net votes through `net_votes`,
`net_votes_of_guilds` or, inside a larger query, by joining `NET_VOTES_SQL` once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.common.clock import utc_iso
from bot.storage import Database

Period = Literal["week", "month", "all"]
PERIOD_DAYS: dict[str, int | None] = {"week": 7, "month": 30, "all": None}


def _net_votes_query(guild_filter: str) -> str:
    """Net votes per server and show with votes, for the servers `guild_filter` selects: (guild_id, show_id, net,
    votes). Grouped by (guild_id, show_id), the order of the `votes_guild_show` index: one pass, no sort."""
    return f"""SELECT guild_id, show_id, sum(value) AS net, count(*) AS votes FROM votes
               WHERE {guild_filter} GROUP BY guild_id, show_id"""


# A subquery for one server (its one `?` parameter): a row (guild_id, show_id, net, votes) per show with votes there.
# Join it once, `LEFT JOIN (NET_VOTES_SQL) AS n ON n.show_id = s.id`: SQLite materialises it from the index in one
# pass, where a correlated subquery per show would search the votes once per row of the outer query.
NET_VOTES_SQL = _net_votes_query("guild_id = ?")
_NET_VOTES_OF_GUILDS_SQL = _net_votes_query("guild_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))")
# Up and down votes, for rows of `votes AS v` (grouped by the caller).
_UP_DOWN = (
    "coalesce(sum(CASE WHEN v.value = 1 THEN 1 ELSE 0 END), 0) AS up,"
    " coalesce(sum(CASE WHEN v.value = -1 THEN 1 ELSE 0 END), 0) AS down"
)


@dataclass(frozen=True, slots=True)
class TopShow:
    show_id: int
    title: str
    up: int
    down: int
    score: float


async def net_votes(db: Database, guild_id: int) -> dict[int, int]:
    """show_id -> up minus down votes in the server, for shows with votes (title search boosts, the weekly ranking)."""
    return {int(row["show_id"]): int(row["net"]) for row in await db.fetchall(NET_VOTES_SQL, (guild_id,))}


async def net_votes_of_guilds(db: Database, guild_ids: Sequence[int]) -> dict[int, dict[int, int]]:
    """guild_id -> (show_id -> net votes) for each of the servers, in one query (a weekly tick's batch of servers);
    a server without votes maps to an empty dict."""
    found: dict[int, dict[int, int]] = {int(guild_id): {} for guild_id in guild_ids}
    if found:
        rows = await db.fetchall(_NET_VOTES_OF_GUILDS_SQL, (json.dumps(list(found)),))
        for row in rows:
            found[int(row["guild_id"])][int(row["show_id"])] = int(row["net"])
    return found


async def vote_tallies(db: Database, guild_id: int) -> dict[int, tuple[int, int]]:
    """show_id -> (up minus down votes, number of votes) in the server, for shows with votes (title search boosts,
    which then follow each vote change and need the count to know when a show's last vote goes)."""
    rows = await db.fetchall(NET_VOTES_SQL, (guild_id,))
    return {int(row["show_id"]): (int(row["net"]), int(row["votes"])) for row in rows}


async def show_tally(db: Database, guild_id: int, show_id: int) -> tuple[int, int]:
    """(up, down) votes for one show in the server."""
    row = await db.fetchone(
        f"SELECT {_UP_DOWN} FROM votes AS v WHERE v.guild_id = ? AND v.show_id = ?", (guild_id, show_id)
    )
    assert row is not None
    return int(row["up"]), int(row["down"])


def wilson_lower_bound(up: int, down: int, z: float = 1.96) -> float:
    """The lower bound of the Wilson score interval for the share of upvotes (0 with no votes).

    It ranks 40 up / 5 down above 3 up / 0 down: a small sample is not trusted as much as a large one.
    """
    total = up + down
    if up <= 0:  # exactly 0, not a rounding error away from it
        return 0.0
    share = up / total
    z2 = z * z
    centre = share + z2 / (2 * total)
    margin = z * math.sqrt((share * (1 - share) + z2 / (4 * total)) / total)
    return max(0.0, (centre - margin) / (1 + z2 / total))


async def top_shows(
    db: Database,
    guild_id: int,
    period: Period = "all",
    *,
    genre: str | None = None,
    service: str | None = None,
    now: datetime,
    limit: int = 10,
) -> list[TopShow]:
    """Shows ranked by the Wilson lower bound of their votes in the server (votes cast in the period)."""
    if period not in PERIOD_DAYS:
        raise ValueError(f"period must be week, month or all, not {period!r}")
    days = PERIOD_DAYS[period]
    since = utc_iso(now - timedelta(days=days)) if days is not None else None
    rows = await db.fetchall(
        f"""SELECT v.show_id, s.title, {_UP_DOWN}
           FROM votes AS v JOIN shows AS s ON s.id = v.show_id
           WHERE v.guild_id = ?1
             AND (CAST(?2 AS TEXT) IS NULL OR v.updated_at >= ?2)
             AND (CAST(?3 AS TEXT) IS NULL OR EXISTS (
                 SELECT 1 FROM show_genres AS sg JOIN genres AS g ON g.id = sg.genre_id
                 WHERE sg.show_id = v.show_id AND g.name = ?3))
             AND (CAST(?4 AS TEXT) IS NULL OR EXISTS (
                 SELECT 1 FROM availability AS a WHERE a.show_id = v.show_id AND a.service = ?4 COLLATE NOCASE))
           GROUP BY v.show_id, s.title""",
        (guild_id, since, genre, service),
    )
    ranked = [TopShow(row[0], row[1], int(row[2]), int(row[3]), wilson_lower_bound(row[2], row[3])) for row in rows]
    ranked.sort(key=lambda show: (-show.score, -(show.up - show.down), -show.up, show.title, show.show_id))
    return ranked[:limit]
