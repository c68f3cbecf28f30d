"""The layers between packages hold, and import-linter (as CI runs it) catches a break in them.

The check runs `lint-imports` on a copy of the code, so that a deliberate violation can be planted without touching
the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def copy_of_the_code(destination: Path) -> Path:
    for package in ("bot", "cogs"):
        shutil.copytree(ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__", "*.gz"))
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def lint_imports(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=directory,
        env={"PYTHONPATH": str(directory), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def plant(module: Path, line: str) -> None:
    """Add an import after the module's `from __future__` line, where an author would put it."""
    text = module.read_text()
    anchor = "from __future__ import annotations\n"
    assert anchor in text, module
    module.write_text(text.replace(anchor, anchor + line + "\n", 1))


@pytest.fixture(scope="module")
def linter() -> Path:
    if not LINT_IMPORTS.exists():
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    return LINT_IMPORTS


def test_the_code_keeps_every_contract(linter: Path, tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_code(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("bot/votes/store.py", "import cogs.votes", "Layers"),  # a feature importing a cog
        ("bot/storage/database.py", "import bot.votes", "Layers"),  # storage reaching up into a feature
        ("bot/emulator/state.py", "import bot.app.core", "emulator"),  # the emulator knowing the bot
        ("bot/weekly/content.py", "import bot.votes.store", "bot.votes is imported through"),  # internals
        ("bot/catalog/search.py", "import sqlite3", "Only bot.storage knows the database engine"),
    ],
)
def test_a_planted_violation_fails_the_check(linter: Path, tmp_path: Path, module: str, line: str, broken: str) -> None:
    code = copy_of_the_code(tmp_path)
    plant(code / module, line)
    result = lint_imports(code)
    assert result.returncode != 0
    assert "1 broken" in result.stdout
    assert broken in result.stdout.split("Broken contracts")[-1]
