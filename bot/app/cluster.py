"""`python -m bot cluster --processes N`: the bot as N processes on one machine, each running a contiguous slice of
the gateway shards (`SHARD_COUNT`/`SHARD_IDS` in its environment), supervised here.

The supervisor starts every process, prefixes each line a process writes with its name (`[bot 1 shards 2-3]`),
restarts a process that exits without being asked to (after 1 s, then 2, 4, ... up to a minute; the delay starts
over once a process ran for a minute), and gives up on the whole cluster, loudly, when one process crashes
MAX_QUICK_CRASHES times in a row without running a minute in between (a crash loop re-identifies each time, and
Discord resets the token of a bot that spends its 1,000 IDENTIFYs a day). A process exiting with status 2 (a
configuration Discord refused, e.g. close 4011) stops the cluster at once: restarting cannot cure it.

On SIGTERM or SIGINT every process gets SIGTERM (each closes its connections and database) and, after
STOP_TIMEOUT_SECONDS, SIGKILL. No orphans: each process runs in its own session (a terminal's Ctrl-C reaches the
supervisor only, which forwards one SIGTERM), and on Linux the kernel sends it SIGTERM if the supervisor dies
without a chance to (SIGKILL; PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import discord

from bot.app.core import use_discord_endpoints
from bot.app.runner import NO_TOKEN_HELP, StartupError
from bot.app.shards import log_start_limits
from bot.common.config import Settings

log = logging.getLogger(__name__)

FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 60.0
STABLE_AFTER_SECONDS = 60.0  # a process that ran this long before exiting starts its backoff over
MAX_QUICK_CRASHES = 5
STOP_TIMEOUT_SECONDS = 30.0
EXIT_CONFIGURATION = 2  # bot.app.cli's status for a setting that must change: never restarted
PR_SET_PDEATHSIG = 1


class ClusterGaveUp(Exception):
    """The cluster stopped because a process cannot run; the message is one line for the operator."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def shard_slices(shard_count: int, processes: int) -> list[tuple[int, ...]]:
    """`shard_count` shards cut into `processes` contiguous slices, the first ones one shard larger when it does not
    divide evenly: 5 shards over 2 processes are 0-2 and 3-4."""
    if processes > shard_count:
        raise StartupError(
            f"--processes {processes} is more than the bot's {shard_count} shard{'s' * (shard_count != 1)}: "
            f"use at most {shard_count} processes, or set SHARD_COUNT to {processes} or more."
        )
    size, extra = divmod(shard_count, processes)
    slices, start = [], 0
    for index in range(processes):
        end = start + size + (index < extra)
        slices.append(tuple(range(start, end)))
        start = end
    return slices


def describe(shard_ids: Sequence[int]) -> str:
    return str(shard_ids[0]) if len(shard_ids) == 1 else f"{shard_ids[0]}-{shard_ids[-1]}"


def rest_share(total_per_second: float, processes: int) -> float:
    """Each process's share of the bot's global REST limit (bot/common/ratelimit.py): an equal part of the total."""
    return total_per_second / processes


