"""The message catalogs' template: every translatable text of the bot, for translators (`python -m bot messages`).

Two sources: the code (`_`, `N_`, `ngettext`, `pgettext`, `NP_` calls, found by Babel's extractor in `bot/` and
`cogs/`) and the slash commands (names in the contexts "command", "option" and "choice", descriptions without one,
read from the cogs' command definitions as discord.py will send them). `write_template` writes
`bot/common/locales/showbot.pot`; `update_catalogs` merges it into every language's `.po` (new messages untranslated,
removed ones kept as obsolete), as `pybabel update` does.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from discord import app_commands
from discord.ext import commands

from bot.app.core import discover_extensions
from bot.app.translator import NAME_CONTEXTS
from bot.common.i18n import CATALOGS, DOMAIN, LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("bot", "cogs")
# Babel's keyword specs: the argument positions of the message (and its plural, its context "c").
KEYWORDS = {
    "_": None,
    "N_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "NP_": ((1, "c"), 2),
}
Entry = tuple[str | tuple[str, str], str | None, str]  # (msgid or (singular, plural), context, where)
Location = app_commands.TranslationContextLocation


def code_messages(root: Path = ROOT) -> Iterator[Entry]:
    """Every message marked in the code, with its file and line."""
    for directory in SOURCE_DIRS:
        found = extract_from_dir(
            root / directory,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=(),
            strip_comment_tags=True,
        )
        for filename, line, message, _comments, context in found:
            if isinstance(message, tuple):
                if not all(message):
                    continue  # a call with a variable, not a literal: its literal is marked where it is written
                yield (message[0], message[1]), context, f"{directory}/{filename}:{line}"
            elif message:
                yield message, context, f"{directory}/{filename}:{line}"


def command_messages() -> Iterator[Entry]:
    """Every command's name and description, its options' names and descriptions and its choices' names, read from
    the cogs' classes (the extensions the bot loads, found as `ShowBot` finds them; nothing is loaded)."""
    for name in discover_extensions():
        module = importlib.import_module(name)
        for _name, cog in inspect.getmembers(module, inspect.isclass):
            if issubclass(cog, commands.Cog) and cog.__module__ == module.__name__:
                for command in cog.__cog_app_commands__:
                    yield from _command_entries(command, name.replace(".", "/") + ".py")


def _command_entries(command: app_commands.Command[Any, Any, Any] | app_commands.Group, where: str) -> Iterator[Entry]:
    if isinstance(command, app_commands.Group):
        yield command.name, NAME_CONTEXTS[Location.group_name], where
        yield command.description, None, where
        for child in command.commands:
            yield from _command_entries(child, where)
        return
    yield command.name, NAME_CONTEXTS[Location.command_name], where
    yield command.description, None, where
    for parameter in command.parameters:
        yield parameter.display_name, NAME_CONTEXTS[Location.parameter_name], where
        yield parameter.description, None, where
        for choice in parameter.choices:
            yield choice.name, NAME_CONTEXTS[Location.choice_name], where


def template() -> Catalog:
    catalog = Catalog(domain=DOMAIN, project="Showbot", msgid_bugs_address="", charset="utf-8")
    for message, context, where in [*code_messages(), *command_messages()]:
        path, _, line = where.rpartition(":")
        catalog.add(message, locations=[(path, int(line))] if line.isdigit() else [(where, 0)], context=context)
    return catalog


def catalog_path(locale: str) -> Path:
    return LOCALES_DIR / CATALOGS[locale] / "LC_MESSAGES" / f"{DOMAIN}.po"


def write_template(path: Path = LOCALES_DIR / f"{DOMAIN}.pot") -> Catalog:
    catalog = template()
    with path.open("wb") as out:
        write_po(out, catalog, omit_header=False, sort_output=True, width=120)
    return catalog


def update_catalogs(source: Catalog) -> dict[str, int]:
    """Merge the template into every language's catalog; returns how many messages each still lacks."""
    missing = {}
    for locale, directory in CATALOGS.items():
        path = catalog_path(locale)
        with path.open("rb") as existing:
            catalog = read_po(existing, locale=directory)
        catalog.update(source, update_header_comment=False, no_fuzzy_matching=True)
        with path.open("wb") as out:
            write_po(out, catalog, sort_output=True, width=120, include_previous=False)
        missing[locale] = sum(1 for message in catalog if message.id and not message.string)
    return missing
