"""The message catalogs: every language has every message the code and the commands use, with the same placeholders,
within Discord's limits once filled with the longest values; and the synced commands carry every language."""

from __future__ import annotations

import hashlib
import json
import string
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.app import translator as translator_module
from bot.app.core import ShowBot
from bot.app.messages import catalog_path, code_messages, command_messages, template
from bot.common import render
from bot.common.i18n import CATALOGS, LOCALES, _, join_words, ngettext, number, pgettext, use_locale
from bot.emulator.limits import valid_command_name
from bot.emulator.server import DiscordEmulator

# Where a short message is shown, and Discord's limit there; any other message is a message's content (2,000).
BUTTON_LABEL, SELECT_PLACEHOLDER = 80, 150
SLOT_LIMITS = {
    "Previous": BUTTON_LABEL,
    "Next": BUTTON_LABEL,
    "Trailer": BUTTON_LABEL,
    "Search trailer": BUTTON_LABEL,
    "Open a show's card": SELECT_PLACEHOLDER,
}
SHORT_SLOT = render.FIELD_NAME_LIMIT  # field names, titles, labels: any message without a placeholder
# The longest value each placeholder can take where the code fills it (shown titles are cut to 200 characters, typed
# text quoted to 60, a trailer link kept whole up to 1,500).
PLACEHOLDER_LONGEST = {"url": render.TRAILER_URL_IN_MESSAGE, "suggestions": 5 * 82, "permissions": 200}
DEFAULT_LONGEST = 200


def load(locale: str) -> Catalog:
    with catalog_path(locale).open("rb") as po_file:
        return read_po(po_file, locale=CATALOGS[locale])


def key(message: Message) -> tuple[str | None, Any]:
    return message.context, message.id if isinstance(message.id, str) else tuple(message.id)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module")
def source() -> Catalog:
    return template()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_language_has_every_message_translated(source: Catalog, locale: str) -> None:
    catalog = load(locale)
    translated = {key(message): message for message in catalog if message.id and not message.fuzzy}
    missing = []
    for message in source:
        if not message.id:
            continue
        found = translated.get(key(message))
        forms = found.string if found is not None else None
        if not forms or (isinstance(forms, tuple) and not all(forms)):
            missing.append(key(message))
    assert not missing, f"{locale} lacks {len(missing)} translations: {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_translation_keeps_the_placeholders(locale: str) -> None:
    wrong = []
    for message in load(locale):
        if not message.id or not message.string:
            continue
        wanted = placeholders(message.id if isinstance(message.id, str) else message.id[1])
        forms = (message.string,) if isinstance(message.string, str) else message.string
        wrong += [(message.id, form) for form in forms if placeholders(form) != wanted]
    assert not wrong, wrong


def test_the_extractor_finds_the_markers_and_the_commands() -> None:
    """A regression guard for the template itself: the code's markers and the commands' texts are both found."""
    found = {message for message, _, _ in code_messages()}
    assert "That show is no longer in the catalog." in found
    assert ("{n} season", "{n} seasons") in found
    commands = {(context, message) for message, context, _ in command_messages()}
    assert {("command", "show"), ("option", "title"), ("choice", "me"), (None, "Stop the weekly post")} <= commands


@pytest.mark.parametrize("locale", LOCALES)
def test_command_texts_are_valid_for_discord(locale: str) -> None:
    """Names 1-32 characters, lower case, no spaces (Discord's pattern); descriptions and choices 1-100."""
    with use_locale(locale):
        for message, context, where in command_messages():
            assert isinstance(message, str)
            text = pgettext(context, message) if context else _(message)
            if context in ("command", "option"):
                assert valid_command_name(text), (locale, where, message, text)
            else:
                assert 1 <= len(text) <= 100, (locale, where, message, text)


