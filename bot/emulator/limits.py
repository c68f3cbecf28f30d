"""Discord's documented limits that the OpenAPI spec does not express (or states differently); the docs win.

Every check returns a list of `Problem`s; an empty list means the body is acceptable.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.emulator.localizations import duplicate_localized_names, localization_problems

MESSAGE_CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_TEXT_MAX = 2048
AUTHOR_NAME_MAX = 256
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25

EMBED_KEYS = frozenset(
    {
        "title",
        "type",
        "description",
        "url",
        "timestamp",
        "color",
        "footer",
        "image",
        "thumbnail",
        "video",
        "provider",
        "author",
        "fields",
        "flags",  # embed flags: discord.py 2.7 sends them
    }
)
FOOTER_KEYS = frozenset({"text", "icon_url", "proxy_icon_url"})
AUTHOR_KEYS = frozenset({"name", "url", "icon_url", "proxy_icon_url"})
# The embed's parts with one limited text each: (part, its keys, the text's key, the text's limit, Discord's message).
EMBED_PARTS = (
    ("footer", FOOTER_KEYS, "text", FOOTER_TEXT_MAX, "Footer text too long."),
    ("author", AUTHOR_KEYS, "name", AUTHOR_NAME_MAX, "Author name too long."),
)
FIELD_KEYS = frozenset({"name", "value", "inline"})
MEDIA_KEYS = frozenset({"url", "proxy_url", "height", "width", "placeholder", "placeholder_version", "flags"})
ROW_KEYS = frozenset({"type", "components", "id"})
BUTTON_KEYS = frozenset({"type", "style", "label", "emoji", "custom_id", "url", "disabled", "sku_id", "id"})
SELECT_KEYS = frozenset(
    {
        "type",
        "custom_id",
        "options",
        "placeholder",
        "min_values",
        "max_values",
        "disabled",
        "channel_types",
        "default_values",
        "id",
        "required",
    }
)
SELECT_OPTION_KEYS = frozenset({"label", "value", "description", "emoji", "default"})
LINK_STYLE = 5
PREMIUM_STYLE = 6
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
SUBCOMMAND = 1
SUBCOMMAND_GROUP = 2


@dataclass(frozen=True, slots=True)
class Problem:
    path: tuple[str | int, ...]
    code: str
    message: str


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _unknown_keys(obj: Any, allowed: frozenset[str], path: tuple[str | int, ...]) -> list[Problem]:
    if not isinstance(obj, dict):
        return [Problem(path, "MODEL_TYPE_CONVERT", "Must be an object.")]
    return [
        Problem((*path, key), "UNKNOWN_FIELD", f"Unknown field {key!r} (Discord ignores it: probably a misspelling).")
        for key in obj
        if key not in allowed
    ]


def check_message(body: Any, path: tuple[str | int, ...] = ()) -> list[Problem]:
    """A message body (channel message, webhook/followup, interaction response data, or an edit of one)."""
    if not isinstance(body, dict):
        return []
    problems: list[Problem] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > MESSAGE_CONTENT_MAX:
        problems.append(
            Problem((*path, "content"), "BASE_TYPE_MAX_LENGTH", f"Must be {MESSAGE_CONTENT_MAX} or fewer in length.")
        )
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        problems += check_embeds(embeds, (*path, "embeds"))
    components = body.get("components")
    if isinstance(components, list):
        problems += check_components(components, (*path, "components"))
    return problems


def check_embeds(embeds: Sequence[Any], path: tuple[str | int, ...]) -> list[Problem]:
    problems: list[Problem] = []
    if len(embeds) > EMBEDS_MAX:
        problems.append(Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length."))
    total = 0
    for index, embed in enumerate(embeds):
        where = (*path, index)
        problems += _unknown_keys(embed, EMBED_KEYS, where)
        if not isinstance(embed, dict):
            continue
        for key, limit in EMBED_LIMITS.items():
            if _length(embed.get(key)) > limit:
                problems.append(Problem((*where, key), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))
            total += _length(embed.get(key))
        for part, keys, text_key, limit, message in EMBED_PARTS:
            value = embed.get(part)
            if value is None:
                continue
            problems += _unknown_keys(value, keys, (*where, part))
            text = value.get(text_key) if isinstance(value, dict) else None
            if _length(text) > limit:
                problems.append(Problem((*where, part, text_key), "BASE_TYPE_MAX_LENGTH", message))
            total += _length(text)
        for media in ("image", "thumbnail", "video", "provider"):
            if embed.get(media) is not None:
                problems += _unknown_keys(embed[media], MEDIA_KEYS | {"name"}, (*where, media))
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            problems.append(Problem((*where, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS_MAX} or fewer."))
        for number, item in enumerate(fields):
            at = (*where, "fields", number)
            problems += _unknown_keys(item, FIELD_KEYS, at)
            if not isinstance(item, dict):
                continue
            name, value = item.get("name"), item.get("value")
            if not isinstance(name, str) or not name.strip():
                problems.append(Problem((*at, "name"), "BASE_TYPE_REQUIRED", "This field is required"))
            elif len(name) > FIELD_NAME_MAX:
                problems.append(Problem((*at, "name"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELD_NAME_MAX} or fewer."))
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem((*at, "value"), "BASE_TYPE_REQUIRED", "This field is required"))
            elif len(value) > FIELD_VALUE_MAX:
                problems.append(Problem((*at, "value"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELD_VALUE_MAX} or fewer."))
            total += _length(name) + _length(value)
    if total > EMBED_TOTAL_MAX:
        problems.append(
            Problem(path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
        )
    return problems


def check_components(rows: Sequence[Any], path: tuple[str | int, ...]) -> list[Problem]:
    problems: list[Problem] = []
    if len(rows) > ACTION_ROWS_MAX:
        problems.append(Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS_MAX} or fewer in length."))
    seen_ids: set[str] = set()
    for index, row in enumerate(rows):
        where = (*path, index)
        problems += _unknown_keys(row, ROW_KEYS, where)
        if not isinstance(row, dict):
            continue
        if row.get("type") != 1:
            problems.append(Problem((*where, "type"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Expected an action row."))
            continue
        children = row.get("components") or []
        if not children:
            problems.append(Problem((*where, "components"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length."))
        selects = [child for child in children if isinstance(child, dict) and child.get("type") in SELECT_TYPES]
        if len(children) > ROW_BUTTONS_MAX or (selects and len(children) > 1):
            problems.append(
                Problem(
                    (*where, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            )
        for number, child in enumerate(children):
            problems += _check_component(child, (*where, "components", number), seen_ids)
    return problems


def _check_component(child: Any, at: tuple[str | int, ...], seen_ids: set[str]) -> list[Problem]:
    if not isinstance(child, dict):
        return [Problem(at, "MODEL_TYPE_CONVERT", "Must be an object.")]
    problems: list[Problem] = []
    kind = child.get("type")
    if kind == 2:
        problems += _unknown_keys(child, BUTTON_KEYS, at)
        if _length(child.get("label")) > BUTTON_LABEL_MAX:
            problems.append(Problem((*at, "label"), "BASE_TYPE_MAX_LENGTH", f"Must be {BUTTON_LABEL_MAX} or fewer."))
        if child.get("style") == LINK_STYLE:
            if not child.get("url") or "custom_id" in child:
                problems.append(Problem(at, "BUTTON_LINK_INVALID", "A link button needs a url and no custom_id."))
            return problems
        if child.get("style") == PREMIUM_STYLE:
            return problems
    elif kind in SELECT_TYPES:
        problems += _unknown_keys(child, SELECT_KEYS, at)
        options = child.get("options") or []
        if len(options) > SELECT_OPTIONS_MAX:
            problems.append(
                Problem((*at, "options"), "BASE_TYPE_MAX_LENGTH", f"Must be {SELECT_OPTIONS_MAX} or fewer.")
            )
        for number, option in enumerate(options):
            problems += _unknown_keys(option, SELECT_OPTION_KEYS, (*at, "options", number))
            if isinstance(option, dict):
                for key in ("label", "value"):
                    if not 1 <= _length(option.get(key)) <= 100:
                        problems.append(
                            Problem(
                                (*at, "options", number, key),
                                "BASE_TYPE_BAD_LENGTH",
                                "Must be between 1 and 100 in length.",
                            )
                        )
    else:
        return [Problem((*at, "type"), "UNION_TYPE_CHOICES", f"Unknown component type {kind!r} in an action row.")]
    custom_id = child.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
        problems.append(Problem((*at, "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
    elif custom_id in seen_ids:
        problems.append(
            Problem((*at, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
        )
    else:
        seen_ids.add(custom_id)
    return problems


def valid_command_name(name: Any) -> bool:
    """`^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, lower case where the script has case."""
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX or name != name.lower():
        return False
    for char in name:
        category = unicodedata.category(char)
        if char in "-_'" or category[0] in "LN":
            continue
        script_name = unicodedata.name(char, "")
        if category[0] == "M" and (script_name.startswith(("DEVANAGARI", "THAI"))):
            continue
        return False
    return True


def check_commands(commands: Any, path: tuple[str | int, ...] = ()) -> list[Problem]:
    """A bulk overwrite of application commands."""
    if not isinstance(commands, list):
        return []
    problems: list[Problem] = []
    names: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            continue
        where = (*path, index)
        kind = command.get("type", 1)
        key = (kind, str(command.get("name")))
        if key in names:
            problems.append(
                Problem(
                    (*where, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                )
            )
        names.add(key)
        if kind == 1:
            problems += _check_named(command, where, is_chat_input=True)
            problems += _check_options(command.get("options") or [], (*where, "options"), depth=0)
    return problems + [Problem(*found) for found in duplicate_localized_names(commands, path)]


def _check_named(item: dict[str, Any], where: tuple[str | int, ...], *, is_chat_input: bool) -> list[Problem]:
    problems: list[Problem] = []
    if is_chat_input and not valid_command_name(item.get("name")):
        problems.append(
            Problem(
                (*where, "name"), "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {item.get('name')!r}"
            )
        )
    problems += [Problem(*found) for found in localization_problems(item, where, valid_command_name)]
    description = item.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= COMMAND_DESCRIPTION_MAX:
        problems.append(
            Problem((*where, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        )
    return problems


def _check_options(options: Iterable[Any], path: tuple[str | int, ...], depth: int) -> list[Problem]:
    options = list(options)
    problems: list[Problem] = []
    if len(options) > COMMAND_OPTIONS_MAX:
        problems.append(Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_OPTIONS_MAX} or fewer in length."))
    seen_optional = False
    problems += [Problem(*found) for found in duplicate_localized_names(options, path)]
    for index, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        where = (*path, index)
        problems += _check_named(option, where, is_chat_input=True)
        kind = option.get("type")
        if kind in (SUBCOMMAND, SUBCOMMAND_GROUP):
            if depth >= (1 if kind == SUBCOMMAND_GROUP else 2):
                problems.append(
                    Problem(where, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Subcommands nested too deep.")
                )
            problems += _check_options(option.get("options") or [], (*where, "options"), depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                problems.append(
                    Problem(
                        where,
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            problems.append(
                Problem(where, "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "Autocomplete cannot be used with choices.")
            )
        problems += check_choices(choices, (*where, "choices"))
    return problems


def check_choices(choices: Any, path: tuple[str | int, ...]) -> list[Problem]:
    """Command choices or an autocomplete answer: at most 25, names 1-100, string values at most 100."""
    if not isinstance(choices, list):
        return []
    problems: list[Problem] = []
    if len(choices) > CHOICES_MAX:
        problems.append(Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES_MAX} or fewer in length."))
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        found = localization_problems(choice, (*path, index), valid_command_name, is_choice=True)
        problems += [Problem(*problem) for problem in found]
        if not 1 <= _length(choice.get("name")) <= CHOICE_NAME_MAX:
            problems.append(
                Problem((*path, index, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        value = choice.get("value")
        if isinstance(value, str) and len(value) > CHOICE_VALUE_MAX:
            problems.append(
                Problem(
                    (*path, index, "value"), "BASE_TYPE_MAX_LENGTH", f"Must be {CHOICE_VALUE_MAX} or fewer in length."
                )
            )
    return problems


def check_interaction_callback(body: Any) -> list[Problem]:
    if not isinstance(body, dict):
        return []
    data = body.get("data")
    if body.get("type") == 8 and isinstance(data, dict):
        return check_choices(data.get("choices"), ("data", "choices"))
    return check_message(data, ("data",)) if isinstance(data, dict) else []


def errors_object(problems: Iterable[Problem]) -> dict[str, Any]:
    """Discord's nested `errors` object for a 50035 response."""
    root: dict[str, Any] = {}
    for problem in problems:
        node = root
        for part in problem.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return root
