"""A throwaway PostgreSQL server for the test session, and a fresh database per test.

`SHOWBOT_TEST_DATABASE_URL` (a URL whose user may create databases) names a server to use. Otherwise the session
starts its own: PostgreSQL 15's server binaries (Debian's packages put them in /usr/lib/postgresql/15/bin), `initdb`
into a temporary directory, a Unix socket there and no TCP port, `pg_ctl` to start it and stop it at the end; as
root, run as the `postgres` user, who owns the directory. Durability is off (fsync, synchronous_commit): the data
lives for one session.

Each test gets its own database, a copy of a migrated template (`CREATE DATABASE ... TEMPLATE`, a file copy):
`showbot_empty` (migrated, no catalog) or `showbot_seeded` (with the shipped catalog, like the SQLite template).
Where no server can be found the tests that need one skip, saying why; under CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.catalog import seed_if_empty
from bot.storage import DatabaseUrl, open_database

URL_VARIABLE = "SHOWBOT_TEST_DATABASE_URL"
BINARY_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
TEMPLATES = ("showbot_empty", "showbot_seeded")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI=true, where PostgreSQL must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is needed under CI=true: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _binaries() -> Path | None:
    for candidate in BINARY_DIRS:
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextmanager
def local_server() -> Iterator[str]:
    """Start a private server; yields its admin URL (user postgres, Unix socket); stopped and deleted at the end."""
    binaries = _binaries()
    if binaries is None:
        raise RuntimeError(f"initdb not found (looked in {', '.join(BINARY_DIRS)} and PATH); install postgresql-15")
    as_postgres: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="showbot-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            shutil.rmtree(directory)
            raise RuntimeError("running as root and there is no postgres user to run the server as") from exc
        os.chown(directory, user.pw_uid, user.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, log = directory / "data", directory / "server.log"

    def run(*command: str) -> None:
        result = subprocess.run([*as_postgres, *command], capture_output=True, text=True, check=False, cwd=directory)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()[-500:]}")

    options = f"-k {directory} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
            "--no-sync")  # fmt: skip
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        yield f"postgresql://postgres@/postgres?host={directory}"
    finally:
        try:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(directory, ignore_errors=True)


@dataclass
class PostgresServer:
    """The session's server: `admin_url` may create and drop databases."""

    admin_url: str
    _numbers = itertools.count(1)

    def url(self, database: str) -> str:
        return with_database(self.admin_url, database)

    async def _admin(self, *statements: str) -> None:
        connection = await asyncpg.connect(self.admin_url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    async def build_templates(self) -> None:
        prefix = f"showbot_test_{os.getpid()}"
        self.templates = {name: f"{prefix}_{name}" for name in TEMPLATES}
        for database in self.templates.values():
            await self._admin(f'DROP DATABASE IF EXISTS "{database}"', f'CREATE DATABASE "{database}"')
        async with open_database(DatabaseUrl(self.url(self.templates["showbot_empty"]))):
            pass
        async with open_database(DatabaseUrl(self.url(self.templates["showbot_seeded"]))) as db:
            await seed_if_empty(db)

    async def fresh(self, template: str) -> DatabaseUrl:
        """A new database, a copy of `template` ("showbot_empty" or "showbot_seeded")."""
        name = f"{self.templates[template]}_{next(self._numbers)}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.templates[template]}"')
        return DatabaseUrl(self.url(name))

    async def drop(self, location: DatabaseUrl) -> None:
        name = urlsplit(location.url).path.lstrip("/")
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop_templates(self) -> None:
        await self._admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.templates.values()))


def _run_in_own_loop(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to the end on an event loop of its own thread: the session fixture is first asked for from inside a
    test's running loop."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@contextmanager
def session_server() -> Iterator[PostgresServer | str]:
    """The session's server, or the reason there is none."""
    with ExitStack() as stack:
        given = os.environ.get(URL_VARIABLE)
        if given:
            url = given
        else:
            try:
                url = stack.enter_context(local_server())
            except RuntimeError as exc:
                yield f"{exc} (or set {URL_VARIABLE})"
                return
        server = PostgresServer(url)
        _run_in_own_loop(server.build_templates())
        try:
            yield server
        finally:
            _run_in_own_loop(server.drop_templates())
