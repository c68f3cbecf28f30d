"""Autocomplete speed: the title option's handler on a catalog of generated titles plus the shipped ones.

    python bench/autocomplete.py --titles 100000 --json

Builds a temporary database (migrations, the shipped catalog from data/catalog/*.json, then N generated titles:
word combinations, invented names, some accents and punctuation, 5% with an alternative title, and --server-votes
votes in one server), loads the bot's TitleResolver (the search index and the per-server vote boosts), and times what
the cog does with an interaction's option text: `TitleResolver.choices(guild, text)` (the server's boosts, from
their cache, kept up to date vote by vote, then the ranked search) plus building the `app_commands.Choice`
objects, over a mixed query set: prefixes of 1-12 characters, whole titles, and misspelt titles. Every
--miss-every'th query comes right after a vote in that server (written untimed through the bot's VoteStore, whose
listener updates the cached boosts as the bot's does; one in five a retraction), so whatever the vote left for the
next query to work out runs inside its timing. Reported apart: reading a server's boosts afresh from the votes
table (the first query of a server after a start, and the re-read of its safety-net TTL). The baseline answers
the same queries with the same limit (25) in plain SQL: an FTS5 trigram MATCH, or a prefix range on an index of
the normalised titles for queries under three characters (a trigram needs three). The bot keeps no FTS table, so
the baseline's tables (every title, as the bot's database holds them) live in a database of its own beside the
bot's, opened the way the bot opens its own (`open_database`: aiosqlite, a read connection). Also reported: the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit, misspell, percentile, rss_mb
from discord import app_commands

from bot.catalog import TitleResolver
from bot.catalog.files import seed_if_empty
from bot.catalog.ranking import AUTOCOMPLETE_LIMIT
from bot.common.text import normalise
from bot.storage import Database, connect_sync, open_database
from bot.votes import VoteStore

GUILD = 42
FIRST_MEMBER = 1_000_000
PATH = (
    "each query: TitleResolver.choices(guild, text) as the cog calls it (the server's vote boosts from their cache, "
    "which the VoteStore's listener updates on every vote; every --miss-every'th query right after a vote) and the "
    "Choice objects; in-process, through the bot's aiosqlite connection. Leaves out: the interaction's round trip "
    "through Discord (bench/show_latency.py measures it through the emulator); the vote itself and the boosts' "
    "update in its listener (untimed here; bench/votes.py times the vote path); the fresh read of a server's boosts "
    "(first query after a start, then once per TTL), reported apart as fresh_boosts_median_ms. Baseline: the same "
    "queries, same limit, one plain SQL query each (FTS5 trigram MATCH, or an indexed prefix range under three "
    "characters), unranked, on the benchmark's own copy of the titles through a connection opened as the bot's is."
)

WORDS = [
    "affair",
    "age",
    "alibi",
    "alien",
    "angel",
    "anatomy",
    "answer",
    "archive",
    "army",
    "arrow",
    "ash",
    "avenue",
    "baby",
    "bad",
    "bank",
    "bay",
    "bear",
    "beast",
    "bell",
    "big",
    "bishop",
    "black",
    "blade",
    "blood",
    "blue",
    "body",
    "bone",
    "border",
    "boy",
    "brave",
    "bridge",
    "broken",
    "brother",
    "burn",
    "cabin",
    "call",
    "camp",
    "candle",
    "capital",
    "captain",
    "carnival",
    "castle",
    "chair",
    "chance",
    "chase",
    "chef",
    "child",
    "chronicles",
    "circle",
    "city",
    "clan",
    "class",
    "clock",
    "code",
    "cold",
    "company",
    "conspiracy",
    "cook",
    "corner",
    "council",
    "country",
    "court",
    "cove",
    "cowboy",
    "crime",
    "crown",
    "cry",
    "cut",
    "daughter",
    "dawn",
    "day",
    "dead",
    "deal",
    "dear",
    "death",
    "deep",
    "desert",
    "detective",
    "devil",
    "diary",
    "dirty",
    "doctor",
    "dog",
    "doll",
    "door",
    "double",
    "dragon",
    "dream",
    "drive",
    "dust",
    "dynasty",
    "earth",
    "east",
    "echo",
    "edge",
    "eight",
    "empire",
    "end",
    "enemy",
    "escape",
    "estate",
    "evil",
    "exile",
    "eye",
    "fall",
    "family",
    "farm",
    "fast",
    "father",
    "fear",
    "fever",
    "field",
    "fight",
    "final",
    "fire",
    "first",
    "five",
    "flight",
    "flood",
    "forest",
    "forever",
    "fortune",
    "four",
    "fox",
    "free",
    "friend",
    "frontier",
    "game",
    "garden",
    "gate",
    "ghost",
    "giant",
    "girl",
    "glass",
    "gold",
    "good",
    "grace",
    "grand",
    "grave",
    "gray",
    "great",
    "green",
    "ground",
    "guard",
    "gun",
    "half",
    "hall",
    "hand",
    "harbor",
    "haunting",
    "heart",
    "heaven",
    "heir",
    "hell",
    "hero",
    "hidden",
    "high",
    "hill",
    "hollow",
    "home",
    "honor",
    "hope",
    "horse",
    "hotel",
    "hour",
    "house",
    "hunt",
    "hunter",
    "ice",
    "island",
    "iron",
    "jack",
    "jewel",
    "journey",
    "judge",
    "jungle",
    "justice",
    "keeper",
    "key",
    "kid",
    "killer",
    "king",
    "kingdom",
    "kiss",
    "knight",
    "lady",
    "lake",
    "land",
    "last",
    "law",
    "legacy",
    "legend",
    "lie",
    "life",
    "light",
    "line",
    "lion",
    "little",
    "lost",
    "love",
    "lucky",
    "machine",
    "mad",
    "magic",
    "maid",
    "man",
    "manor",
    "map",
    "mask",
    "master",
    "midnight",
    "mind",
    "mirror",
    "miss",
    "mission",
    "money",
    "monster",
    "moon",
    "morning",
    "mother",
    "mountain",
    "murder",
    "mystery",
    "name",
    "nation",
    "new",
    "night",
    "nine",
    "north",
    "ocean",
    "office",
    "old",
    "one",
    "order",
    "origin",
    "outlaw",
    "paper",
    "paradise",
    "park",
    "party",
    "passage",
    "past",
    "patrol",
    "peace",
    "people",
    "perfect",
    "phoenix",
    "pilot",
    "pirate",
    "place",
    "planet",
    "point",
    "police",
    "power",
    "prince",
    "princess",
    "prison",
    "promise",
    "queen",
    "quest",
    "race",
    "rain",
    "raven",
    "rebel",
    "red",
    "revenge",
    "rider",
    "ring",
    "rise",
    "river",
    "road",
    "rock",
    "rogue",
    "room",
    "rose",
    "royal",
    "ruin",
    "rule",
    "run",
    "saint",
    "salt",
    "scandal",
    "school",
    "sea",
    "second",
    "secret",
    "seven",
    "shadow",
    "shore",
    "silence",
    "silver",
    "sin",
    "sister",
    "six",
    "sky",
    "small",
    "snow",
    "soldier",
    "son",
    "song",
    "soul",
    "south",
    "space",
    "spirit",
    "spy",
    "star",
    "state",
    "station",
    "steel",
    "stone",
    "storm",
    "story",
    "stranger",
    "street",
    "strike",
    "summer",
    "sun",
    "survivor",
    "sword",
    "tale",
    "teacher",
    "ten",
    "three",
    "throne",
    "tide",
    "time",
    "tomorrow",
    "tower",
    "town",
    "trail",
    "train",
    "treasure",
    "tree",
    "trial",
    "tribe",
    "trouble",
    "truth",
    "twelve",
    "two",
    "union",
    "valley",
    "vampire",
    "village",
    "voice",
    "wall",
    "war",
    "watch",
    "water",
    "wave",
    "way",
    "west",
    "white",
    "wild",
    "wind",
    "winter",
    "witch",
    "wolf",
    "woman",
    "wonder",
    "world",
    "year",
    "young",
    "zero",
]
ADJECTIVES = [
    "american",
    "ancient",
    "awkward",
    "bitter",
    "bold",
    "brilliant",
    "broken",
    "crimson",
    "cursed",
    "dark",
    "deadly",
    "desperate",
    "electric",
    "endless",
    "eternal",
    "fallen",
    "famous",
    "final",
    "forgotten",
    "frozen",
    "gilded",
    "golden",
    "hidden",
    "holy",
    "hungry",
    "infinite",
    "invisible",
    "last",
    "lonely",
    "lost",
    "lucky",
    "mad",
    "modern",
    "mortal",
    "naked",
    "northern",
    "perfect",
    "quiet",
    "real",
    "restless",
    "rich",
    "royal",
    "sacred",
    "savage",
    "secret",
    "silent",
    "southern",
    "strange",
    "sweet",
    "true",
    "twisted",
    "ugly",
    "unknown",
    "wicked",
    "wild",
    "young",
]
CONNECTORS = ["of", "and", "in", "the", "on", "at", "for", "from", "with"]
ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "st",
          "t", "th", "v", "w", "z", "", "", "kr", "tr", "bl"]  # fmt: skip
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "é", "á", "ö", "ñ", "y", "ie", "a", "e", "o"]
CODAS = ["", "", "n", "r", "s", "l", "m", "nd", "rt", "x", "ck", "th", "ll", "ss", "nt", "rk"]


def invented_name(rng: random.Random) -> str:
    syllables = rng.choice((1, 2, 2, 2, 3, 3))
    name = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
    return name.capitalize()


def generated_titles(count: int, rng: random.Random) -> list[str]:
    names = [invented_name(rng) for _ in range(max(200, count // 8))]
    places = [invented_name(rng) for _ in range(max(100, count // 40))]

    def word() -> str:
        return rng.choice(WORDS).capitalize()

    def adjective() -> str:
        return rng.choice(ADJECTIVES).capitalize()

    patterns = [
        lambda: f"The {adjective()} {word()}",
        lambda: f"{word()} of {rng.choice(places)}",
        lambda: rng.choice(names),
        lambda: f"{rng.choice(names)} & {rng.choice(names)}",
        lambda: f"{adjective()} {word()}s",
        lambda: f"{rng.choice(places)} {word()}",
        lambda: f"The {rng.choice(names)} {word()}",
        lambda: f"{word()}: {adjective()} {word()}",
        lambda: f"{rng.choice(names)}'s {word()}",
        lambda: f"{word()} {rng.choice(CONNECTORS)} the {word()}",
        lambda: f"{rng.choice(names)} {rng.choice(names)}",
        lambda: f"{word()} {word()}",
        lambda: f"{adjective()} {rng.choice(names)}",
        lambda: f"{word()} {rng.randint(2, 99)}",
        lambda: f"{rng.choice(names)}: The {word()} {word()}",
    ]
    return [rng.choice(patterns)() for _ in range(count)]


def query_mix(titles: list[str], count: int, rng: random.Random) -> list[str]:
    """Prefixes of 1-12 characters (40%), whole titles (30%), misspelt titles (30%), typed in varied case."""
    queries = []
    for _ in range(count):
        title = rng.choice(titles)
        roll = rng.random()
        if roll < 0.4:
            query = title[: rng.randint(1, 12)]
        elif roll < 0.7:
            query = title
        else:
            query = misspell(title, rng, rng.choice((1, 1, 1, 2)))
        queries.append(query.lower() if rng.random() < 0.6 else query)
    return queries


async def build_database(path: Path, count: int, rng: random.Random) -> list[str]:
    async with open_database(path) as db:
        await seed_if_empty(db)
        shipped = [row[0] for row in await db.fetchall("SELECT title FROM shows")]
    titles = generated_titles(count, rng)
    conn = connect_sync(path)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            """INSERT INTO shows (title, title_norm, premiered, popularity, source, updated_at)
               VALUES (?, ?, ?, ?, 'bench', '2024-01-01T00:00:00+00:00')""",
            (
                (title, normalise(title), f"{rng.randint(1950, 2024)}-01-01", round(rng.paretovariate(1.5), 3))
                for title in titles
            ),
        )
        ids = [row[0] for row in conn.execute("SELECT id FROM shows WHERE source = 'bench' ORDER BY id")]
        alternatives = [
            (show_id, f"{rng.choice(titles)} {rng.choice(WORDS)}") for show_id in rng.sample(ids, len(ids) // 20)
        ]
        conn.executemany(
            "INSERT OR IGNORE INTO show_titles (show_id, title, title_norm) VALUES (?, ?, ?)",
            ((show_id, title, normalise(title)) for show_id, title in alternatives),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return shipped + titles


def build_baseline(path: Path, bot_database: Path) -> None:
    """The plain-SQL baseline's own database: an FTS5 trigram index over every title in the bot's database (primary
    and alternative, normalised; contentless, storing only the index, as the bot's former external-content title_fts
    did) and the shows' normalised titles with an index, for prefixes."""
    conn = connect_sync(path)
    try:
        conn.execute("ATTACH DATABASE ? AS bot", (str(bot_database),))
        conn.execute("BEGIN")
        conn.execute("CREATE VIRTUAL TABLE title_fts USING fts5 (title_norm, content = '', tokenize = 'trigram')")
        conn.execute("INSERT INTO title_fts (rowid, title_norm) SELECT id, title_norm FROM bot.show_titles")
        conn.execute("CREATE TABLE shows (id INTEGER PRIMARY KEY, title_norm TEXT NOT NULL)")
        conn.execute("INSERT INTO shows (id, title_norm) SELECT id, title_norm FROM bot.shows")
        conn.execute("CREATE INDEX shows_title_norm ON shows (title_norm)")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE bot")
    finally:
        conn.close()


