"""`python -m bot cluster`: the supervisor's slicing and restart policy (with throwaway commands), and the real
cluster against the emulator: its processes connect with their own shards, a killed one comes back, SIGTERM (or the
supervisor's own death) ends them all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from conftest import REPO_ROOT, bot_environment

from bot.app.cluster import Cluster, ClusterGaveUp, discord_shard_count, rest_share, shard_slices
from bot.app.harness import emulator_settings
from bot.app.runner import StartupError
from bot.common.config import ConfigError, Settings
from bot.common.ratelimit import new_global_limiter
from bot.emulator import DemoServer, DiscordEmulator
from bot.emulator.sharding import IDENTIFY_WINDOW_SECONDS

STARTED = re.compile(r"Started bot (\d+) shards (\S+) \(pid (\d+)\)")


def test_shards_are_cut_into_contiguous_slices() -> None:
    assert shard_slices(6, 3) == [(0, 1), (2, 3), (4, 5)]
    assert shard_slices(5, 2) == [(0, 1, 2), (3, 4)]
    assert shard_slices(1, 1) == [(0,)]
    with pytest.raises(StartupError, match=r"--processes 3 is more than the bot's 2 shards"):
        shard_slices(2, 3)


def test_each_process_gets_an_equal_share_of_the_global_rest_limit() -> None:
    assert rest_share(48, 4) == 12
    four = new_global_limiter(rest_share(48, 4))
    one = new_global_limiter()
    assert (one.max_rate, one.time_period) == (10, 10 / 48)  # a burst of 10, then 48 per second
    assert four.max_rate == 2.5 and four.max_rate / four.time_period == pytest.approx(12)  # bursts add up to 10
    assert Settings.from_env({"REST_REQUESTS_PER_SECOND": "12"}).rest_requests_per_second == 12
    for bad in ("0", "49", "lots", "nan"):
        with pytest.raises(ConfigError, match=r"REST_REQUESTS_PER_SECOND must be a number from 0\.1 to 48"):
            Settings.from_env({"REST_REQUESTS_PER_SECOND": bad})


def _exiting_with(status: int) -> list[str]:
    return [sys.executable, "-c", f"print('starting'); raise SystemExit({status})"]


async def test_a_crash_looping_process_is_restarted_with_backoff_then_the_cluster_gives_up() -> None:
    lines: list[str] = []
    cluster = Cluster(
        _exiting_with(3), 2, [(0,), (1,)], os.environ, first_delay=0.01, max_quick_crashes=3, output=lines.append
    )
    gave_up = r"crashed 3 times in a row, each within 60 s of starting \(last status 3\)"
    with pytest.raises(ClusterGaveUp, match=gave_up):
        await asyncio.wait_for(cluster.run(), 30)
    looping = max(cluster.members, key=lambda member: member.starts)
    assert looping.starts == 3  # the first to crash a third time stopped the cluster
    assert looping.restart_delays == [0.01, 0.02]  # doubling each time
    assert "[bot 0 shards 0] starting" in lines and "[bot 1 shards 1] starting" in lines


async def test_a_process_refused_for_its_configuration_stops_the_cluster_at_once() -> None:
    cluster = Cluster(_exiting_with(2), 1, [(0,)], os.environ, first_delay=0.01, output=lambda line: None)
    with pytest.raises(ClusterGaveUp, match="exited with status 2") as failure:
        await asyncio.wait_for(cluster.run(), 30)
    assert failure.value.status == 2 and cluster.members[0].starts == 1


async def test_the_shard_count_comes_from_discord_once(emulator: DiscordEmulator, settings: Settings) -> None:
    emulator.max_guilds_per_shard = 2
    for n in range(5):
        emulator.create_guild(f"Server {n}", emulator.owner_user)
    assert await discord_shard_count(emulator_settings(settings, emulator)) == 3  # 5 servers, 2 per shard at most
    assert await discord_shard_count(replace(settings, shard_count=7)) == 7  # SHARD_COUNT wins, no request
    assert [r.path for r in emulator.requests] == ["/users/@me", "/gateway/bot"]  # discord.py's login, then the count
    wrong_token = replace(emulator_settings(settings, emulator), discord_token="x" * 24 + ".abcd." + "y" * 27)
    with pytest.raises(StartupError, match="Discord refused DISCORD_TOKEN"):
        await discord_shard_count(wrong_token)


@dataclass
class ClusterProcess:
    """`python -m bot cluster` as a subprocess; its stderr (its own log and every process's, prefixed) read as it
    comes."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def started(self) -> list[tuple[int, str, int]]:
        """(process index, shards, pid) of every start so far, in order."""
        return [(int(m.group(1)), m.group(2), int(m.group(3))) for line in self.lines if (m := STARTED.search(line))]

    async def read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode().rstrip())

    def log(self) -> str:
        return "\n".join(self.lines)


