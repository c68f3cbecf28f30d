"""The catalog: the record format, import and export, the in-memory title index and its typo-tolerant search,
title resolution for every command, browsing by genre and service, and `sources/` (TVmaze, TMDB, Netflix).

May import: `bot.votes` (the votes that boost titles and order browsing), `bot.storage` and `bot.common`. Other
packages use only the names exported here.
"""

from __future__ import annotations

from bot.catalog.browse import Facets, Filters, ShowSummary, find_shows, matching_names
from bot.catalog.choices import choice_value, not_found_message, show_id_of_choice
from bot.catalog.export import catalog_stats, show_exists, show_json, shows_updated_since
from bot.catalog.files import import_path, seed_if_empty
from bot.catalog.importer import now_iso
from bot.catalog.index import year_of
from bot.catalog.records import STATUSES, CatalogFormatError
from bot.catalog.search import MAX_QUERY_CHARS, SearchIndex
from bot.catalog.sources.background import run_background_job, shows_to_refresh
from bot.catalog.sources.commands import add_sync_parser, import_netflix, run_sync
from bot.catalog.sources.lookup import lookup_and_add
from bot.catalog.sources.tvmaze_index import REBUILD_INDEX_AFTER_SHOWS
from bot.catalog.titles import TitleResolver
from bot.catalog.translations import localise_show

__all__ = [
    "MAX_QUERY_CHARS",
    "REBUILD_INDEX_AFTER_SHOWS",
    "STATUSES",
    "CatalogFormatError",
    "Facets",
    "Filters",
    "SearchIndex",
    "ShowSummary",
    "TitleResolver",
    "add_sync_parser",
    "catalog_stats",
    "choice_value",
    "find_shows",
    "import_netflix",
    "import_path",
    "localise_show",
    "lookup_and_add",
    "matching_names",
    "not_found_message",
    "now_iso",
    "run_background_job",
    "run_sync",
    "seed_if_empty",
    "show_exists",
    "show_id_of_choice",
    "show_json",
    "shows_to_refresh",
    "shows_updated_since",
    "year_of",
]
