"""A local Discord emulator (API v10 REST + gateway) for end-to-end tests and the offline console.

Outside code imports these names from `bot.emulator`; the modules behind them are described in docs/emulator.md.
May import: nothing of the bot (it is Discord's stand-in: its own modules and libraries only); only
`bot.app` (the console and the harness), tests and benchmarks import it.
"""

from bot.emulator.command_data import ActionError
from bot.emulator.demo import DemoServer, build_demo_server
from bot.emulator.driver import DiscordDriver, NoResponse, Reply
from bot.emulator.protocol import APPLICATION_COMMAND, ApiError, InteractionRecord, RecordedRequest
from bot.emulator.server import DiscordEmulator
from bot.emulator.spec import SpecMissingError
from bot.emulator.validation import Violation

__all__ = [
    "APPLICATION_COMMAND",
    "ActionError",
    "ApiError",
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
