"""Every benchmark in bench/ runs at a small size and prints the fields the README's performance table quotes, so none
of them can rot. (bench/recommend.py has its own test.) Sizes are the smallest that still exercise each path."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from shared_data import SHARED_DATA, require_shared

REPO_ROOT = Path(__file__).resolve().parents[1]
MACHINE_FIELDS = {"cpu", "cores", "load_1m", "load_5m", "python", "sqlite"}

pytestmark = pytest.mark.slow


def readme_row(name: str, result: dict[str, Any]) -> str:
    """The README table's row that bench/readme_table.py makes of `result` (so the generator cannot rot either)."""
    spec = importlib.util.spec_from_file_location("readme_table", REPO_ROOT / "bench" / "readme_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells = module.ROWS[name](result)
    assert len(cells) == 4 and all(cells)
    return " | ".join(cells)


def run_bench(script: str, *args: str, expect_status: int = 0) -> dict[str, Any]:
    """Run bench/`script` with --json in a fresh interpreter; its one line of output, parsed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / script), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == expect_status, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"{script} must print exactly one JSON line, printed:\n{done.stdout}"
    result: dict[str, Any] = json.loads(lines[0])
    assert isinstance(result.get("path"), str) and "Leaves out" in result["path"], "the path names what it leaves out"
    assert set(result["machine"]) >= MACHINE_FIELDS
    return result


def test_votes_through_the_gateway_and_store_only() -> None:
    result = run_bench("votes.py", "--events", "400", "--members", "40", "--messages", "6")
    assert result["events"] == 400 and result["events_per_s"] == result["gateway"]["events_per_s"] > 0
    for part in ("gateway", "store_only"):
        assert (result[part]["lost"], result[part]["double_counted"]) == (0, 0), part
    assert result["gateway"]["events_processed"] == 400
    assert result["gateway"]["rate_limited_429"] == 0
    assert result["store_only"]["integrity_check"] == "ok"
    assert "0 lost, 0 double-counted" in readme_row("votes", result)


def test_weekly_tick_through_the_emulator_with_rate_limits() -> None:
    result = run_bench("weekly.py", "--servers", "4", "--votes-per-server", "5")
    assert (result["due"], result["posted"], result["ledger_posted"], result["tracked_for_votes"]) == (4, 4, 4, 4)
    assert result["posts_sent"] == 4 and result["reactions_sent"] > 0
    assert result["posts_before_reactions"] is True and result["rate_limited_429"] == 0
    assert result["keycaps_on_posts"] == result["keycaps_requested"] == result["reactions_sent"]
    assert result["floor_s"] == pytest.approx(result["requests_global"] / 50, abs=0.01)
    assert result["ratio_to_floor"] == pytest.approx(result["tick_s"] / result["floor_s"], rel=0.01)
    assert result["offline_posts"] == 4 and result["idle_due"] == 0
    assert "every post before any keycap, 0 429s" in readme_row("weekly", result)


def test_autocomplete_with_vote_boosts_against_the_same_queries_in_sql() -> None:
    result = run_bench(
        "autocomplete.py", "--titles", "500", "--queries", "100", "--server-votes", "300", "--miss-every", "5"
    )
    assert result["queries"] == 100 and result["after_vote_queries"] == 20
    assert result["boosted_shows"] > 0 and result["titles"] >= 500
    assert result["median_ms"] > 0 and result["baseline_median_ms"] > 0
    assert result["ratio_to_baseline"] == pytest.approx(result["median_ms"] / result["baseline_median_ms"], rel=0.01)
    assert result["rss_mb"] > 0 and result["p99_ms"] >= result["median_ms"]
    assert f"ratio {result['ratio_to_baseline']:.2f}" in readme_row("autocomplete", result)


def test_netflix_import_twice_changes_nothing_the_second_time() -> None:
    csv_path = require_shared(SHARED_DATA / "netflix_titles.csv")
    result = run_bench("import_netflix.py", "--csv", str(csv_path), "--rows", "150")
    assert result["added"] > 0 and result["seconds"] > 0
    assert result["second_import_changed"] == 0 and result["second_import_changed_content"] is False
    assert "a second import changes nothing" in readme_row("import_netflix", result)


def test_show_latency_through_the_emulator() -> None:
    result = run_bench("show_latency.py", "--requests", "3", "--warmup", "1", "--validation", "off")
    assert result["requests"] == 3 and result["median_ms"] > 0
    assert result["modes"]["off"]["violations"] == 0 and result["modes"]["off"]["rule_breaks"] == 0
    assert readme_row("show_latency", result).startswith("`/show`")


def test_popularity_derivation_writes_what_changed() -> None:
    require_shared(SHARED_DATA / "tvmaze" / "shows_index_page1_2016.json")  # the generated shows' templates
    result = run_bench("popularity.py", "--shows", "1000", "--tmdb", "200", "--repeat", "2")
    assert (result["shows"], result["with_tmdb_popularity"]) == (1000, 200)
    low, high = result["popularity_range"]
    assert 0 < low < high < 100
    assert result["all_rows_written"]["rows_written_median"] == 1000
    assert result["one_page_of_250"]["rows_written_median"] == 250
    assert 0 < result["one_number_changed"]["rows_written_median"] < 1000
    assert all(result[name]["median_ms"] > 0 for name in ("all_rows_written", "one_number_changed", "one_page_of_250"))


def test_tvmaze_index_bootstrap_into_the_running_bot_with_the_loop_watched() -> None:
    require_shared(SHARED_DATA / "tvmaze" / "shows_index_page1_2016.json")
    result = run_bench("tvmaze_index.py", "--shows", "600", "--queries", "20")
    assert result["shows_read"] == result["added"] == 600 and result["pages"] == 3
    assert result["index_shows"] == result["catalog_shows"] and result["last_page_show_found"] is True
    assert result["loop_lag_max_ms"] >= result["loop_lag_p99_ms"] >= 0 and result["queries"] == 20
    assert "the event loop's longest pause" in readme_row("tvmaze_index", result)
