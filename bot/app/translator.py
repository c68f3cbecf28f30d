"""Command names, descriptions, options and choices in every language the bot has a catalog for.

discord.py asks `ShowTranslator.translate` for every Discord locale while it builds the synced payload
(`name_localizations`, `description_localizations`); the answers come from the same `.po` catalogs as the replies
(bot/common/i18n.py). Names are looked up in a context ("command", "option", "choice"): "show" the command and "show"
a word of a sentence are not translated alike. A language without a catalog, or a string its catalog lacks, gets no
localisation, and Discord shows the English one.
"""

from __future__ import annotations

from discord import Locale, app_commands
from discord.app_commands import TranslationContextLocation, TranslationContextTypes, locale_str

from bot.common.i18n import catalog_locale, translations

# The msgctxt of each kind of name; descriptions have none (they are sentences, shared with the replies' catalog).
NAME_CONTEXTS = {
    TranslationContextLocation.command_name: "command",
    TranslationContextLocation.group_name: "command",
    TranslationContextLocation.parameter_name: "option",
    TranslationContextLocation.choice_name: "choice",
}


def translate_command_text(message: str, locale: str, location: TranslationContextLocation) -> str | None:
    """`message` (a command's name, description, option or choice) in a Discord locale, or None when there is no
    translation (English, a language without a catalog, a message its catalog lacks)."""
    target = catalog_locale(locale)  # es-419 reads the Spanish catalog; a language without one gets English
    if target is None:
        return None
    catalog = translations(target)
    context = NAME_CONTEXTS.get(location)
    translated = catalog.pgettext(context, message) if context else catalog.gettext(message)
    if translated == message and not has_entry(target, message, context):
        return None
    return translated


def has_entry(locale: str, message: str, context: str | None) -> bool:
    """Whether the catalog translates `message` (it may translate it to the same word: "trailer" in German)."""
    catalog = translations(locale)
    key = f"{context}\x04{message}" if context else message
    return key in getattr(catalog, "_catalog", {})


class ShowTranslator(app_commands.Translator):
    async def translate(self, string: locale_str, locale: Locale, context: TranslationContextTypes) -> str | None:
        return translate_command_text(string.message, locale.value, context.location)
