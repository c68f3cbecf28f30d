"""Exported votes: every stored vote (of one server, or all) as plain rows, a backup and a view for server owners, and
as a table for a terminal (`python -m bot votes export`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.storage import Database

EXPORT_KEYS = ("guild_id", "user_id", "show_id", "title", "value", "source", "updated_at")


async def export_votes(db: Database, guild_id: int | None = None) -> list[dict[str, Any]]:
    """Every stored vote (of one server, or all), in a stable order."""
    rows = await db.fetchall(
        """SELECT v.guild_id, v.user_id, v.show_id, s.title, v.value, v.source, v.updated_at
           FROM votes AS v JOIN shows AS s ON s.id = v.show_id
           WHERE CAST(?1 AS BIGINT) IS NULL OR v.guild_id = ?1
           ORDER BY v.guild_id, v.user_id, v.show_id""",
        (guild_id,),
    )
    return [dict(zip(EXPORT_KEYS, tuple(row), strict=True)) for row in rows]


def votes_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Exported votes as a plain-text table for a terminal."""
    if not rows:
        return "No votes stored."
    header = ("guild", "member", "show", "title", "vote", "source", "updated")
    lines = [
        (
            str(row["guild_id"]),
            str(row["user_id"]),
            str(row["show_id"]),
            row["title"] if len(row["title"]) <= 40 else row["title"][:39] + "…",
            "+1" if row["value"] > 0 else "-1",
            row["source"],
            row["updated_at"],
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *lines]) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *lines]
    )
