"""bench/recommend.py at a small size: it builds its data set, measures in a second process, and reports every phase."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "recommend.py"


def test_recommend_benchmark_runs_small_and_reports_each_phase() -> None:
    command = [sys.executable, str(BENCH), "--json", "--shows", "400", "--members", "200", "--votes", "2500"]
    command += ["--requests", "20", "--votes-cast", "20", "--colds", "2"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert "cold" in result["path"] and "Left out" in result["path"]
    for phase in ("cold", "warm", "after_vote", "on_vote"):
        assert 0 < result[f"{phase}_median_ms"] <= result[f"{phase}_p99_ms"], (phase, result)
    for phase in ("cold", "warm", "after_vote"):
        assert 0 <= result[f"{phase}_cpu_median_ms"] <= result[f"{phase}_cpu_p99_ms"], (phase, result)
    assert (result["cold_requests"], result["warm_requests"], result["after_vote_requests"]) == (2, 20, 20)
    assert result["shows"] == 400 and result["members"] > 100 and result["votes"] > 2000
    assert 0 < result["rss_mb"] < 500
