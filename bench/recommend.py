"""Benchmark: recommend_for_member on a large synthetic server.

A 20,000-show catalog (genres, creators, cast, synopsis terms, power-law popularity) and one server with 10,000
members and 200,000 votes (power-law activity, genre-clustered tastes). Prints one JSON object:
{"median_ms", "p99_ms", "rss_mb", ...}; setup (database, catalog load, server load) is timed separately.

    python bench/recommend.py --json [--requests 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import open_database
from bot.recommend import Recommender

GUILD_ID = 42
SHOWS = 20_000
MEMBERS = 10_000
VOTES = 200_000
GENRES = [
    "Drama", "Comedy", "Crime", "Thriller", "Science-Fiction", "Fantasy", "Horror", "Romance", "Action", "Adventure",
    "Mystery", "Documentary", "Animation", "Family", "History", "War", "Music", "Sports", "Reality", "Western",
]  # fmt: skip
WORDS = [f"word{i}" for i in range(3000)]
NETWORKS = ["Netflix", "HBO", "BBC One", "AMC", "Hulu", "Prime Video", "Disney+", "FX", "Apple TV+", "ABC"]


def _weighted_choice(rng: random.Random, cumulative: list[float], items: list[int]) -> int:
    import bisect

    return items[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


async def build(path: Path, rng: random.Random) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    shows, show_genres, credits, releases, availability = [], [], [], [], []
    genre_shows: dict[int, list[int]] = {g: [] for g in range(len(GENRES))}
    popularity: dict[int, float] = {}
    for show_id in range(1, SHOWS + 1):
        pop = 1000.0 / (show_id**0.9)  # Zipf-like: the first ids are the best known
        popularity[show_id] = pop
        synopsis = " ".join(rng.choice(WORDS) for _ in range(25))
        network = rng.choice(NETWORKS)
        year = rng.randint(1960, 2025)
        shows.append((show_id, f"Show {show_id}", f"show {show_id}", f"{year}-01-01", network, synopsis, pop, "x"))
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
            shows,
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
        activity = [1.0 / (rank**0.8) for rank in range(1, MEMBERS + 1)]
        scale = VOTES / sum(activity)
        genre_cumulative = {}
        for genre, members in genre_shows.items():
            total, cumulative = 0.0, []
            for show_id in members:
                total += popularity[show_id]
                cumulative.append(total)
            genre_cumulative[genre] = cumulative
        all_ids = list(popularity)
        all_cumulative, total = [], 0.0
        for show_id in all_ids:
            total += popularity[show_id]
            all_cumulative.append(total)
        votes: dict[tuple[int, int], tuple[int, str]] = {}
        user_ids = list(range(1000, 1000 + MEMBERS))
        rng.shuffle(user_ids)
        for user_id, weight in zip(user_ids, activity, strict=True):
            favourites = rng.sample(range(len(GENRES)), 2)
            wanted = max(1, round(weight * scale))
            mine = 0
            for _attempt in range(wanted * 3):
                if mine >= wanted or len(votes) >= VOTES:
                    break
                in_taste = rng.random() < 0.8
                if in_taste:
                    genre = rng.choice(favourites)
                    show_id = _weighted_choice(rng, genre_cumulative[genre], genre_shows[genre])
                else:
                    show_id = _weighted_choice(rng, all_cumulative, all_ids)
                value = 1 if rng.random() < (0.85 if in_taste else 0.35) else -1
                when = (now - timedelta(minutes=rng.randint(0, 500_000))).isoformat(timespec="seconds")
                if (user_id, show_id) not in votes:
                    votes[(user_id, show_id)] = (value, when)
                    mine += 1
            if len(votes) >= VOTES:
                break
        await conn.executemany(
            "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
            " VALUES (?, ?, ?, ?, 'import', ?)",
            [(GUILD_ID, u, s, v, w) for (u, s), (v, w) in votes.items()],
        )


async def bench(requests: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="showbot-bench-") as scratch:
        path = Path(scratch) / "bench.sqlite3"
        started = time.perf_counter()
        await build(path, rng)
        built = time.perf_counter()
        async with open_database(path) as db:
            recommender = await Recommender.load(db)
            loaded = time.perf_counter()
            state = await recommender.guild(GUILD_ID)
            guild_loaded = time.perf_counter()
            members = sorted(state.user_votes)
            vote_count = sum(len(v) for v in state.user_votes.values())
            timings = []
            for _ in range(requests):
                user_id = rng.choice(members)
                begin = time.perf_counter()
                page = await recommender.recommend_for_member(GUILD_ID, user_id, limit=5)
                timings.append((time.perf_counter() - begin) * 1000)
                assert len(page.items) == 5
            vote_timings = []
            show_ids = list(recommender.catalog.shows)
            for _ in range(1000):
                user_id, show_id = rng.choice(members), rng.choice(show_ids[:2000])
                old = state.user_votes.get(user_id, {}).get(show_id)
                begin = time.perf_counter()
                recommender.on_vote(GUILD_ID, user_id, show_id, old, rng.choice((1, -1)))
                vote_timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    vote_timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
        "max_ms": round(timings[-1], 2),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "requests": requests,
        "members": len(members),
        "votes": vote_count,
        "shows": SHOWS,
        "on_vote_median_ms": round(statistics.median(vote_timings), 3),
        "on_vote_p99_ms": round(vote_timings[int(len(vote_timings) * 0.99) - 1], 3),
        "setup_database_s": round(built - started, 1),
        "setup_catalog_load_s": round(loaded - built, 1),
        "setup_server_load_s": round(guild_loaded - loaded, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(bench(args.requests, args.seed))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
