"""Showbot: a Discord bot that helps a server decide what to watch."""

__version__ = "0.1.0"
