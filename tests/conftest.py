"""End-to-end fixtures: the Discord emulator, the demo server, and the real ShowBot running against them.

    async def test_show(discord, bob):
        reply = await discord.slash("show", title="Seven Seconds", user=bob)
        assert reply.embed["title"].startswith("Seven Seconds")

See docs/emulator.md. After every test that used the emulator, the harness fails the test if the bot sent a body
Discord would reject (validator violations), called a route the emulator does not know, or broke an interaction
rule (10062 too late / 40060 acknowledged twice / 50027 token expired), or provoked a 429 by exceeding Discord's rate
limits (the emulator enforces them); a test provoking one on purpose clears it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from engine_helpers import NewLocation
from fake_tvmaze import FakeTvmaze
from postgres_server import PostgresServer, session_server, unavailable
from shared_data import serving

from bot.app.core import ShowBot
from bot.app.harness import FAKE_TOKEN, running_bot
from bot.catalog import seed_if_empty
from bot.common.clock import FakeClock
from bot.common.config import Settings
from bot.emulator import DemoServer, DiscordDriver, DiscordEmulator, build_demo_server
from bot.emulator.sharding import IDENTIFY_WINDOW_SECONDS
from bot.emulator.state import User
from bot.storage import Database, DatabaseUrl, Location, open_database

REPO_ROOT = Path(__file__).resolve().parents[1]
# A Friday noon in UTC: scheduled work is driven by this clock, never by waiting.
CLOCK_START = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def seeded_database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database with the shipped catalog, built once per session and copied for each test (seeding is slow)."""
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite3"

    async def build() -> None:
        async with open_database(path) as db:
            await seed_if_empty(db)

    asyncio.run(build())
    return path