async def discord_shard_count(settings: Settings) -> int:
    """SHARD_COUNT, or Discord's recommendation (`GET /gateway/bot`, asked once here so that every process agrees on
    it); the session start limit read with it is logged."""
    if settings.shard_count is not None:
        return settings.shard_count
    if settings.discord_token is None:
        raise StartupError(NO_TOKEN_HELP)
    use_discord_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        await http.static_login(settings.discord_token)
        shard_count, _, limits = await http.get_bot_gateway()
    except discord.LoginFailure:
        raise StartupError(
            "Discord refused DISCORD_TOKEN: reset the token on your application's Bot page and put the new one in .env."
        ) from None
    except (discord.HTTPException, OSError) as exc:
        raise StartupError(f"Could not ask Discord for the shard count ({exc}); set SHARD_COUNT, or retry.") from None
    finally:
        await http.close()
    log_start_limits(discord.shard.SessionStartLimits(**limits))
    return int(shard_count)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, however it dies (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Member:
    """One process of the cluster: its shards and its life so far."""

    index: int
    shard_ids: tuple[int, ...]
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    quick_crashes: int = 0
    pids: list[int] = field(default_factory=list)
    restart_delays: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"bot {self.index} shards {describe(self.shard_ids)}"


class Cluster:
    """Runs `command` once per slice of shards with SHARD_COUNT and SHARD_IDS set, until `stop()` or a give-up."""

    def __init__(
        self,
        command: Sequence[str],
        shard_count: int,
        slices: Sequence[tuple[int, ...]],
        environment: Mapping[str, str],
        *,
        first_delay: float = FIRST_RESTART_DELAY,
        max_delay: float = MAX_RESTART_DELAY,
        stable_after: float = STABLE_AFTER_SECONDS,
        max_quick_crashes: int = MAX_QUICK_CRASHES,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
        output: Callable[[str], None] | None = None,
    ) -> None:
        self.command = list(command)
        self.shard_count = shard_count
        self.members = [Member(index, shard_ids) for index, shard_ids in enumerate(slices)]
        self.environment = dict(environment)
        self.first_delay, self.max_delay = first_delay, max_delay
        self.stable_after, self.max_quick_crashes = stable_after, max_quick_crashes
        self.stop_timeout = stop_timeout
        self.output = output or self._write_stderr
        self._stopping = asyncio.Event()
        self._failure: ClusterGaveUp | None = None

    @staticmethod
    def _write_stderr(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def stop(self) -> None:
        """Ask every process to stop (SIGTERM); `run` returns once they all have."""
        self._stopping.set()

    async def run(self) -> None:
        """Supervise until stopped (returns) or until a process cannot run (raises ClusterGaveUp)."""
        log.info(
            "Starting %d processes for %d shards: %s",
            len(self.members),
            self.shard_count,
            ", ".join(describe(m.shard_ids) for m in self.members),
        )
        tasks = [asyncio.create_task(self._supervise(member), name=member.name) for member in self.members]
        try:
            await self._stopping.wait()
        finally:
            self._stopping.set()
            await asyncio.gather(*(self._terminate(member) for member in self.members))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._failure is not None:
            raise self._failure

    async def _supervise(self, member: Member) -> None:
        delay = self.first_delay
        while not self._stopping.is_set():
            started = time.monotonic()
            code = await self._run_once(member)
            if self._stopping.is_set():
                return
            if code == EXIT_CONFIGURATION:
                self._give_up(
                    f"Cluster stopped: {member.name} exited with status {code} (a setting must change; see its last "
                    "line above), and restarting cannot cure that.",
                    EXIT_CONFIGURATION,
                )
                return
            if time.monotonic() - started >= self.stable_after:
                member.quick_crashes, delay = 0, self.first_delay
            member.quick_crashes += 1
            if member.quick_crashes >= self.max_quick_crashes:
                self._give_up(
                    f"Cluster stopped: {member.name} crashed {member.quick_crashes} times in a row, each within "
                    f"{self.stable_after:.0f} s of starting (last status {code}); see its log above.",
                    1,
                )
                return
            log.warning("%s exited with status %s; restarting it in %.1f s", member.name, code, delay)
            member.restart_delays.append(delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.max_delay)

    def _give_up(self, message: str, status: int) -> None:
        if self._failure is None:
            self._failure = ClusterGaveUp(message, status)
        self._stopping.set()

    async def _run_once(self, member: Member) -> int:
        environment = self.environment | {
            "SHARD_COUNT": str(self.shard_count),
            "SHARD_IDS": ",".join(map(str, member.shard_ids)),
        }
        process = await asyncio.create_subprocess_exec(
            *self.command,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only; it forwards one SIGTERM
            preexec_fn=_die_with_parent,
            limit=2**20,  # a long log line (a traceback's repr) must not end the pump
        )
        member.process, member.starts = process, member.starts + 1
        member.pids.append(process.pid)
        log.info("Started %s (pid %d)", member.name, process.pid)
        assert process.stdout is not None
        async for raw in process.stdout:
            self.output(f"[{member.name}] {raw.decode(errors='replace').rstrip()}")
        code = await process.wait()
        log.info("%s (pid %d) exited with status %d", member.name, process.pid, code)
        return code

    async def _terminate(self, member: Member) -> None:
        process = member.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.stop_timeout)
        except TimeoutError:
            log.warning("%s did not stop within %.0f s of SIGTERM; killing it", member.name, self.stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def run_cluster(settings: Settings, processes: int, environment: Mapping[str, str]) -> None:
    """Resolve the shard count, cut it into `processes` slices, and supervise them until SIGTERM/SIGINT."""
    if settings.shard_ids is not None:
        raise StartupError(
            "SHARD_IDS names one process's shards; the cluster command gives each process its own: unset SHARD_IDS."
        )
    shard_count = await discord_shard_count(settings)
    slices = shard_slices(shard_count, processes)
    share = rest_share(settings.rest_requests_per_second, processes)
    log.info(
        "Each process may send %.2f REST requests per second, %.0f for the bot (Discord's global limit is 50)",
        share,
        settings.rest_requests_per_second,
    )
    child_environment = dict(environment) | {"REST_REQUESTS_PER_SECOND": f"{share:.4f}"}
    cluster = Cluster([sys.executable, "-m", "bot", "run"], shard_count, slices, child_environment)

    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        log.info("%s received: stopping every process", signal.Signals(signum).name)
        cluster.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await cluster.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
