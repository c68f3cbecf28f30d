"""The catalog command line, run as a user would: `python -m bot catalog ...` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bot.catalog.files import load_records, shipped_catalog_files

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, database: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD_", "LOG_LEVEL"))}
    env.update(environment, DATABASE_PATH=str(database))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_show_seven_seconds_json_on_a_fresh_database(tmp_path: Path) -> None:
    result = run("catalog", "show", "Seven Seconds", "--json", database=tmp_path / "t.db")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # a fresh database is migrated and seeded quietly
    show = json.loads(result.stdout)
    assert isinstance(show["id"], int)
    assert show["title"] == "Seven Seconds"
    assert show["premiered"] == "2018-02-23"
    assert show["network"] == "Netflix"
    assert show["genres"] == ["Crime", "Drama", "Thriller"]
    assert show["creators"] == ["Veena Sud"]
    assert {"name": "Beau Knapp", "character": "Pete Jablonski"} in show["cast"]
    assert {"name": "Clare-Hope Ashitey", "character": "KJ Harper"} in show["cast"]
    assert {"name": "Regina King", "character": "Latrice Butler"} in show["cast"]
    assert {"name": "Russell Hornsby", "character": "Isaiah Butler"} in show["cast"]
    assert (show["seasons"], show["episodes"]) == (1, 10)
    assert show["trailer_url"] is None
    assert {"kind": "premiere", "date": "2018-02-23", "service": "Netflix", "season": None, "region": None} in show[
        "releases"
    ]
    assert "cover it up" in show["synopsis"]


def test_show_by_id_and_as_text(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    show_id = json.loads(run("catalog", "show", "Dark", "--json", database=database).stdout)["id"]
    text = run("catalog", "show", f"id:{show_id}", database=database)
    assert text.returncode == 0
    assert text.stdout.startswith(f"Dark (id {show_id})")


def test_unknown_title_exits_1_with_suggestions(tmp_path: Path) -> None:
    result = run("catalog", "show", "Braking Badd Extra", database=tmp_path / "t.db")
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith('No show called "Braking Badd Extra". Did you mean: Breaking Bad (2008)')
    assert line.count("(") <= 5


def test_search_is_typo_tolerant_and_best_first(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    for query, expected in [("sevn secnds", "Seven Seconds"), ("stranger thigns", "Stranger Things"),
                            ("braking bad", "Breaking Bad"), ("la casa de papel", "Money Heist")]:  # fmt: skip
        result = run("catalog", "search", query, "--limit", "5", "--json", database=database)
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        assert found[0]["title"] == expected
        assert set(found[0]) >= {"id", "title"}


def test_search_limit_is_checked(tmp_path: Path) -> None:
    result = run("catalog", "search", "dark", "--limit", "0", database=tmp_path / "t.db")
    assert result.returncode == 1
    assert "--limit" in result.stderr and "Traceback" not in result.stderr


def test_stats_counts_tables(tmp_path: Path) -> None:
    stats = json.loads(run("catalog", "stats", "--json", database=tmp_path / "t.db").stdout)
    shipped = [record for path in shipped_catalog_files() for record in load_records(path)]
    assert stats["shows"] == len(shipped)  # the fresh database was seeded with every shipped show, once
    assert stats["genres"] == len({genre for record in shipped for genre in record.genres})
    assert (stats["votes"], stats["vote_messages"], stats["weekly_posts"]) == (0, 0, 0)


def test_import_reports_and_rolls_back(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": "showbot-catalog/1", "shows": [{"title": "A Test Show Nobody Made"}]}))
    first = run("catalog", "import", str(good), database=database)
    assert first.returncode == 0, first.stderr
    lock = r"; write lock held \d+\.\d{3} s\."
    assert re.fullmatch(r"Imported 1 shows: 1 added, 0 updated, 0 unchanged" + lock, first.stdout.strip())
    again = run("catalog", "import", str(good), database=database)
    assert re.fullmatch(r"Imported 1 shows: 0 added, 0 updated, 1 unchanged" + lock, again.stdout.strip())

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"title": "Another Test Show"}, {"title": "Broken", "episodes": -1}]))
    before = json.loads(run("catalog", "stats", "--json", database=database).stdout)["shows"]
    failed = run("catalog", "import", str(bad), database=database)
    assert failed.returncode == 1
    assert (
        failed.stderr.strip()
        == "Nothing imported: record 2 ('Broken'): field 'episodes': expected a whole number >= 0, got -1."
    )
    assert json.loads(run("catalog", "stats", "--json", database=database).stdout)["shows"] == before

    missing = run("catalog", "import", str(tmp_path / "nope.json"), database=database)
    assert missing.returncode == 1 and missing.stderr.startswith("No such file")


def assert_one_line_error(result: subprocess.CompletedProcess[str], starts: str) -> None:
    """A failure the user caused: exit 1, nothing on stdout, one line on stderr (no traceback, no log lines)."""
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(starts), line


def test_database_path_that_is_a_directory_or_not_sqlite_is_one_line(tmp_path: Path) -> None:
    # aiosqlite failing to connect used to leave its worker thread to print a traceback after the error line.
    assert_one_line_error(run("catalog", "stats", database=tmp_path), f"cannot open the database {tmp_path}:")
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database\n")
    for command in (["catalog", "stats"], ["votes", "export"], ["catalog", "show", "Dark"]):
        assert_one_line_error(run(*command, database=not_sqlite), f"cannot use {not_sqlite} as the Showbot database")
    assert not_sqlite.read_text() == "not a database\n"


def test_show_of_nothing_or_of_a_number_no_id_can_be_is_one_line(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    for blank in ("", "   "):
        assert_one_line_error(run("catalog", "show", blank, database=database), "Give the title of a show.")
    # Not ids: beyond SQLite's integers (was an OverflowError traceback), and a digit int() cannot read.
    for text in ("9" * 30, "²"):
        assert_one_line_error(run("catalog", "show", text, database=database), f'No show called "{text}".')


def test_usage_errors_are_one_line_with_a_pointer_to_help(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    for args, says in [
        (["votes", "export", "--guild", "abc"], "argument --guild: not a Discord id: 'abc'"),
        (["votes", "export", "--guild", "9" * 30], "argument --guild: not a Discord id"),  # was an OverflowError
        (["votes", "export", "--guild", "-1"], "argument --guild: not a Discord id: '-1'"),
        (["evaluate", "--dataset", str(tmp_path), "--users", "0"], "argument --users: not a whole number above 0"),
        (["catalog", "search", "dark", "--limit", "abc"], "argument --limit: invalid int value: 'abc'"),
        (["catalog"], "the following arguments are required: ACTION"),
    ]:
        result = run(*args, database=database)
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        (line,) = result.stderr.splitlines()  # argparse printed its usage block first
        assert says in line and line.endswith("--help)"), line
    assert not database.exists()  # refused before anything was opened


def test_search_for_nothing_or_for_too_much_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    assert_one_line_error(run("catalog", "search", " ", database=database), "Give some words of a title")
    # Was exit 0 and the whole 10,000 characters echoed back in "No show matches ...".
    assert_one_line_error(run("catalog", "search", "x" * 10_000, database=database), "The search text is too long")


def test_import_of_a_directory_empty_binary_or_null_file_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    before = run("catalog", "stats", "--json", database=database).stdout
    empty, binary, null = tmp_path / "empty.json", tmp_path / "binary.json", tmp_path / "null.json"
    empty.write_bytes(b"")
    binary.write_bytes(bytes(range(256)))
    null.write_text("null")
    for path, says in [
        (tmp_path, f"Not a file: {tmp_path}"),  # was "No such file"
        (empty, f"Nothing imported: {empty}: not valid JSON"),
        (binary, f"Nothing imported: {binary}: not UTF-8 text"),
        (null, "Nothing imported: expected a catalog object, a show object or a list of shows."),
    ]:
        assert_one_line_error(run("catalog", "import", str(path), database=database), says)
    assert run("catalog", "stats", "--json", database=database).stdout == before


def test_sync_of_a_blank_show_name_is_refused_before_any_request(tmp_path: Path) -> None:
    # Nothing listens there: a request would be retried with warnings, then fail as a network error.
    nowhere = "http://127.0.0.1:9"
    result = run("catalog", "sync", "tvmaze", "--show", " ", database=tmp_path / "t.db", TVMAZE_BASE_URL=nowhere)
    assert_one_line_error(result, "--show needs the name of a show.")
