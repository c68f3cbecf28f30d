"""`python -m bot console` through the real CLI, in a subprocess, on a fresh database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from fake_tvmaze import FakeTvmaze

pytestmark = pytest.mark.e2e


def console(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return showbot(database, "console", *args)


def showbot(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD_", "DEV_GUILD"))}
    env["DATABASE_PATH"] = str(database)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_json_prints_the_interaction_response_with_the_show_embed(tmp_path: Path) -> None:
    result = console(tmp_path / "db.sqlite3", "-c", "/show title:Seven Seconds", "--json")
    assert result.returncode == 0, result.stderr
    requests = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(request) == {"method", "path", "body"} for request in requests)
    callbacks = [r for r in requests if r["path"].endswith("/callback")]
    assert len(callbacks) == 1
    assert callbacks[0]["body"]["type"] == 5  # deferred first ("thinking…"), then the card replaces it
    (answer,) = [r for r in requests if r["method"] == "PATCH" and r["path"].endswith("/messages/@original")]
    assert answer["body"]["embeds"][0]["title"].startswith("Seven Seconds")
    assert "Traceback" not in result.stderr


def test_a_title_made_of_digits_is_that_show_in_the_console_and_in_catalog_show(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    record = tmp_path / "24.json"
    record.write_text(json.dumps([{"title": "24"}]))  # the real show's title, and nothing else about it
    imported = showbot(database, "catalog", "import", str(record))
    assert imported.returncode == 0, imported.stderr

    result = console(database, "-c", "/show title:24", "--json")
    assert result.returncode == 0, result.stderr
    requests = [json.loads(line) for line in result.stdout.splitlines()]
    (answer,) = [r for r in requests if r["method"] == "PATCH" and r["path"].endswith("/messages/@original")]
    assert answer["body"]["embeds"][0]["title"] == "24"  # the answer to the deferred /show

    by_title = json.loads(showbot(database, "catalog", "show", "24", "--json").stdout)
    assert by_title["title"] == "24"
    by_id = json.loads(showbot(database, "catalog", "show", "id:24", "--json").stdout)
    assert (by_id["id"], by_id["title"] != "24") == (24, True)  # the show whose database id is 24 is another
    gone = showbot(database, "catalog", "show", "id:999999")
    assert (gone.returncode, gone.stderr) == (1, "No show has the id 999999.\n")


def test_choice_options_by_name_as_the_help_shows(tmp_path: Path) -> None:
    line = "/weekly set channel:#watch-party day:friday time:18:00 timezone:Europe/London"
    assert line in console(tmp_path / "db.sqlite3", "-c", "help").stdout  # the help's own example
    result = console(tmp_path / "db.sqlite3", "--as", "owner", "-c", line)
    assert result.returncode == 0, result.stderr
    assert "every Friday at 18:00 (Europe/London)" in result.stdout
    wrong = console(tmp_path / "db.sqlite3", "--as", "owner", "-c", line.replace("friday", "fryday"))
    assert wrong.returncode == 1 and "'fryday' is not a choice of 'day'" in wrong.stderr


def test_a_member_without_the_permission_is_told_its_name(tmp_path: Path) -> None:
    result = console(tmp_path / "db.sqlite3", "--as", "bob", "-c", "/weekly status")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "✗ bob cannot see /weekly: it needs the Manage Server permission"


def test_lines_run_in_order_and_state_persists_between_runs(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    first = console(database, "-c", "/show title:Seven Seconds", "-c", "react last 👍", "--as", "bob")
    assert first.returncode == 0, first.stderr
    assert "Seven Seconds" in first.stdout and "Reacted 👍" in first.stdout
    assert (tmp_path / "console.log").exists()  # the bot's log went to the file, not the terminal
    assert "INFO" not in first.stdout + first.stderr
    second = console(database, "-c", "/myvotes", "--as", "bob")
    assert second.returncode == 0, second.stderr
    assert "Seven Seconds" in second.stdout


def test_autocomplete_choices_for_a_value_ending_in_a_question_mark(tmp_path: Path) -> None:
    result = console(tmp_path / "db.sqlite3", "-c", "/show title:seven sec?")
    assert result.returncode == 0, result.stderr
    assert "Choices for title:" in result.stdout and "Seven Seconds" in result.stdout


def test_a_line_that_cannot_run_exits_non_zero(tmp_path: Path) -> None:
    result = console(tmp_path / "db.sqlite3", "-c", "/nosuchcommand", "-c", "help")
    assert result.returncode == 1
    assert "/nosuchcommand is not a command" in result.stderr
    assert "Type what a member" not in result.stdout  # stopped at the failing line


def test_an_unknown_member_is_a_usage_error(tmp_path: Path) -> None:
    result = console(tmp_path / "db.sqlite3", "--as", "mallory", "-c", "help")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == ["No demo member 'mallory': choose one of owner, alice, bob, carol."]


@pytest.mark.parametrize("target", ["12345", "9" * 30, "²"])
def test_reacting_to_a_message_that_does_not_exist_is_one_line(tmp_path: Path, target: str) -> None:
    # An unknown id was the emulator's 404 as a traceback; a 30-digit one or "²" too.
    result = console(tmp_path / "db.sqlite3", "-c", f"react {target} 👍")
    assert (result.returncode, result.stdout) == (1, "")
    seeded, line = result.stderr.splitlines()  # a fresh database says it was seeded first
    assert seeded.startswith("Seeded the empty catalog: ") and line == f"✗ No such message: {target}"


def test_discord_timestamps_read_as_dates_in_the_terminal() -> None:
    from bot.app.console_render import humanise_timestamps

    text = humanise_timestamps("Premiered: <t:1519387200:D>, next <t:1519387200:d>")
    assert text == "Premiered: 23 February 2018, next 2018-02-23"  # noon UTC: the same day in every zone near UTC
    assert humanise_timestamps("no marks <t:abc>") == "no marks <t:abc>"


def test_clearing_reactions_retracts_the_votes(tmp_path: Path) -> None:
    lines = ["/show title:Seven Seconds", "react last 👍", "clear last 👍", "react last 👎", "clear last", "/myvotes"]
    result = console(tmp_path / "db.sqlite3", *[arg for line in lines for arg in ("-c", line)], "--as", "bob")
    assert result.returncode == 0, result.stderr
    assert "Cleared 👍. Reactions now: 👎 1" in result.stdout  # the bot's own 👎 stays
    assert "Cleared every reaction. Reactions now: none" in result.stdout
    assert "You have no votes in this server." in result.stdout
    kept = console(tmp_path / "db.sqlite3", "-c", "/show title:Seven Seconds", "-c", "react last 👎", "-c", "/myvotes",
                   "--as", "bob")  # fmt: skip
    assert "**Your votes** (1)" in kept.stdout  # without a clear, the vote is there


async def test_the_console_stays_offline_unless_catalog_sync_is_set(tmp_path: Path, tvmaze: FakeTvmaze) -> None:
    """The connected bot syncs from TVmaze by default; the offline console asks no source, even for a title the
    catalog lacks (the fake TVmaze knows this one and would answer)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD_", "DEV_GUILD"))}
    env.pop("CATALOG_SYNC", None)
    env.update(DATABASE_PATH=str(tmp_path / "db.sqlite3"), TVMAZE_BASE_URL=tvmaze.base_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", "-c", "/show title:quiet lighthouse",
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert 'No show called "quiet lighthouse"' in stdout.decode()
    assert tvmaze.requests == []


def test_the_console_answers_in_the_chosen_language(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    german = console(database, "--locale", "de", "-c", "/show title:Seven Seconds", "-c", "/search query:zzqqxxyy")
    assert german.returncode == 0, german.stderr
    assert (
        "Premiere: 23. Februar 2018" in german.stdout
    )  # the card's field, and the timestamp as a German client shows it
    assert "Erfunden von: Veena Sud" in german.stdout and "Created by" not in german.stdout
    assert "[ Trailer suchen ↗ https://www.youtube.com/results?search_query=Seven+Seconds+2018" in german.stdout
    assert 'Keine Serie passt zu "zzqqxxyy".' in german.stdout
    # A `locale` line switches the language for the lines after it.
    switched = console(
        database, "-c", "/trailer title:Seven Seconds", "-c", "locale ja", "-c", "/trailer title:Seven Seconds"
    )
    assert switched.returncode == 0, switched.stderr
    english, japanese = switched.stdout.split("Discord's language is now ja.")
    assert "No trailer on file for **Seven Seconds**" in english
    assert "**Seven Seconds** の予告編は登録されていません。" in japanese


def test_an_unknown_locale_is_one_line(tmp_path: Path) -> None:
    result = console(tmp_path / "db.sqlite3", "--locale", "klingon", "-c", "/show title:Seven Seconds")
    assert result.returncode == 2
    assert result.stderr.strip() == "'klingon' is not a Discord locale; try de, fr, es-ES, pt-BR, ja or en-US"