async def add_votes(path: Path, count: int, rng: random.Random) -> None:
    """`count` votes in one server: members voting on shows, mostly the popular ones, mostly up."""
    conn = connect_sync(path)
    try:
        ids = [row[0] for row in conn.execute("SELECT id FROM shows ORDER BY popularity DESC")]
        favoured = ids[: max(1, len(ids) // 20)]
        rows = {}
        while len(rows) < count:
            member = FIRST_MEMBER + rng.randrange(max(1, count // 10))
            show_id = rng.choice(favoured) if rng.random() < 0.7 else rng.choice(ids)
            rows[member, show_id] = rng.choice((1, 1, 1, -1))
        conn.execute("BEGIN")
        conn.executemany(
            """INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)
               VALUES (?, ?, ?, ?, 'command', '2024-01-01T00:00:00+00:00')""",
            ((GUILD, member, show_id, value) for (member, show_id), value in rows.items()),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


async def cast_vote(store: VoteStore, rng: random.Random, show_ids: list[int]) -> None:
    """A member votes up or down, or (one in five) retracts a vote, through the bot's vote store."""
    member, show_id = FIRST_MEMBER + rng.randrange(1000), rng.choice(show_ids)
    value = rng.choice((1, 1, -1, -1, None))
    if value is None:
        await store.clear_vote(GUILD, member, show_id)
    else:
        await store.set_vote(GUILD, member, show_id, value, "command")


async def handler(titles: TitleResolver, text: str) -> list[app_commands.Choice[str]]:
    """What the cog's autocomplete callback does with the option text (bot.app.ui.title_autocomplete)."""
    return [Choice(name=name, value=value) for name, value in await titles.choices(GUILD, text)]


Choice = app_commands.Choice


async def baseline(db: Database, text: str) -> list[Any]:
    """One plain SQL query with the same limit, unranked (the cheapest plain answer): FTS5 trigram MATCH, or under
    three characters a range scan of the title index (a prefix)."""
    norm = normalise(text)
    if len(norm) >= 3:
        phrase = '"' + norm.replace('"', '""') + '"'
        sql = "SELECT rowid FROM title_fts WHERE title_fts MATCH ? LIMIT ?"
        return await db.fetchall(sql, (phrase, AUTOCOMPLETE_LIMIT))
    sql = "SELECT id FROM shows WHERE title_norm >= ? AND title_norm < ? LIMIT ?"
    return await db.fetchall(sql, (norm, norm + "\U0010ffff", AUTOCOMPLETE_LIMIT))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="showbot-bench-") as directory:
        path = Path(directory) / "bench.sqlite3"
        started = time.perf_counter()
        titles_text = await build_database(path, args.titles, rng)
        await add_votes(path, args.server_votes, rng)
        baseline_path = Path(directory) / "baseline.sqlite3"
        build_baseline(baseline_path, path)
        build_s = time.perf_counter() - started
        queries = query_mix(titles_text, args.queries, rng)
        del titles_text
        async with open_database(path) as db:
            started = time.perf_counter()
            titles = await TitleResolver.load(db)
            load_ms = (time.perf_counter() - started) * 1000
            store = VoteStore(db)
            store.add_listener(titles.votes_changed)  # as ShowBot.votes_changed passes every change on
            fresh_ms = []
            for _ in range(5):  # a server's boosts read afresh: its first query after a start, or past the TTL
                titles.forget_boosts(GUILD)
                started_ns = time.perf_counter_ns()
                await titles.boosts(GUILD)
                fresh_ms.append((time.perf_counter_ns() - started_ns) / 1e6)
            show_ids = [row[0] for row in await db.fetchall("SELECT id FROM shows")]
            for query in queries[:200]:  # warm-up: caches, lazy imports
                await handler(titles, query)
            timings: list[float] = []
            cpu_timings: list[float] = []  # process CPU time: excludes time the OS gave other processes
            miss_timings: list[float] = []
            sizes = []
            for number, query in enumerate(queries):
                miss = number % args.miss_every == 0
                if miss:
                    await cast_vote(store, rng, show_ids)
                started_ns = time.perf_counter_ns()
                started_cpu_ns = time.process_time_ns()
                choices = await handler(titles, query)
                cpu_timings.append((time.process_time_ns() - started_cpu_ns) / 1e6)
                timings.append((time.perf_counter_ns() - started_ns) / 1e6)
                if miss:
                    miss_timings.append(timings[-1])
                sizes.append(len(choices))
            empty_ms = []
            for _ in range(50):
                started_ns = time.perf_counter_ns()
                await handler(titles, "")
                empty_ms.append((time.perf_counter_ns() - started_ns) / 1e6)
            boosted = len(await titles.boosts(GUILD) or {})
            index_size = len(titles.index)
        async with open_database(baseline_path, migrate=False) as baseline_db:
            baseline_ms = []
            for query in queries:
                started_ns = time.perf_counter_ns()
                await baseline(baseline_db, query)
                baseline_ms.append((time.perf_counter_ns() - started_ns) / 1e6)

    if args.slowest:
        ranked = sorted(zip(cpu_timings, queries, strict=True), reverse=True)[: args.slowest]
        for cpu_ms, query in ranked:
            print(f"{cpu_ms:8.3f} ms  {query!r}", file=sys.stderr)
    median = statistics.median(timings)
    baseline_median = statistics.median(baseline_ms)
    return {
        "path": PATH,
        "median_ms": round(median, 4),
        "p99_ms": round(percentile(timings, 0.99), 4),
        "rss_mb": rss_mb(),
        "baseline_median_ms": round(baseline_median, 4),
        "baseline_p99_ms": round(percentile(baseline_ms, 0.99), 4),
        "ratio_to_baseline": round(median / baseline_median, 3) if baseline_median else None,
        "after_vote_median_ms": round(statistics.median(miss_timings), 4),
        "after_vote_p99_ms": round(percentile(miss_timings, 0.99), 4),
        "max_ms": round(max(timings), 3),
        "cpu_median_ms": round(statistics.median(cpu_timings), 4),
        "cpu_p99_ms": round(percentile(cpu_timings, 0.99), 4),
        "empty_query_median_ms": round(statistics.median(empty_ms), 4),
        "fresh_boosts_median_ms": round(statistics.median(fresh_ms), 3),
        "queries": len(queries),
        "after_vote_queries": len(miss_timings),
        "mean_choices": round(statistics.fmean(sizes), 1),
        "titles": index_size,
        "server_votes": args.server_votes,
        "boosted_shows": boosted,
        "index_load_ms": round(load_ms, 1),
        "build_s": round(build_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--titles", type=int, default=100_000, help="generated titles besides the shipped catalog")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--server-votes", type=int, default=20_000, help="votes in the server the queries come from")
    parser.add_argument("--miss-every", type=int, default=10, help="every Nth query follows a vote")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    parser.add_argument("--slowest", type=int, default=0, metavar="N", help="list the N slowest queries on stderr")
    args = parser.parse_args()
    emit(asyncio.run(measure(args)), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
