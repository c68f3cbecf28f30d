"""The README's performance rows, from the benchmarks' own --json output (nothing typed by hand).

    for name in autocomplete show_latency votes weekly import_netflix tvmaze_index; do
        python bench/$name.py --json > /tmp/$name.json
    done
    python bench/readme_table.py /tmp/*.json

Each file is named after its benchmark (`votes.json` is bench/votes.py's output); each prints one Markdown row of
the README's table, quoting only what the benchmark printed, with the load average it finished under.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = tuple[str, str, str, str]  # what, command, result, target


def _load(result: dict[str, Any]) -> str:
    return f"load {result['machine']['load_1m']}"


def autocomplete(r: dict[str, Any]) -> Row:
    return (
        f"autocomplete, from the option's text to the choices, {r['titles']:,} titles, typos on, with the server's "
        f"vote boosts ({r['server_votes']:,} votes; every {r['queries'] // r['after_vote_queries']}th query right "
        "after a vote)",
        "`python bench/autocomplete.py --titles 100000 --json`",
        f"median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, RSS {r['rss_mb']:.0f} MB; right after a vote "
        f"median {r['after_vote_median_ms']:.2f} ms, p99 {r['after_vote_p99_ms']:.2f} ms; the same queries in plain "
        f"SQL (FTS5, same limit) median {r['baseline_median_ms']:.2f} ms, ratio {r['ratio_to_baseline']:.2f}; "
        f"CPU time median {r['cpu_median_ms']:.2f} ms, p99 {r['cpu_p99_ms']:.2f} ms; the server's boosts read "
        "afresh (its first query after a start, "
        f"then once per 300 s TTL) {r['fresh_boosts_median_ms']:.2f} ms ({_load(r)})",
        "≤ 1 ms, ≤ 5 ms, ≤ 150 MB",
    )


def _validation_flag(r: dict[str, Any]) -> str:
    modes = sorted(r["modes"])
    return "" if modes == ["off", "on"] else f" --validation {modes[0]}"


def show_latency(r: dict[str, Any]) -> Row:
    return (
        f"`/show` from INTERACTION_CREATE to the callback, through the emulator, real bot, {r['requests']} mixed "
        "requests",
        f"`python bench/show_latency.py --requests {r['requests']}{_validation_flag(r)} --json`",
        f"median {r['median_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; autocomplete round trip "
        f"{r['autocomplete_median_ms']:.1f} ms ({r['validation']}; {_load(r)})",
        "median < 20 ms",
    )


def votes(r: dict[str, Any]) -> Row:
    store = r["store_only"]
    return (
        f"votes: {r['events']:,} reaction events sent by the emulator's gateway, through discord.py and the votes "
        "cog, until the last vote is committed",
        f"`python bench/votes.py --events {r['events']} --json`",
        f"{r['events_per_s']:,} events/s, {r['lost']} lost, {r['double_counted']} double-counted; store only "
        f"(no gateway): {store['events_per_s']:,} events/s ({_load(r)})",
        "≥ 2,000/s, 0 lost, 0 double-counted",
    )


def weekly(r: dict[str, Any]) -> Row:
    order = "every post before any keycap" if r["posts_before_reactions"] else "a keycap before some post"
    return (
        f"one weekly tick with {r['servers']:,} servers due, every request (post, keycaps) through the emulator "
        "with Discord's rate limits",
        f"`python bench/weekly.py --servers {r['servers']} --json`",
        f"{r['tick_s']:.1f} s for {r['requests']:,} requests: {r['ratio_to_floor']:.2f}× the {r['floor_s']:.0f} s "
        f"floor of 50 requests/s; all posts out after {r['all_posts_out_s']:.1f} s, {order}, "
        f"{r['rate_limited_429']} 429s; without REST (rendering only) {r['offline_tick_ms']:,.0f} ms ({_load(r)})",
        "≤ 1.25× the floor",
    )


def import_netflix(r: dict[str, Any]) -> Row:
    changed = (
        "changes nothing"
        if not (r["second_import_changed"] or r["second_import_changed_content"])
        else ("CHANGED the database")
    )
    return (
        f"Netflix dataset import ({r['shows']:,} shows) into the seeded catalog",
        "`python bench/import_netflix.py --json`",
        f"{r['seconds']:.1f} s, {r['rss_mb']:.0f} MB, write lock held {r['write_lock_seconds']:.2f} s (the former "
        f"one-transaction import held it {r['direct_import_seconds']:.1f} s in the same run); a second import "
        f"{changed} ({_load(r)})",
        "< 20 s, < 200 MB, lock well under 1 s",
    )


def tvmaze_index(r: dict[str, Any]) -> Row:
    return (
        f"TVmaze's whole index: {r['shows_read']:,} generated shows shaped like its index page, from a local fake "
        "TVmaze into the running bot (fetch, import, title index, facets, recommender, page by page; TVmaze's rate "
        "limit left out), then the title index rebuilt whole",
        "`python bench/tvmaze_index.py --shows 90000 --json`",
        f"{r['cpu_seconds']:.0f} s of CPU time ({r['seconds']:.0f} s of wall time); the event loop's longest pause "
        f"{r['loop_lag_max_ms']:.0f} ms, p99 {r['loop_lag_p99_ms']:.0f} ms, {r['loop_lag_over_50ms']} pauses over "
        f"50 ms; RSS {r['rss_after_mb']:.0f} MB after the last page, {r['rss_after_rebuild_mb']:.0f} MB after the "
        f"rebuild ({r['rebuild_seconds']:.1f} s); autocomplete on the rebuilt index median "
        f"{r['autocomplete_median_ms']:.2f} ms, p99 {r['autocomplete_p99_ms']:.2f} ms (CPU time median "
        f"{r['autocomplete_cpu_median_ms']:.2f} ms, p99 {r['autocomplete_cpu_p99_ms']:.2f} ms), on the page-by-page "
        f"index CPU time p99 {r['learned_index_cpu_p99_ms']:.2f} ms ({_load(r)})",
        "≤ 60 s, ≤ 250 MB, ≤ 1 ms, ≤ 5 ms",
    )


ROWS: dict[str, Callable[[dict[str, Any]], Row]] = {
    "autocomplete": autocomplete,
    "show_latency": show_latency,
    "votes": votes,
    "weekly": weekly,
    "import_netflix": import_netflix,
    "tvmaze_index": tvmaze_index,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", type=Path, nargs="+", help="NAME.json: the --json output of bench/NAME.py")
    args = parser.parse_args()
    for path in args.results:
        row = ROWS.get(path.stem)
        if row is None:
            print(f"{path.name}: not a benchmark this script knows ({', '.join(ROWS)})", file=sys.stderr)
            return 2
        print("| " + " | ".join(row(json.loads(path.read_text(encoding="utf-8")))) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
