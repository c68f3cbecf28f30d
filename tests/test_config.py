"""Configuration: one frozen object from the environment; bad values are one sentence, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from bot.common.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]
GOOD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert settings.discord_token is None
    assert settings.database_path == Path("data/showbot.sqlite3")
    assert settings.dev_guild_id is None
    assert settings.log_level == "INFO"
    assert settings.discord_api_base_url is None
    assert settings.tvmaze_base_url == "https://api.tvmaze.com"
    assert settings.catalog_sync == "tvmaze"  # the connected bot syncs from TVmaze unless told not to


@pytest.mark.parametrize(("value", "expected"), [("none", None), ("NONE", None), ("tvmaze", "tvmaze"), ("", "tvmaze")])
def test_catalog_sync_is_on_unless_none(value: str, expected: str | None) -> None:
    assert Settings.from_env({"CATALOG_SYNC": value}).catalog_sync == expected
    assert Settings().catalog_sync is None  # settings built in code (tests, the console) stay offline


def test_values_are_parsed_and_frozen() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": f"Bot {GOOD_TOKEN}",
            "DATABASE_PATH": "/tmp/x.db",
            "DEV_GUILD_ID": "123456789012345678",
            "LOG_LEVEL": "debug",
            "DISCORD_API_BASE_URL": "http://127.0.0.1:9999/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9999/gateway",
        }
    )
    assert settings.discord_token == GOOD_TOKEN
    assert settings.database_path == Path("/tmp/x.db")
    assert settings.dev_guild_id == 123456789012345678
    assert settings.log_level == "DEBUG"
    assert settings.discord_api_base_url == "http://127.0.0.1:9999/api/v10"
    with pytest.raises(FrozenInstanceError):
        settings.log_level = "INFO"  # type: ignore[misc]


def test_database_url_selects_postgresql_and_its_password_is_never_shown() -> None:
    url = "postgresql://showbot:s3cret@db.example:5432/showbot"
    settings = Settings.from_env({"DATABASE_URL": url})
    assert settings.database_url == url
    assert "s3cret" not in repr(settings)
    assert settings.database_description == "postgresql://showbot:***@db.example:5432/showbot"
    assert Settings.from_env({}).database_url is None
    assert Settings.from_env({}).database_description == "data/showbot.sqlite3"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://showbot:s3cret@db.example/showbot"})
    assert "s3cret" not in str(caught.value)


def test_token_never_in_repr() -> None:
    settings = Settings.from_env({"DISCORD_TOKEN": GOOD_TOKEN})
    assert GOOD_TOKEN not in repr(settings)
    assert GOOD_TOKEN[:10] not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEV_GUILD_ID", "my-server"),
        ("DEV_GUILD_ID", "-5"),
        ("LOG_LEVEL", "LOUD"),
        ("DISCORD_API_BASE_URL", "127.0.0.1:8080"),
        ("DISCORD_GATEWAY_URL", "http://127.0.0.1/gateway"),
        ("DISCORD_TOKEN", "not a token"),
        ("CATALOG_SYNC", "imdb"),
        ("TVMAZE_BASE_URL", "ftp://x"),
        ("SHARD_COUNT", "two"),
        ("SHARD_COUNT", "0"),
        ("SHARD_COUNT", "-1"),
        ("SHARD_COUNT", "1.5"),
        ("DATABASE_URL", "mysql://showbot:s3cret@db.example/showbot"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(name)
    assert message.endswith(".") and ". " not in message  # one sentence (the "or" made any message ending in "." pass)


def test_shards_default_to_discords_recommendation_and_every_shard() -> None:
    settings = Settings.from_env({})
    assert (settings.shard_count, settings.shard_ids, settings.holds_shard_zero) == (None, None, True)


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [("4", None, None), ("4", "1", (1,)), ("4", "3, 1", (1, 3)), ("8", "4-7", (4, 5, 6, 7)), ("8", "0-1,6", (0, 1, 6))],
)
def test_shard_ids_are_parsed(count: str, ids: str | None, expected: tuple[int, ...] | None) -> None:
    settings = Settings.from_env({"SHARD_COUNT": count} | ({"SHARD_IDS": ids} if ids else {}))
    assert (settings.shard_count, settings.shard_ids) == (int(count), expected)
    assert settings.holds_shard_zero == (expected is None or 0 in expected)


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "from 0 to 1 (SHARD_COUNT is 2); 2 is outside"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0,4-5"}, "4, 5 are outside"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "one"}, "'one' is not one"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "3-1"}, "'3-1' is not one"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0,,1"}, "'' is not one"),
    ],
)
def test_bad_shard_ids_get_one_sentence(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)
    message = str(caught.value)
    assert message.startswith("SHARD_IDS") and says in message
    assert message.endswith(".") and ". " not in message


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DEV_GUILD", "LOG_LEVEL"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_malformed_value_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = run_cli("catalog", "stats", env={"DEV_GUILD_ID": "abc", "DATABASE_PATH": str(tmp_path / "t.db")})
    assert (result.returncode, result.stdout) == (2, "")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DEV_GUILD_ID": "abc"})
    assert result.stderr.splitlines() == [f"Configuration error: {caught.value}"]  # one line, nothing else


def test_malformed_token_is_not_echoed(tmp_path: Path) -> None:
    secret = "abc.def.ghi-hunter2-xyzzy"
    result = run_cli("run", env={"DISCORD_TOKEN": secret, "DATABASE_PATH": str(tmp_path / "t.db")})
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_no_token_explains_how_to_get_one(tmp_path: Path) -> None:
    result = run_cli("run", env={"DATABASE_PATH": str(tmp_path / "t.db"), "DISCORD_TOKEN": ""})
    assert result.returncode == 2
    text = result.stderr
    for needle in ("applications.commands", "Send Messages", "Embed Links", "Add Reactions", "Read Message History",
                   ".env", "python -m bot console"):  # fmt: skip
        assert needle in text
    assert "Traceback" not in text


def test_dotenv_of_the_working_directory_is_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=WARNING\nDEV_GUILD_ID=not-a-number\n")
    script = "from bot.common.config import Settings; print(Settings.from_env().log_level)"
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_LEVEL", "DEV_GUILD_ID")}
    env["PYTHONPATH"] = str(ROOT)
    read = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env={**env, "DEV_GUILD_ID": "123"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "WARNING"  # from .env; DEV_GUILD_ID from the environment overrode the bad one
