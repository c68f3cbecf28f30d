"""Where Showbot's data files are: data/ of the checkout, or the copy a wheel installs as `showbot_data`."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def data_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "data"
    if (checkout / "migrations").is_dir():
        return checkout
    installed = find_spec("showbot_data")  # a namespace package: data files only, no __init__.py
    if installed is None or not installed.submodule_search_locations:
        raise RuntimeError("Showbot's data files are missing: reinstall Showbot")
    return Path(next(iter(installed.submodule_search_locations)))


DATA_DIR = data_dir()
MIGRATIONS_DIR = DATA_DIR / "migrations"
CATALOG_DIR = DATA_DIR / "catalog"