def gone(pid: int) -> bool:
    """Whether a process has ended (a zombie waiting for its reaper has ended too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


async def until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    """For what no event tells (another process's end): check every 50 ms, up to `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"Timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def cluster_process(
    emulator: DiscordEmulator, demo: DemoServer, database_path: Path
) -> AsyncIterator[Callable[..., Awaitable[ClusterProcess]]]:
    handles: list[ClusterProcess] = []

    async def start(processes: int, **environment: str) -> ClusterProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "cluster", "--processes", str(processes),
            cwd=REPO_ROOT, env=bot_environment(database_path, emulator) | environment,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        handle = ClusterProcess(process)
        handle.reader = asyncio.create_task(handle.read())
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        if handle.process.returncode is None:
            handle.process.kill()
            await handle.process.wait()
        for _, _, pid in handle.started():
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        if handle.reader is not None:
            await handle.reader


def live_shards(emulator: DiscordEmulator) -> list[tuple[int, int]]:
    return sorted((s.shard.id, s.shard.count) for s in emulator.live_sessions())


@pytest.mark.e2e
@pytest.mark.slow
async def test_the_cluster_runs_restarts_and_stops_its_processes(
    emulator: DiscordEmulator, cluster_process: Callable[..., Awaitable[ClusterProcess]]
) -> None:
    emulator.session_start_limit.max_concurrency = 2  # shards 0 and 1 identify at once, in their own buckets
    cluster = await cluster_process(2, SHARD_COUNT="2")
    await emulator.wait_for(lambda: len(live_shards(emulator)) == 2, timeout=60, what="both processes to connect")
    assert live_shards(emulator) == [(0, 2), (1, 2)]
    assert sorted((index, shards) for index, shards, _ in cluster.started()) == [(0, "0"), (1, "1")]
    syncs = [r for r in emulator.requests if r.method == "PUT" and r.route.endswith("/commands")]
    assert len(syncs) == 1  # by shard 0's process only

    # Kill shard 1's process the hard way: the supervisor starts it again, and it identifies shard 1 again.
    (pid_one,) = [pid for index, _, pid in cluster.started() if index == 1]
    emulator.advance_time(IDENTIFY_WINDOW_SECONDS)  # a restart is 5 s later for the emulator's IDENTIFY pacing
    identified = emulator.identify_count
    os.kill(pid_one, signal.SIGKILL)
    await emulator.wait_for(
        lambda: emulator.identify_count > identified and len(live_shards(emulator)) == 2,
        timeout=60,
        what="the killed process to come back",
    )
    restarts = [pid for index, _, pid in cluster.started() if index == 1]
    assert len(restarts) == 2 and restarts[0] == pid_one and gone(pid_one)
    assert "bot 1 shards 1 exited with status -9; restarting it in 1.0 s" in cluster.log()
    assert emulator.too_fast_identifies == 0

    cluster.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(cluster.process.wait(), 60) == 0
    assert all(gone(pid) for _, _, pid in cluster.started())
    assert live_shards(emulator) == []
    assert "[bot 0 shards 0]" in cluster.log() and "Traceback" not in cluster.log()


@pytest.mark.e2e
@pytest.mark.slow
async def test_the_processes_end_when_the_supervisor_is_killed(
    emulator: DiscordEmulator, cluster_process: Callable[..., Awaitable[ClusterProcess]]
) -> None:
    cluster = await cluster_process(1, SHARD_COUNT="1")
    await emulator.wait_for(lambda: len(live_shards(emulator)) == 1, timeout=60, what="the process to connect")
    (pid,) = [pid for _, _, pid in cluster.started()]
    cluster.process.kill()  # no chance to forward anything: the kernel tells the child (PR_SET_PDEATHSIG)
    await cluster.process.wait()
    await until(lambda: gone(pid), "the orphaned bot process to end")
    await emulator.wait_for(lambda: live_shards(emulator) == [], timeout=20, what="its connection to close")


async def test_the_cluster_refuses_shard_ids_and_too_many_processes(
    emulator: DiscordEmulator, cluster_process: Callable[..., Awaitable[ClusterProcess]]
) -> None:
    for environment, expected in (
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0"}, "SHARD_IDS names one process's shards"),
        ({"SHARD_COUNT": "2"}, "--processes 3 is more than the bot's 2 shards"),
    ):
        cluster = await cluster_process(3, **environment)
        assert await asyncio.wait_for(cluster.process.wait(), 30) == 2
        assert cluster.reader is not None
        await cluster.reader
        assert cluster.lines[-1].startswith(expected) and "Traceback" not in cluster.log()