@pytest.mark.parametrize("locale", ("en-US", *LOCALES))
def test_messages_fit_discords_limits_filled_with_the_longest_values(source: Catalog, locale: str) -> None:
    commands = {(context, message) for message, context, _ in command_messages()}
    with use_locale(locale):
        for message in source:
            if not message.id or (message.context, message.id) in commands:
                continue
            singular = message.id if isinstance(message.id, str) else message.id[0]
            names = placeholders(singular if isinstance(message.id, str) else message.id[1])
            values = {name: "W" * PLACEHOLDER_LONGEST.get(name, DEFAULT_LONGEST) for name in names - {"n"}}
            if isinstance(message.id, str):
                text = pgettext(message.context, message.id) if message.context else _(message.id)
                filled = text.format(**values, n=number(10**9)) if names else text
            else:
                filled = ngettext(message.id[0], message.id[1], 10**9, **values)
            limit = SLOT_LIMITS.get(singular, SHORT_SLOT if not names else render.CONTENT_LIMIT)
            assert len(filled) <= limit, (locale, singular, len(filled), limit)


def test_numbers_plurals_and_lists_follow_the_language() -> None:
    with use_locale("de"):
        assert ngettext("{n} season", "{n} seasons", 1) == "1 Staffel"
        assert ngettext("{n} season", "{n} seasons", 1234) == "1.234 Staffeln"
        assert join_words(["A", "B", "C"]) == "A, B und C"
    with use_locale("fr"):
        assert ngettext("{n} season", "{n} seasons", 0) == "0 saison"  # French: 0 and 1 are singular
        assert join_words(["A", "B", "C"]) == "A, B et C"
    with use_locale("ja"):
        assert ngettext("{n} episode", "{n} episodes", 3) == "3話"
    with use_locale("es-419"):  # Latin American Spanish reads the Spanish catalog
        assert _("Seasons") == "Temporadas"
    with use_locale("ko"):  # no Korean catalog: English
        assert _("Seasons") == "Seasons"


@pytest.mark.e2e
async def test_synced_commands_carry_every_language_and_a_translation_change_resyncs(
    bot: ShowBot, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = emulator.global_commands
    assert commands and not emulator.violations

    def check(item: dict[str, Any], *, names: bool = True) -> None:
        for field in ("name_localizations", "description_localizations") if names else ("name_localizations",):
            localized = item.get(field) or {}
            assert set(LOCALES) <= set(localized), (item["name"], field, localized)
        for locale in LOCALES:
            if names:
                assert valid_command_name(item["name_localizations"][locale]), item["name_localizations"]
                assert 1 <= len(item["description_localizations"][locale]) <= 100

    for command in commands:
        check(command)
        for option in command.get("options") or []:
            check(option)
            for sub in option.get("options") or []:
                check(sub)
                for choice in sub.get("choices") or []:
                    check(choice, names=False)
            for choice in option.get("choices") or []:
                check(choice, names=False)
    show = next(command for command in commands if command["name"] == "show")
    assert show["name_localizations"]["de"] == "serie" and show["name_localizations"]["ja"] == "番組"
    # Languages without a catalog get no localisation (Discord shows them the English name).
    assert "ko" not in show["name_localizations"]

    digest = hashlib.sha256(json.dumps(await bot.command_payload(), sort_keys=True).encode()).hexdigest()
    assert await bot.sync_commands_if_changed() is False  # nothing changed since the start's sync
    original = translator_module.translate_command_text

    def changed(message: str, locale: str, location: Any) -> str | None:
        text = original(message, locale, location)
        return "zeige" if (message, locale, text) == ("show", "de", "serie") else text

    monkeypatch.setattr(translator_module, "translate_command_text", changed)
    assert hashlib.sha256(json.dumps(await bot.command_payload(), sort_keys=True).encode()).hexdigest() != digest
    assert await bot.sync_commands_if_changed() is True
    resynced = next(command for command in emulator.global_commands if command["name"] == "show")
    assert resynced["name_localizations"]["de"] == "zeige"
