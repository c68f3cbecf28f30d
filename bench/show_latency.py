"""/show latency through the local Discord emulator, with the real bot: from INTERACTION_CREATE to the callback.

    python bench/show_latency.py --requests 300 --json

Seeds a temporary database with the shipped catalog, starts the Discord emulator with the demo server and the real
ShowBot (every cog in cogs/) in this process, and sends `/show title:...` as demo members would: a third picked from
the autocomplete list (the value is the show id), a third typed in full (varied case), a third typed with one or two
misspellings (missing, extra, swapped or wrong letters), over all the shipped shows. The time of one request runs from
the moment the emulator dispatches INTERACTION_CREATE (`InteractionRecord.dispatched_at`) to the moment it receives
`POST /interactions/{id}/{token}/callback` (`RecordedRequest.received_at`); the reactions the bot adds after its
answer are not counted (each request still waits for them, so requests never overlap). The autocomplete round trip
(typed prefixes, whole and misspelt titles, empty input) is timed the same way. A few requests of each kind warm up
first and are not counted.

The emulator validates every body the bot sends against Discord's documented limits and, with `jsonschema`
installed, the OpenAPI spec it ships (bot/emulator/discord_spec/). `--validation both` (the default) measures with
the spec validation on and off; the top-level numbers are those with it on (when the spec is present).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit, misspell, percentile, summary

from bot.app.core import ShowBot
from bot.app.harness import FAKE_TOKEN, running_bot
from bot.catalog import seed_if_empty
from bot.catalog.choices import choice_value
from bot.common.config import Settings
from bot.emulator import DiscordDriver, DiscordEmulator, build_demo_server
from bot.emulator.driver import BOT_WORK_PREFIXES
from bot.emulator.spec import DEFAULT_SPEC_PATH
from bot.storage import open_database

MEMBERS = ("alice", "bob", "carol")


@dataclass(frozen=True)
class ShowRequest:
    kind: str  # "id" (a picked choice), "title" (typed in full) or "misspelt"
    value: str  # what goes in the title option
    intended: str  # the title of the show meant


def varied_case(text: str, rng: random.Random) -> str:
    return rng.choice((text, text.lower(), text.upper(), text.title()))


def show_requests(shows: list[tuple[int, str]], count: int, rng: random.Random) -> list[ShowRequest]:
    """`count` requests cycling over every show (shuffled), the kinds in equal thirds."""
    order = list(shows)
    requests: list[ShowRequest] = []
    while len(requests) < count:
        rng.shuffle(order)
        for show_id, title in order[: count - len(requests)]:
            kind = ("id", "title", "misspelt")[len(requests) % 3]
            if kind == "id":
                value = choice_value(show_id)  # what a picked autocomplete choice sends
            elif kind == "title":
                value = varied_case(title, rng)
            else:
                value = misspell(varied_case(title, rng), rng, rng.choice((1, 1, 2)))
            requests.append(ShowRequest(kind, value, title))
    return requests


def autocomplete_inputs(titles: list[str], count: int, rng: random.Random) -> list[str]:
    """What members type while the list is open: prefixes (40%), whole titles (25%), misspelt (25%), nothing (10%)."""
    inputs = []
    for _ in range(count):
        title = rng.choice(titles)
        roll = rng.random()
        if roll < 0.4:
            inputs.append(varied_case(title[: rng.randint(1, 12)], rng))
        elif roll < 0.65:
            inputs.append(varied_case(title, rng))
        elif roll < 0.9:
            inputs.append(misspell(title.lower(), rng, rng.choice((1, 1, 2))))
        else:
            inputs.append("")
    return inputs


def _sequences(bot: ShowBot, emulator: DiscordEmulator) -> list[tuple[int, int | None]]:
    """(sent, read) per live gateway session: the emulator's sequence number, and the bot's shard's."""
    pairs: list[tuple[int, int | None]] = []
    for session in emulator.live_sessions():
        shard = bot.get_shard(session.shard.id)
        ws = shard._parent.ws if shard is not None else None  # discord.py keeps each shard's websocket there
        pairs.append((session.seq, ws.sequence if ws is not None else None))
    return pairs


