"""What every benchmark shares: percentiles, the misspelling generator, the machine it ran on, RSS, the JSON output.

Each benchmark prints one JSON object (with --json on one line) whose "path" field says what its timer spans and what
it leaves out, and whose "machine" field says what it ran on and how busy that was (the load average): numbers from a
shared 2-core machine are only comparable within one run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.99 for p99) of a non-empty list: the smallest value that at least
    that fraction of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def summary(timings_ms: list[float], digits: int = 3) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(timings_ms), digits),
        "p90_ms": round(percentile(timings_ms, 0.90), digits),
        "p99_ms": round(percentile(timings_ms, 0.99), digits),
        "max_ms": round(max(timings_ms), digits),
    }


def misspell(text: str, rng: random.Random, edits: int) -> str:
    """`edits` typos (delete, insert, swap, replace), never on the first letter, as a member types in a hurry."""
    for _ in range(edits):
        if len(text) < 4:
            break
        kind = rng.choice(("delete", "insert", "swap", "replace"))
        position = rng.randrange(2 if kind == "swap" else 1, len(text) - 1)
        if kind == "delete":
            text = text[:position] + text[position + 1 :]
        elif kind == "insert":
            text = text[:position] + rng.choice(LETTERS) + text[position:]
        elif kind == "swap":
            text = text[: position - 1] + text[position] + text[position - 1] + text[position + 1 :]
        else:
            text = text[:position] + rng.choice(LETTERS) + text[position + 1 :]
    return text


def rss_mb() -> float:
    """The peak resident set size of this process so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_model() -> str:
    """The CPU model as lscpu names it (falls back to /proc/cpuinfo, then to the platform)."""
    try:
        listing = subprocess.run(["lscpu"], capture_output=True, text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    with contextlib.suppress(OSError):
        listing += Path("/proc/cpuinfo").read_text()
    for line in listing.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was when the benchmark finished."""
    load_1m, load_5m, _ = os.getloadavg()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_1m": round(load_1m, 2),
        "load_5m": round(load_5m, 2),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def emit(result: dict[str, Any], as_json: bool) -> None:
    """Print the result (one line with --json, indented otherwise), with the machine it ran on."""
    result = {**result, "machine": machine()}
    print(json.dumps(result) if as_json else json.dumps(result, indent=2, ensure_ascii=False))
    sys.stdout.flush()
