"""Every reply in the member's language: message catalogs, the current locale, numbers, plurals and lists.

Messages are gettext catalogs, one `.po` file per language under `bot/common/locales/<lang>/LC_MESSAGES/showbot.po`,
with English, the source, as the message ids; they are read (and compiled in memory) the first time a language is
needed. Placeholders are `str.format` names: `_("Your vote for {title} is cleared.", title=name)`.

The locale is the current task's (a context variable), so that every layer renders text without passing it around:
the command tree sets it from `interaction.locale` before a command or an autocomplete runs, `bot.app.ui.LocalisedView`
before a button or a menu's callback, and the weekly post wraps its rendering in `use_locale(guild.preferred_locale)`.
Outside any of them (the CLI, logs) it is English.

Marking text for translation:
- `_("...")` where the text is used (a reply, an error, an embed field);
- `N_("...")` for a module-level constant, translated where it is used with `_(CONSTANT)` (`NP_(context, "...")` and
  `pgettext(context, CONSTANT)` likewise);
- `ngettext("{n} vote", "{n} votes", count)` when a number decides the form (`n` is filled in, formatted);
- `pgettext("status", "ended")` when a short word needs a context to be translated right.
Command names, descriptions, options and choices are translated by `bot.app.translator.ShowTranslator` from the same
catalogs (contexts "command", "option", "choice"; descriptions without one).
"""

from __future__ import annotations

import contextlib
import gettext
import io
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import get_day_names
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "showbot"
SOURCE_LOCALE = "en-US"
# Discord's locale codes of the languages with a catalog, and the catalog's directory for each (gettext's spelling).
CATALOGS = {"de": "de", "fr": "fr", "es-ES": "es_ES", "pt-BR": "pt_BR", "ja": "ja"}
LOCALES = tuple(CATALOGS)
# Discord locales without a catalog of their own that read one of ours better than English.
FALLBACKS = {"es-419": "es-ES"}

_current: ContextVar[str] = ContextVar("showbot_locale", default=SOURCE_LOCALE)


def N_(message: str) -> str:  # gettext's name for "mark now, translate later"
    """Mark a constant for translation without translating it now: `_(CONSTANT)` translates it where it is used."""
    return message


def NP_(context: str, message: str) -> str:
    """Mark a constant for translation in a context; `pgettext(context, CONSTANT)` translates it where it is used."""
    return message


def catalog_locale(locale: object) -> str | None:
    """The catalog (Discord locale code) for a Discord locale ('de', 'es-419', discord.Locale.german), or None for
    English and languages without a catalog."""
    code = str(getattr(locale, "value", locale) or "")
    if code in CATALOGS:
        return code
    if code in FALLBACKS:
        return FALLBACKS[code]
    language = code.split("-", maxsplit=1)[0]
    return next((known for known in CATALOGS if known.split("-")[0] == language), None)


def current_locale() -> str:
    return _current.get()


def set_locale(locale: object) -> None:
    """Make `locale` the current task's (an interaction's task: it ends with the task)."""
    _current.set(str(getattr(locale, "value", locale) or SOURCE_LOCALE))


@contextlib.contextmanager
def use_locale(locale: object) -> Iterator[None]:
    """Render in `locale` within the block (a weekly post in the server's language), then restore the previous one."""
    token = _current.set(str(getattr(locale, "value", locale) or SOURCE_LOCALE))
    try:
        yield
    finally:
        _current.reset(token)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of a Discord locale (`catalog_locale`'s answer); English: the messages as written."""
    directory = CATALOGS.get(locale)
    if directory is None:
        return gettext.NullTranslations()
    path = LOCALES_DIR / directory / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=directory)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: a translator's guess never reaches a member
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _catalog() -> gettext.NullTranslations:
    locale = catalog_locale(_current.get())
    return translations(locale) if locale else translations(SOURCE_LOCALE)


def _fill(text: str, values: dict[str, Any]) -> str:
    return text.format(**values) if values else text


def _(message: str, /, **values: Any) -> str:
    """`message` in the current locale, its `{placeholders}` filled with `values`."""
    return _fill(_catalog().gettext(message), values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The form for `n` in the current locale's plural rules; `{n}` is `n` written as the language writes numbers."""
    return _fill(_catalog().ngettext(singular, plural, n), {"n": number(n), **values})


def pgettext(context: str, message: str, /, **values: Any) -> str:
    """`message` translated in `context` ("status", "permission", "choice"...), for words that differ by use."""
    return _fill(_catalog().pgettext(context, message), values)


@lru_cache(maxsize=64)
def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_US")


def capitalised(text: str) -> str:
    """The first letter in upper case, the rest as written ('in Entwicklung' -> 'In Entwicklung'): a label's start."""
    return text[:1].upper() + text[1:]


def number(value: float) -> str:
    """A number as the current language writes it (1,234 · 1.234 · 1 234)."""
    return format_decimal(value, locale=babel_locale(_current.get()))


def weekday_name(weekday: int) -> str:
    """Monday (0) to Sunday (6) as the current language names the day ('Friday', 'Freitag', 'vendredi', '金曜日')."""
    return str(get_day_names("wide", locale=babel_locale(_current.get()))[weekday])


def territory_name(code: str) -> str | None:
    """A country's name in the current language ('DE' -> 'Germany', 'Deutschland', 'Allemagne'), None if unknown."""
    name = babel_locale(_current.get()).territories.get(code.upper())
    return str(name) if name else None


def join_words(items: Iterable[str], style: str = "standard") -> str:
    """Items joined as the current language lists them ('A, B and C', 'A, B et C', 'A、B、C')."""
    listed = list(items)
    if not listed:
        return ""
    return format_list(listed, style=style, locale=babel_locale(_current.get()))  # type: ignore[arg-type]
