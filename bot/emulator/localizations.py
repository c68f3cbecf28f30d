"""Discord's rules for the localised names and descriptions of commands, options and choices, which the OpenAPI spec
leaves out (it checks only their lengths): the keys are Discord's locales, a localised name follows the same pattern
as the name itself, and two siblings may not share a name in any locale."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# Discord's locales (the spec's AvailableLocalesEnum).
DISCORD_LOCALES = frozenset(
    {"id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl", "pt-BR"}
    | {"ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"}
    | {"ar", "he"}
)
TEXT_MAX = 100  # a description, or a choice's name

Problem = tuple[tuple[str | int, ...], str, str]  # (path, code, message), as limits.Problem takes them


def localization_problems(
    item: dict[str, Any], where: tuple[str | int, ...], valid_name: Callable[[Any], bool], *, is_choice: bool = False
) -> list[Problem]:
    """The problems of one command's, option's or choice's `name_localizations` and `description_localizations`."""
    problems: list[Problem] = []
    for key, check in (("name_localizations", "name"), ("description_localizations", "description")):
        values = item.get(key)
        if not isinstance(values, dict):
            continue
        for locale, text in values.items():
            at = (*where, key, locale)
            if locale not in DISCORD_LOCALES:
                problems.append((at, "LOCALE_INVALID", f"{locale!r} is not a valid locale"))
            elif (check == "description" or is_choice) and not (isinstance(text, str) and 1 <= len(text) <= TEXT_MAX):
                problems.append((at, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
            elif check == "name" and not is_choice and not valid_name(text):
                problems.append((at, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {text!r}"))
    return problems


def duplicate_localized_names(items: Iterable[Any], path: tuple[str | int, ...]) -> list[Problem]:
    """Siblings (top-level commands of one type, or one command's options) sharing a name in some locale."""
    seen: dict[tuple[Any, str, str], int] = {}
    problems: list[Problem] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        names = {locale: item.get("name") for locale in DISCORD_LOCALES}
        names.update(item.get("name_localizations") or {})
        for locale, name in names.items():
            key = (item.get("type", 1) if not path or path[-1] != "options" else 0, locale, str(name))
            if key in seen and seen[key] != index:
                problems.append(
                    (
                        (*path, index, "name_localizations", locale),
                        "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        "Application command names must be unique",
                    )
                )
            seen.setdefault(key, index)
    return problems
