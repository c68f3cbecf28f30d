"""What a member sees of a title search: the autocomplete answer (names within Discord's limits, each with an `id:`
value that cannot be mistaken for a typed title) and the one-line answer for a title no show has."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.catalog.ranking import AUTOCOMPLETE_LIMIT
from bot.common.i18n import _

if TYPE_CHECKING:
    from bot.catalog.search import Match, SearchIndex

CHOICE_MAX_CHARS = 100
CHOICE_VALUE_PREFIX = "id:"
_CHOICE_VALUE = re.compile(r"id:([0-9]{1,19})")
MAX_SHOW_ID = 2**63 - 1  # SQLite's largest integer: a larger number cannot be an id (nor a query parameter)


def autocomplete_choices(
    index: SearchIndex, text: str | None, boosts: Mapping[int, float] | None = None
) -> list[tuple[str, str]]:
    """(name, value) pairs for an autocomplete answer: at most 25, each at most 100 characters, value =
    `choice_value`.

    Empty input lists the server's favourites and the popular shows. Built straight from the index's columns:
    this runs on every keystroke.
    """
    if text is None or not text.strip():
        entries = [index._primary[match.show_id] for match in index.popular(limit=AUTOCOMPLETE_LIMIT, boosts=boosts)]
    else:
        entries, _ = index._ranked(text, AUTOCOMPLETE_LIMIT, boosts)
    pairs = []
    for entry in entries:
        show_id = index._entry_show[entry]
        primary = index._primary[show_id]
        year = index._entry_year[primary]
        name = f"{index._entry_title[primary]} ({year})" if year else index._entry_title[primary]
        if entry != primary:
            name = f"{name} — {index._entry_title[entry]}"
        pairs.append((_choice_name(name, show_id), choice_value(show_id)))
    return pairs


def choice_value(show_id: int) -> str:
    """What an autocomplete choice for a show sends back: `id:` and the show id. Never a bare number, which is read as
    a title ("24", "1883" and "911" are shows): a typed title cannot be mistaken for this, nor this for a title."""
    return f"{CHOICE_VALUE_PREFIX}{show_id}"


def show_id_of_choice(text: str) -> int | None:
    """The show id in a choice value (`id:24`, as `choice_value` writes it), or None for anything else."""
    matched = _CHOICE_VALUE.fullmatch(text.strip())
    if matched is None or int(matched.group(1)) > MAX_SHOW_ID:
        return None
    return int(matched.group(1))


def _choice_name(name: str, show_id: int) -> str:
    if len(name) > CHOICE_MAX_CHARS or not name.isprintable():
        name = " ".join(name.split())  # no newlines or control characters in a choice
        name = "".join(ch for ch in name if ch.isprintable())
        if len(name) > CHOICE_MAX_CHARS:
            name = name[: CHOICE_MAX_CHARS - 1].rstrip() + "…"
    return name or str(show_id)


def not_found_message(query: str, suggestions: Sequence[Match]) -> str:
    """One short line: no such show, and up to five suggestions. The query is shortened and made inert."""
    from bot.common.render import plain_line

    shown = plain_line(query, limit=60)
    if not shown:
        return _("Give the title of a show.")  # only spaces or invisible characters were typed
    if not suggestions:
        return _('No show called "{title}".', title=shown)
    names = ", ".join(plain_line(match.label(), limit=80) for match in suggestions[:5])
    return _('No show called "{title}". Did you mean: {suggestions}?', title=shown, suggestions=names)