@pytest.fixture
def database_path(tmp_path: Path, seeded_database_template: Path) -> Path:
    """A fresh copy of the seeded database for this test."""
    path = tmp_path / "showbot.sqlite3"
    shutil.copyfile(seeded_database_template, path)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """The session's PostgreSQL server (tests/postgres_server.py), started on first use; or why there is none."""
    with session_server() as server:
        yield server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_engines` run once on SQLite and once on PostgreSQL (the `engine` fixture)."""
    definition = metafunc.definition
    if (
        "engine" in metafunc.fixturenames
        and definition.get_closest_marker("both_engines")
        and not definition.get_closest_marker("sqlite_only")
    ):
        metafunc.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The database engine of this test: both for tests marked `both_engines`; otherwise SHOWBOT_TEST_ENGINE's
    ("sqlite" unless set: `SHOWBOT_TEST_ENGINE=postgresql pytest tests/test_e2e_votes.py` runs those on PostgreSQL)."""
    return str(getattr(request, "param", os.environ.get("SHOWBOT_TEST_ENGINE", "sqlite")))


async def _postgres_database(request: pytest.FixtureRequest, template: str) -> AsyncIterator[DatabaseUrl]:
    server = request.getfixturevalue("postgres_server")
    if isinstance(server, str):
        unavailable(server)
    location = await server.fresh(template)
    yield location
    await server.drop(location)


@pytest.fixture
async def database_location(
    engine: str, database_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Location]:
    """This test's database with the shipped catalog: the SQLite copy at `database_path`, or a PostgreSQL database."""
    if engine == "sqlite":
        yield database_path
        return
    async for location in _postgres_database(request, "showbot_seeded"):
        yield location


@pytest.fixture
async def new_location(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NewLocation]:
    """`await new_location()`: another empty (migrated, catalog-less) database of this test's engine, dropped after."""
    made: list[DatabaseUrl] = []
    numbers = itertools.count(1)

    async def make() -> Location:
        if engine == "sqlite":
            return tmp_path / f"empty-{next(numbers)}.sqlite3"
        server = request.getfixturevalue("postgres_server")
        if isinstance(server, str):
            unavailable(server)
        made.append(await server.fresh("showbot_empty"))
        return made[-1]

    yield make
    for location in made:
        server = request.getfixturevalue("postgres_server")
        await server.drop(location)


@pytest.fixture
async def empty_location(new_location: NewLocation) -> Location:
    """Where this test's empty (migrated, catalog-less) database is: a new SQLite file, or a PostgreSQL database."""
    return await new_location()


@pytest.fixture
async def db(database_location: Location) -> AsyncIterator[Database]:
    async with open_database(database_location) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(CLOCK_START)


@pytest.fixture
def settings(database_path: Path) -> Settings:
    return Settings(database_path=database_path, discord_token=FAKE_TOKEN, log_level="WARNING")


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    """A fresh emulator (spec validation on; under CI=true a missing spec is an error)."""
    async with DiscordEmulator(token=FAKE_TOKEN) as instance:
        yield instance
    problems = [str(violation) for violation in instance.violations]
    problems += [f"unhandled route {r.method} {r.path}" for r in instance.unhandled]
    problems += [f"interaction rule broken: {r.method} {r.path} -> {r.error_code}" for r in instance.rule_breaks]
    problems += [
        f"rate limited (429, Discord counts it towards a ban): {r.method} {r.path}" for r in instance.rate_limited
    ]
    if problems:
        pytest.fail("The bot broke Discord's rules:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def demo(emulator: DiscordEmulator) -> DemoServer:
    """ "Showbot Demo": #general #watch-party #announcements; alice, bob, carol and owner (Manage Server)."""
    return build_demo_server(emulator)


@pytest.fixture
def alice(demo: DemoServer) -> User:
    return demo.members["alice"]


@pytest.fixture
def bob(demo: DemoServer) -> User:
    return demo.members["bob"]


@pytest.fixture
def carol(demo: DemoServer) -> User:
    return demo.members["carol"]


@pytest.fixture
def owner(demo: DemoServer) -> User:
    return demo.members["owner"]


BotFactory = Callable[..., Awaitable[ShowBot]]


@pytest.fixture
async def make_bot(
    emulator: DiscordEmulator, demo: DemoServer, settings: Settings, db: Database, clock: FakeClock
) -> AsyncIterator[BotFactory]:
    """`await make_bot(extensions=[...], **bot_options)`: start a ShowBot (all of cogs/ by default) on the emulator.

    Bots started here are closed after the test; start a second one on the same `db` to test restarts. Each bot
    after the first starts 5 s later on the emulator's clock, as a restart takes: Discord (and the emulator) refuse
    a second IDENTIFY of shard 0 within 5 s with an invalid session (tests/test_emulator_sharding.py covers that).
    """
    async with AsyncExitStack() as stack:
        started = 0

        async def start(extensions: list[str] | None = None, **options: object) -> ShowBot:
            nonlocal started
            if started:
                emulator.advance_time(IDENTIFY_WINDOW_SECONDS)
            started += 1
            return await stack.enter_async_context(
                running_bot(emulator, settings, db, clock=clock, extensions=extensions, **options)
            )

        yield start


@pytest.fixture
async def bot(make_bot: BotFactory) -> ShowBot:
    """The real bot with every cog in cogs/, ready (logged in, commands synced, guilds received), its background
    catalog sync's first run over (with CATALOG_SYNC set it starts at once and would add shows while a test runs)."""
    return await background_sync_settled(await make_bot())


async def background_sync_settled(bot: ShowBot, timeout: float = 20.0) -> ShowBot:  # noqa: ASYNC109
    sync = bot.get_cog("CatalogSync")
    if sync is not None:
        await asyncio.wait_for(sync.first_pass_done.wait(), timeout)  # type: ignore[attr-defined]
    return bot


@pytest.fixture
def driver(emulator: DiscordEmulator, demo: DemoServer) -> DiscordDriver:
    """User actions, without starting a bot (start one with `make_bot`)."""
    return DiscordDriver(emulator, demo)


@pytest.fixture
def discord(bot: ShowBot, driver: DiscordDriver) -> DiscordDriver:
    """User actions against the real bot: slash, autocomplete, click, select, react, unreact, messages..."""
    return driver


@dataclass
class BotProcess:
    """`python -m bot` in a subprocess, connected to the test's emulator."""

    process: asyncio.subprocess.Process
    emulator: DiscordEmulator
    database_path: Path

    async def wait_connected(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        await self.emulator.wait_for(lambda: self.emulator.live_sessions() != [] or self.process.returncode is not None,
                                     timeout=timeout, what="the bot process to connect")  # fmt: skip
        if self.process.returncode is not None:
            raise AssertionError(f"The bot exited with {self.process.returncode}: {await self.stderr()}")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:  # noqa: ASYNC109
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode()


def bot_environment(database_path: Path, emulator: DiscordEmulator | None, log_level: str = "INFO") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD_", "DEV_GUILD"))}
    # Tests never touch the network: the connected bot's default TVmaze sync is off unless a test turns it on.
    env.update(DATABASE_PATH=str(database_path), LOG_LEVEL=log_level, PYTHONUNBUFFERED="1", CATALOG_SYNC="none")
    if emulator is not None:
        env.update(
            DISCORD_TOKEN=FAKE_TOKEN,
            DISCORD_API_BASE_URL=emulator.api_base_url,
            DISCORD_GATEWAY_URL=emulator.gateway_url,
        )
    return env


@pytest.fixture
async def bot_process(
    emulator: DiscordEmulator, demo: DemoServer, database_path: Path
) -> AsyncIterator[Callable[..., Awaitable[BotProcess]]]:
    """`await bot_process(log_level="INFO", **environment)`: start `python -m bot` against the emulator (killed at
    teardown), with extra environment variables (e.g. `SHARD_COUNT="2"`)."""
    started: list[BotProcess] = []

    async def start(log_level: str = "INFO", **environment: str) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=REPO_ROOT, env=bot_environment(database_path, emulator, log_level) | environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        started.append(BotProcess(process, emulator, database_path))
        return started[-1]

    yield start
    for handle in started:
        if handle.process.returncode is None:
            handle.process.kill()
            await handle.process.wait()


@pytest.fixture
async def tvmaze() -> AsyncIterator[FakeTvmaze]:
    """A local TVmaze API answering from recordings and synthetic fixtures (see tests/fake_tvmaze.py)."""
    async with serving(FakeTvmaze()) as fake:
        yield fake
