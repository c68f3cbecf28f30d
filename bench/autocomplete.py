"""Autocomplete speed: the title option's handler on a catalog of generated titles plus the shipped ones.

    python bench/autocomplete.py --titles 100000 --json

Builds a temporary database (migrations, the shipped catalog from data/catalog/*.json, then N generated titles:
word combinations, invented names, some accents and punctuation, 5% with an alternative title), loads the search
index, and times `autocomplete_choices` plus building the `app_commands.Choice` objects (what the cog does with an
interaction's option text) over a mixed query set: prefixes of 1-12 characters, whole titles, and misspelt titles
(missing, extra, swapped and wrong letters). In the same run it times one plain FTS5 trigram MATCH query per query on
the same database (the baseline), and reports the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from discord import app_commands

from bot.catalog import connect_sync, seed_if_empty
from bot.db import open_database
from bot.search import SearchIndex, autocomplete_choices
from bot.text import normalise

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


def misspell(text: str, rng: random.Random, edits: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(edits):
        if len(text) < 3:
            break
        position = rng.randrange(1, len(text) - 1)
        kind = rng.choice(("delete", "insert", "swap", "replace"))
        if kind == "delete":
            text = text[:position] + text[position + 1 :]
        elif kind == "insert":
            text = text[:position] + rng.choice(letters) + text[position:]
        elif kind == "swap":
            text = text[: position - 1] + text[position] + text[position - 1] + text[position + 1 :]
        else:
            text = text[:position] + rng.choice(letters) + text[position + 1 :]
    return text


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


async def load_index(path: Path) -> tuple[SearchIndex, float, list[int]]:
    async with open_database(path) as db:
        started = time.perf_counter()
        index = await SearchIndex.load(db)
        load_ms = (time.perf_counter() - started) * 1000
        show_ids = [row[0] for row in await db.fetchall("SELECT id FROM shows")]
    return index, load_ms, show_ids


def handler(index: SearchIndex, text: str, boosts: dict[int, float]) -> list[app_commands.Choice[str]]:
    """What the cog's autocomplete callback does with the option text."""
    return [app_commands.Choice(name=name, value=value) for name, value in autocomplete_choices(index, text, boosts)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=100_000, help="generated titles besides the shipped catalog")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--slowest", type=int, default=0, metavar="N", help="list the N slowest queries on stderr")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="showbot-bench-") as directory:
        path = Path(directory) / "bench.sqlite3"
        started = time.perf_counter()
        titles = asyncio.run(build_database(path, args.titles, rng))
        build_s = time.perf_counter() - started
        index, load_ms, show_ids = asyncio.run(load_index(path))
        queries = query_mix(titles, args.queries, rng)
        del titles
        boosts = {show_id: float(rng.randint(-3, 12)) for show_id in rng.sample(show_ids, min(200, len(show_ids)))}

        for query in queries[:200]:  # warm-up: caches, lazy imports
            handler(index, query, boosts)
        timings = []
        cpu_timings = []  # the same calls in CPU time: excludes time the OS gave other processes (a busy machine)
        sizes = []
        for query in queries:
            started_ns = time.perf_counter_ns()
            started_cpu_ns = time.thread_time_ns()
            choices = handler(index, query, boosts)
            cpu_timings.append((time.thread_time_ns() - started_cpu_ns) / 1e6)
            timings.append((time.perf_counter_ns() - started_ns) / 1e6)
            sizes.append(len(choices))
        empty_ms = []
        for _ in range(50):
            started_ns = time.perf_counter_ns()
            handler(index, "", boosts)
            empty_ms.append((time.perf_counter_ns() - started_ns) / 1e6)

        conn = connect_sync(path)
        fts_ms = []
        try:
            for query in queries:
                norm = normalise(query)
                if len(norm) < 3:
                    continue  # a trigram index cannot match fewer than three characters
                phrase = '"' + norm.replace('"', '""') + '"'
                started_ns = time.perf_counter_ns()
                conn.execute("SELECT rowid FROM title_fts WHERE title_fts MATCH ? LIMIT 25", (phrase,)).fetchall()
                fts_ms.append((time.perf_counter_ns() - started_ns) / 1e6)
        finally:
            conn.close()

    if args.slowest:
        ranked = sorted(zip(cpu_timings, queries, strict=True), reverse=True)[: args.slowest]
        for cpu_ms, query in ranked:
            print(f"{cpu_ms:8.3f} ms  {query!r}", file=sys.stderr)
    median = statistics.median(timings)
    fts_median = statistics.median(fts_ms)
    result = {
        "median_ms": round(median, 4),
        "p99_ms": round(percentile(timings, 0.99), 4),
        "fts_baseline_median_ms": round(fts_median, 4),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ratio_to_fts": round(median / fts_median, 3) if fts_median else None,
        "max_ms": round(max(timings), 3),
        "cpu_median_ms": round(statistics.median(cpu_timings), 4),
        "cpu_p99_ms": round(percentile(cpu_timings, 0.99), 4),
        "load_average": round(os.getloadavg()[0], 2),
        "empty_query_median_ms": round(statistics.median(empty_ms), 4),
        "queries": len(queries),
        "mean_choices": round(statistics.fmean(sizes), 1),
        "titles": len(index),
        "index_load_ms": round(load_ms, 1),
        "build_s": round(build_s, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
