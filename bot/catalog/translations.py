"""Show titles and synopses in the member's language: the translations a source gave (TMDB's, table
`show_translations`, migration `*_show_translations.sql`) picked for a Discord locale, and the card's note when the
text stays English.

A Discord locale is a language ("de", "fr", "ja") or a language and region ("es-ES", "pt-BR", "en-US"); TMDB pairs
each language with a country ("de-DE", "de-AT", "pt-BR", "pt-PT"). A locale takes the translation of its exact
language and region first, then its language in the country of the same code ("de-DE" for "de", "fr-FR" for "fr"),
then any country of its language (the first by code). English locales keep the catalog's own text, which is
English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.common.i18n import N_, _, use_locale
from bot.storage import Database

SOURCE_OF_TRANSLATIONS = "tmdb"
# The card's footer note where a member's language has no synopsis and the English one is shown (in their language).
ENGLISH_TEXT_NOTE = N_("Synopsis in English")


@dataclass(frozen=True, slots=True)
class LocalisedText:
    language: str  # the translation's tag, "de-DE"
    title: str | None
    synopsis: str | None


def language_of(locale: str) -> str:
    return locale.split("-", 1)[0].strip().lower()


def is_english(locale: str) -> bool:
    return language_of(locale) in ("en", "")


def best_translation(rows: list[tuple[str, str | None, str | None]], locale: str) -> LocalisedText | None:
    """The translation for `locale` among (tag, title, synopsis) rows of one show, by the order above."""
    language = language_of(locale)
    candidates = sorted(
        (tag, title, synopsis) for tag, title, synopsis in rows if language_of(tag) == language and (title or synopsis)
    )
    if not candidates:
        return None

    def rank(row: tuple[str, str | None, str | None]) -> tuple[int, str]:
        tag = row[0].lower()
        if tag == locale.strip().lower():
            return (0, tag)
        if tag == f"{language}-{language}":
            return (1, tag)
        return (2, tag)

    tag, title, synopsis = min(candidates, key=rank)
    return LocalisedText(tag, title, synopsis)


async def localised_text(db: Database, show_id: int, locale: str) -> LocalisedText | None:
    """The show's title and synopsis for `locale` (None: English, or no translation in that language)."""
    if is_english(locale):
        return None
    rows = await db.fetchall(
        "SELECT language, title, synopsis FROM show_translations WHERE show_id = ? AND language LIKE ?",
        (show_id, f"{language_of(locale)}-%"),
    )
    return best_translation([(str(row[0]), row[1], row[2]) for row in rows], locale)


async def localise_show(db: Database, show: dict[str, Any], locale: str) -> tuple[dict[str, Any], str | None]:
    """The card's show (as `show_json` gives it) in the member's language, and the footer note to add: None, or that
    the synopsis is in English (a non-English locale without a translated synopsis). A translated text credits its
    source (the card's attribution)."""
    if is_english(locale) or not show.get("id"):
        return show, None
    text = await localised_text(db, int(show["id"]), locale)
    localised = dict(show)
    if text is not None:
        if text.title:
            localised["title"] = text.title
        if text.synopsis:
            localised["synopsis"] = text.synopsis
        sources = list(show.get("sources") or [show.get("source") or "showbot"])
        if SOURCE_OF_TRANSLATIONS not in sources:
            localised["sources"] = [*sources, SOURCE_OF_TRANSLATIONS]
    if (text is None or not text.synopsis) and show.get("synopsis"):
        with use_locale(locale):
            return localised, _(ENGLISH_TEXT_NOTE)
    return localised, None
