"""Countries for "new this week": ISO 3166-1 alpha-2 codes and names, and a server's default from its locale.

The names come from the IANA time-zone database's iso3166.tab (the tzdata package, already a dependency), so the
list is the standard one without another package.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bot.common.errors import UserFacingError
from bot.common.i18n import _, territory_name
from bot.common.render import quoted

DEFAULT_COUNTRY = "US"
# Discord locales that name a language only: the country most of its speakers' servers are in. Locales with a region
# ("en-GB", "pt-BR", "zh-TW", "es-419") take their region when it is a country.
_LANGUAGE_COUNTRY = {
    "bg": "BG",
    "cs": "CZ",
    "da": "DK",
    "de": "DE",
    "el": "GR",
    "fi": "FI",
    "fr": "FR",
    "he": "IL",
    "hi": "IN",
    "hr": "HR",
    "hu": "HU",
    "id": "ID",
    "it": "IT",
    "ja": "JP",
    "ko": "KR",
    "lt": "LT",
    "nl": "NL",
    "no": "NO",
    "pl": "PL",
    "ro": "RO",
    "ru": "RU",
    "th": "TH",
    "tr": "TR",
    "uk": "UA",
    "vi": "VN",
}


@cache
def countries() -> dict[str, str]:
    """{code: name} for every ISO 3166-1 alpha-2 code in the tz database's iso3166.tab."""
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _, name = line.partition("\t")
            if len(code) == 2 and code.isalpha() and name.strip():
                found[code.upper()] = name.strip()
    # The tz database calls GB "Britain (UK)"; members look for the United Kingdom.
    found["GB"] = "United Kingdom"
    return found


def country_from_locale(locale: str | None) -> str:
    """The country a server's locale points at ("en-GB" -> GB, "de" -> DE), else US."""
    if not locale:
        return DEFAULT_COUNTRY
    language, _, region = str(locale).partition("-")
    if region.upper() in countries():
        return region.upper()
    return _LANGUAGE_COUNTRY.get(language.lower(), DEFAULT_COUNTRY)


def country_name(code: str) -> str:
    """A country as the current language names it ('DE' -> 'Deutschland' in German), else its English name, else
    the code."""
    return territory_name(code) or countries().get(code.upper(), code)


def resolve_country(typed: str) -> str:
    """The ISO code a member typed or picked (any case; a country's name works too); unknown: one clear sentence."""
    text = typed.strip()
    if text.upper() in countries():
        return text.upper()
    by_name = {name.casefold(): code for code, name in countries().items()}
    by_name.update({country_name(code).casefold(): code for code in countries()})  # 'Deutschland' in German
    code = by_name.get(text.casefold())
    if code is None:
        raise UserFacingError(
            _("{typed} is not a country code: pick one from the list, like GB or US.", typed=quoted(text))
        )
    return code


def country_choices(current: str, limit: int = 25) -> list[tuple[str, str]]:
    """(label, code) pairs for autocomplete: codes starting with what was typed, then names containing it."""
    typed = current.strip().casefold()
    table = {code: country_name(code) for code in countries()}  # in the member's language
    exact = [code for code in table if code.casefold() == typed]
    starts = [code for code, name in table.items() if name.casefold().startswith(typed) and code not in exact]
    contains = [code for code, name in table.items() if typed in name.casefold() and code not in exact + starts]
    return [(f"{table[code]} ({code})"[:100], code) for code in (exact + starts + contains)[:limit]]
