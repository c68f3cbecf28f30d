"""The shared data beside the repository (../shared/data): tests read it in place and never copy it.

Absent data skips the test, except under CI=true, where it must be there and its absence fails the test.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require_shared(path: Path) -> Path:
    """`path` (a file or folder under SHARED_DATA) when it exists; otherwise skip the test, or fail it under CI=true."""
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing, and CI=true requires the shared data")
        pytest.skip(f"shared data not present: {path}")
    return path


class Recordings:
    """Recorded API responses (JSON files in one folder of SHARED_DATA) that a local fake server replays.

    A server handler runs outside the test: pytest.skip raised there only drops the HTTP connection, and the test then
    fails on a network error instead of skipping. So the test loads the recordings its requests need first, with
    `use(...)`, which skips (or fails under CI=true) in the test itself; handlers answer from what was loaded. A handler
    asked for a recording the test did not load answers 400 (not retried) and `check_all_loaded()` names it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loaded: dict[str, Any] = {}
        self.not_loaded: list[str] = []

    def use(self, *names: str) -> None:
        for name in names:
            self.loaded[name] = json.loads(require_shared(self.folder / name).read_text(encoding="utf-8"))

    def response(self, name: str) -> web.Response:
        if name not in self.loaded:
            self.not_loaded.append(name)
            return web.Response(status=400, text=f"recording {name} was not loaded by the test")
        return web.json_response(self.loaded[name])

    def check_all_loaded(self) -> None:
        """Fail the test if a handler wanted a recording the test did not load with use()."""
        if self.not_loaded:
            missing = ", ".join(sorted(set(self.not_loaded)))
            pytest.fail(f"the fake server was asked for recordings the test did not load with use(): {missing}")


class FakeApi(Protocol):
    server: TestServer
    recordings: Recordings


FakeT = TypeVar("FakeT", bound=FakeApi)


@asynccontextmanager
async def serving(fake: FakeT) -> AsyncIterator[FakeT]:
    """Run a fake API server for one test; afterwards, fail if a handler asked for a recording the test never loaded."""
    await fake.server.start_server()
    try:
        yield fake
    finally:
        await fake.server.close()
    fake.recordings.check_all_loaded()