async def finish_bot_work(bot: ShowBot, emulator: DiscordEmulator, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Return once the bot has read every gateway event sent so far and finished every handler it started.

    The driver's own settle() asks the client for a heartbeat to prove it read the gateway, and discord.py sends that
    through its gateway rate limiter (110 sends a minute): hundreds of requests would stall the client for up to a
    minute. The bot runs in this process, so its websocket's sequence number is the same proof without a send.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    current = asyncio.current_task()
    spins = 0
    while loop.time() < deadline:
        behind = any(read is None or read < sent for sent, read in _sequences(bot, emulator))
        busy = [
            task
            for task in asyncio.all_tasks()
            if task is not current and not task.done() and task.get_name().startswith(BOT_WORK_PREFIXES)
        ]
        if busy:
            await asyncio.wait(busy, timeout=max(0.0, deadline - loop.time()))
        elif behind:
            spins += 1
            await asyncio.sleep(0 if spins < 1000 else 0.001)  # the frame is on its way: let the client read it
        else:
            return
    raise TimeoutError(f"The bot was still busy after {timeout:.0f}s")


async def seed(path: Path) -> list[tuple[int, str]]:
    async with open_database(path) as db:
        await seed_if_empty(db)
        rows = await db.fetchall("SELECT id, title FROM shows ORDER BY id")
    return [(int(row[0]), str(row[1])) for row in rows]


async def measure(
    database_path: Path,
    *,
    spec_validation: bool,
    requests: list[ShowRequest],
    typed: list[str],
    warmup_requests: list[ShowRequest],
    warmup_typed: list[str],
) -> dict[str, Any]:
    """Run the requests through a fresh emulator and bot on `database_path`; the timings and what the bot answered."""
    spec_path = DEFAULT_SPEC_PATH if spec_validation else None
    async with DiscordEmulator(token=FAKE_TOKEN, spec_path=spec_path, require_spec=False) as emulator:
        demo = build_demo_server(emulator)
        settings = Settings(database_path=database_path, discord_token=FAKE_TOKEN, log_level="WARNING")
        async with open_database(database_path) as db, running_bot(emulator, settings, db) as bot:
            # Not in_process: the driver returns once the bot has answered, and finish_bot_work() waits for the rest.
            driver = DiscordDriver(emulator, demo, in_process=False, timeout=30.0)
            for index, request in enumerate(warmup_requests):
                await driver.slash("show", title=request.value, user=MEMBERS[index % len(MEMBERS)])
                await finish_bot_work(bot, emulator)
            for index, text in enumerate(warmup_typed):
                await driver.autocomplete("show", "title", text, user=MEMBERS[index % len(MEMBERS)])
                await finish_bot_work(bot, emulator)

            show_ms: dict[str, list[float]] = {"id": [], "title": [], "misspelt": []}
            until_reactions_ms = []  # dispatch to the last request the bot made for it (its 👍/👎), for context
            cards = not_found = as_intended = 0
            misses: list[tuple[str, str, str | None]] = []  # (typed, meant, the card's title or None for not found)
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            for index, request in enumerate(requests):
                before = len(emulator.requests)
                reply = await driver.slash("show", title=request.value, user=MEMBERS[index % len(MEMBERS)])
                await finish_bot_work(bot, emulator)  # the reactions: requests never overlap
                latency = reply.record.callback_latency
                assert latency is not None, "the driver returns only once the interaction is acknowledged"
                show_ms[request.kind].append(latency * 1000)
                last_request = emulator.requests[-1].received_at if len(emulator.requests) > before else 0.0
                until_reactions_ms.append((last_request - reply.record.dispatched_at) * 1000)
                if reply.ephemeral or not reply.embeds:
                    not_found += 1
                    misses.append((request.value, request.intended, None))
                    continue
                cards += 1
                shown = str(reply.embed.get("title")).replace("\\", "")  # the card escapes Markdown: M\*A\*S\*H
                if shown == request.intended:
                    as_intended += 1
                else:
                    misses.append((request.value, request.intended, reply.embed.get("title")))
            show_wall_s = time.perf_counter() - started

            autocomplete_ms = []
            choice_counts = []
            for index, text in enumerate(typed):
                choices = await driver.autocomplete("show", "title", text, user=MEMBERS[index % len(MEMBERS)])
                await finish_bot_work(bot, emulator)
                record = next(reversed(emulator.interactions.values()))  # the one just answered
                latency = record.callback_latency
                assert latency is not None
                autocomplete_ms.append(latency * 1000)
                choice_counts.append(len(choices))
            load_after = os.getloadavg()[0]

        all_show_ms = [ms for timings in show_ms.values() for ms in timings]
        return {
            **summary(all_show_ms),
            "requests": len(all_show_ms),
            "until_reactions_median_ms": round(statistics.median(until_reactions_ms), 3),
            "by_kind_median_ms": {kind: round(statistics.median(ms), 3) for kind, ms in show_ms.items() if ms},
            "autocomplete_median_ms": round(statistics.median(autocomplete_ms), 3),
            "autocomplete_p99_ms": round(percentile(autocomplete_ms, 0.99), 3),
            "autocomplete_requests": len(autocomplete_ms),
            "autocomplete_mean_choices": round(statistics.fmean(choice_counts), 1),
            "validation": "spec+limits" if emulator.validator.available else "limits only",
            "cards": cards,
            "not_found": not_found,
            "cards_of_the_intended_show": as_intended,
            "misses": misses[:20],
            "show_requests_per_s_with_reactions": round(len(requests) / show_wall_s, 1),
            "violations": len(emulator.violations),
            "rule_breaks": len(emulator.rule_breaks),
            "load_average": [round(load_before, 2), round(load_after, 2)],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="/show requests timed")
    parser.add_argument("--autocomplete", type=int, default=None, help="autocomplete requests timed (default: same)")
    parser.add_argument("--warmup", type=int, default=10, help="requests of each kind sent first and not timed")
    parser.add_argument("--validation", choices=("on", "off", "both"), default="both", help="the spec validation")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    # The bot's and the emulator's warnings go to stderr, so stdout stays one JSON object.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rng = random.Random(args.seed)
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.validation]

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="showbot-bench-") as directory:
        template = Path(directory) / "seeded.sqlite3"
        started = time.perf_counter()
        shows = asyncio.run(seed(template))
        seed_s = time.perf_counter() - started
        titles = [title for _, title in shows]
        warmup_requests = show_requests(shows, args.warmup, rng)
        warmup_typed = autocomplete_inputs(titles, args.warmup, rng)
        requests = show_requests(shows, args.requests, rng)
        typed = autocomplete_inputs(titles, args.autocomplete or args.requests, rng)
        for spec_validation in modes:
            # Each mode on its own copy: the first run's vote messages must not change the second's database.
            path = Path(directory) / f"spec-{'on' if spec_validation else 'off'}.sqlite3"
            shutil.copyfile(template, path)
            results["on" if spec_validation else "off"] = asyncio.run(
                measure(
                    path,
                    spec_validation=spec_validation,
                    requests=requests,
                    typed=typed,
                    warmup_requests=warmup_requests,
                    warmup_typed=warmup_typed,
                )
            )

    headline = results.get("on") or results["off"]
    result = {
        "path": (
            "each /show: from the emulator dispatching INTERACTION_CREATE to it receiving the interaction's callback, "
            "the real bot in the same process. Leaves out: network latency, and the vote reactions the bot adds "
            "after answering (until_reactions_median_ms includes them: Discord's reaction bucket paces them)."
        ),
        "median_ms": headline["median_ms"],
        "p99_ms": headline["p99_ms"],
        "p90_ms": headline["p90_ms"],
        "requests": headline["requests"],
        "autocomplete_median_ms": headline["autocomplete_median_ms"],
        "validation": headline["validation"],
        "mix": {kind: sum(r.kind == kind for r in requests) for kind in ("id", "title", "misspelt")},
        "shows": len(shows),
        "warmup": args.warmup,
        "modes": results,
        "seed_s": round(seed_s, 1),
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
