"""Exceptions whose message is meant for the user who caused them."""

from __future__ import annotations


class UserFacingError(Exception):
    """Raised by command code to answer with this short message (ephemeral in Discord, one line on the CLI)."""
