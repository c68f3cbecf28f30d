"""Benchmark: /recommend for a member of a large server, in three phases.

A synthetic catalog (genres, creators, cast, synopsis terms, power-law popularity; 20,000 shows by default) and one
server (10,000 members, 200,000 votes: power-law activity, genre-clustered tastes) are written to a database by
this process; a second process, which did not build anything, then measures (so its RSS is the bot's, not the
builder's):

- cold: the first request for the server right after a start: reading its votes from the database and building its
  state, then ranking (the catalog itself is loaded at start-up, before any request, and timed as setup). Repeated
  by forgetting the server's state;
- warm: requests by random members once the state is loaded;
- after_vote: a random member's vote reaches the recommender (on_vote), then that member asks for recommendations;
  repeated, so every request follows a vote that changed co-vote counts.

Each phase reports its median and p99 in ms of wall time, and of the process's CPU time (which leaves out waiting
for a core on a busy machine), and the load average at the end. Prints one JSON object with --json, whose "path"
says what the timers span and what they leave out.

    python bench/recommend.py --json [--requests 2000] [--seed 7] [--shows 20000 --members 10000 --votes 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import percentile, summary

from bot.recommend import Recommender
from bot.storage import open_database

GUILD_ID = 42
GENRES = [
    "Drama", "Comedy", "Crime", "Thriller", "Science-Fiction", "Fantasy", "Horror", "Romance", "Action", "Adventure",
    "Mystery", "Documentary", "Animation", "Family", "History", "War", "Music", "Sports", "Reality", "Western",
]  # fmt: skip
WORDS = [f"word{i}" for i in range(3000)]
NETWORKS = ["Netflix", "HBO", "BBC One", "AMC", "Hulu", "Prime Video", "Disney+", "FX", "Apple TV+", "ABC"]
PAGE = 5  # /recommend shows five picks
PATH = (
    "cold: Recommender.recommend_for_member on a server not loaded yet (one SELECT of its votes, its state built in a "
    "worker thread, then the ranking); warm: recommend_for_member on a loaded server; after_vote: "
    "Recommender.on_vote for a random member's changed vote, then recommend_for_member for that member (both in "
    "the timer; on_vote alone is reported too). Left out: loading the catalog at start-up (setup_catalog_load_s), "
    "storing the vote in SQLite, Discord and the emulator, and rendering the embed "
    "(bot/recommend/picks.py, bot/common/render.py)."
)


def _weighted_choice(rng: random.Random, cumulative: list[float], items: list[int]) -> int:
    import bisect

    return items[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


async def build(path: Path, rng: random.Random, *, shows: int, members: int, votes: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    show_rows, show_genres, credits, releases, availability = [], [], [], [], []
    genre_shows: dict[int, list[int]] = {g: [] for g in range(len(GENRES))}
    popularity: dict[int, float] = {}
    for show_id in range(1, shows + 1):
        pop = 1000.0 / (show_id**0.9)  # Zipf-like: the first ids are the best known
        popularity[show_id] = pop
        synopsis = " ".join(rng.choice(WORDS) for _ in range(25))
        network = rng.choice(NETWORKS)
        year = rng.randint(1960, 2025)
        show_rows.append((show_id, f"Show {show_id}", f"show {show_id}", f"{year}-01-01", network, synopsis, pop, "x"))
        for genre in rng.sample(range(len(GENRES)), rng.choice((1, 2, 2, 3))):
            show_genres.append((show_id, genre + 1))
            genre_shows[genre].append(show_id)
        credits.append((show_id, rng.randint(1, 8000), "creator", 0))
        for billing, person in enumerate(rng.sample(range(8001, 60000), 6)):
            credits.append((show_id, person, "cast", billing))
        availability.append((show_id, network, "x"))
        if show_id % 400 == 0:
            releases.append((show_id, "premiere", (now - timedelta(days=rng.randint(0, 20))).date().isoformat()))
    async with open_database(path) as db, db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO shows (id, title, title_norm, premiered, network, synopsis, popularity, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            show_rows,
        )
        await conn.executemany(
            "INSERT INTO genres (id, name) VALUES (?, ?)", [(i + 1, g) for i, g in enumerate(GENRES)]
        )
        await conn.executemany("INSERT INTO show_genres (show_id, genre_id) VALUES (?, ?)", show_genres)
        people = {person for _, person, _, _ in credits}
        await conn.executemany(
            "INSERT INTO people (id, name, name_norm) VALUES (?, ?, ?)", [(p, f"P{p}", f"p{p}") for p in people]
        )
        await conn.executemany("INSERT INTO credits (show_id, person_id, role, billing) VALUES (?, ?, ?, ?)", credits)
        await conn.executemany("INSERT INTO availability (show_id, service, updated_at) VALUES (?, ?, ?)", availability)
        await conn.executemany("INSERT INTO releases (show_id, kind, date) VALUES (?, ?, ?)", releases)

        # Votes: power-law activity; each member mostly votes (and likes) in two favourite genres.
        activity = [1.0 / (rank**0.8) for rank in range(1, members + 1)]
        scale = votes / sum(activity)
        genre_cumulative = {}
        for genre, in_genre in genre_shows.items():
            total, cumulative = 0.0, []
            for show_id in in_genre:
                total += popularity[show_id]
                cumulative.append(total)
            genre_cumulative[genre] = cumulative
        all_ids = list(popularity)
        all_cumulative, total = [], 0.0
        for show_id in all_ids:
            total += popularity[show_id]
            all_cumulative.append(total)
        cast: dict[tuple[int, int], tuple[int, str]] = {}
        user_ids = list(range(1000, 1000 + members))
        rng.shuffle(user_ids)
        for user_id, weight in zip(user_ids, activity, strict=True):
            favourites = rng.sample(range(len(GENRES)), 2)
            wanted = max(1, round(weight * scale))
            mine = 0
            for _attempt in range(wanted * 3):
                if mine >= wanted or len(cast) >= votes:
                    break
                in_taste = rng.random() < 0.8
                if in_taste:
                    genre = rng.choice(favourites)
                    show_id = _weighted_choice(rng, genre_cumulative[genre], genre_shows[genre])
                else:
                    show_id = _weighted_choice(rng, all_cumulative, all_ids)
                value = 1 if rng.random() < (0.85 if in_taste else 0.35) else -1
                when = (now - timedelta(minutes=rng.randint(0, 500_000))).isoformat(timespec="seconds")
                if (user_id, show_id) not in cast:
                    cast[(user_id, show_id)] = (value, when)
                    mine += 1
            if len(cast) >= votes:
                break
        await conn.executemany(
            "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
            " VALUES (?, ?, ?, ?, 'import', ?)",
            [(GUILD_ID, u, s, v, w) for (u, s), (v, w) in cast.items()],
        )


async def measure(path: Path, requests: int, votes_cast: int, colds: int, seed: int) -> dict[str, object]:
    """The three phases on an existing database (run in a process that did not build it)."""
    rng = random.Random(seed)
    async with open_database(path) as db:
        started = time.perf_counter()
        recommender = await Recommender.load(db)
        catalog_loaded = time.perf_counter() - started
        members = [int(row[0]) for row in await db.fetchall(
            "SELECT DISTINCT user_id FROM votes WHERE guild_id = ? ORDER BY user_id", (GUILD_ID,)
        )]  # fmt: skip

        cpu: dict[str, list[float]] = {"cold": [], "warm": [], "after_vote": []}

        async def ask(user_id: int, phase: str) -> float:
            begin, begin_cpu = time.perf_counter(), time.process_time()
            page = await recommender.recommend_for_member(GUILD_ID, user_id, limit=PAGE)
            elapsed = (time.perf_counter() - begin) * 1000
            cpu[phase].append((time.process_time() - begin_cpu) * 1000)
            assert len(page.items) == PAGE and not page.cold_start, page
            return elapsed

        cold = []
        for _ in range(colds):
            recommender._guilds.pop(GUILD_ID, None)  # as after a restart: the server's votes are read again
            cold.append(await ask(rng.choice(members), "cold"))
        state = await recommender.guild(GUILD_ID)
        vote_count = sum(len(v) for v in state.user_votes.values())
        warm = [await ask(rng.choice(members), "warm") for _ in range(requests)]
        after_vote, on_vote = [], []
        show_ids = sorted(recommender.catalog.shows, key=lambda s: -recommender.catalog.shows[s].popularity)
        for _ in range(votes_cast):
            user_id, show_id = rng.choice(members), rng.choice(show_ids[: max(1, len(show_ids) // 10)])
            old = state.user_votes.get(user_id, {}).get(show_id)
            new = rng.choice([v for v in (1, -1) if v != old])
            begin, begin_cpu = time.perf_counter(), time.process_time()
            recommender.on_vote(GUILD_ID, user_id, show_id, old, new)
            voted = time.perf_counter()
            page = await recommender.recommend_for_member(GUILD_ID, user_id, limit=PAGE)
            after_vote.append((time.perf_counter() - begin) * 1000)
            cpu["after_vote"].append((time.process_time() - begin_cpu) * 1000)
            on_vote.append((voted - begin) * 1000)
            assert len(page.items) == PAGE, page
            assert show_id not in [item.show_id for item in page.items]
        for task in list(recommender._snapshots.values()):
            await task
    return {
        **{f"cold_{key}": value for key, value in _summary(cold).items()},
        **{f"warm_{key}": value for key, value in _summary(warm).items()},
        **{f"after_vote_{key}": value for key, value in _summary(after_vote).items()},
        **{f"on_vote_{key}": value for key, value in _summary(on_vote).items()},
        "after_vote_over_warm": round(statistics.median(after_vote) / statistics.median(warm), 2),
        # CPU time of the whole process over the same spans (the worker thread included): on a shared machine the
        # wall times above include waiting for a core, these do not.
        **{f"{phase}_cpu_median_ms": round(statistics.median(values), 2) for phase, values in cpu.items()},
        **{f"{phase}_cpu_p99_ms": round(percentile(values, 0.99), 2) for phase, values in cpu.items()},
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "members": len(members),
        "votes": vote_count,
        "shows": len(recommender.catalog.shows),
        "cold_requests": len(cold),
        "warm_requests": len(warm),
        "after_vote_requests": len(after_vote),
        "setup_catalog_load_s": round(catalog_loaded, 2),
    }


def _summary(timings: list[float]) -> dict[str, float]:
    full = summary(timings, digits=2)
    return {key: full[key] for key in ("median_ms", "p99_ms")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=2000, help="warm requests")
    parser.add_argument("--votes-cast", type=int, default=1000, help="vote-then-request rounds (after_vote)")
    parser.add_argument("--colds", type=int, default=5, help="cold starts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shows", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=200_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the measuring process
    args = parser.parse_args()
    if args.measure is not None:
        result = asyncio.run(measure(args.measure, args.requests, args.votes_cast, args.colds, args.seed))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="showbot-bench-") as scratch:
        path = Path(scratch) / "bench.sqlite3"
        started = time.perf_counter()
        asyncio.run(build(path, random.Random(args.seed), shows=args.shows, members=args.members, votes=args.votes))
        built = time.perf_counter() - started
        command = [sys.executable, __file__, "--measure", str(path), "--requests", str(args.requests)]
        command += ["--votes-cast", str(args.votes_cast), "--colds", str(args.colds), "--seed", str(args.seed)]
        measured = subprocess.run(command, check=True, capture_output=True, text=True)
    result = {"path": PATH, **json.loads(measured.stdout), "setup_database_s": round(built, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
