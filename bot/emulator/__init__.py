"""A local Discord emulator (API v10 REST + gateway) for end-to-end tests and the offline console."""

from bot.emulator.demo import DemoServer, build_demo_server
from bot.emulator.driver import ActionError, DiscordDriver, NoResponse, Reply
from bot.emulator.server import DiscordEmulator, InteractionRecord, RecordedRequest, Violation
from bot.emulator.spec import SpecMissingError

__all__ = [
    "ActionError",
    "DemoServer",
    "DiscordDriver",
    "DiscordEmulator",
    "InteractionRecord",
    "NoResponse",
    "RecordedRequest",
    "Reply",
    "SpecMissingError",
    "Violation",
    "build_demo_server",
]
