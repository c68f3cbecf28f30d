"""A protocol-level stand-in for Discord's API v10: REST routes and the gateway websocket, on 127.0.0.1.

The real, unmodified discord.py client connects to it (see bot.core.use_discord_endpoints). Every REST request is
recorded and its body validated (OpenAPI spec + documented limits); violations answer 400/50035 and are kept in
`violations` so a test harness can fail the test that caused them. See docs/emulator.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.emulator import limits
from bot.emulator.limits import Problem
from bot.emulator.ratelimits import RateLimiter
from bot.emulator.spec import DEFAULT_SPEC_PATH, SpecValidator
from bot.emulator.state import (
    ADD_REACTIONS,
    DEFAULT_EVERYONE,
    EMBED_LINKS,
    EPHEMERAL,
    LOADING,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Member,
    Message,
    Overwrite,
    Reaction,
    Role,
    User,
    emoji_key,
    iso_now,
    parse_emoji,
    snowflake,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
FIRST_RESPONSE_SECONDS = 3.0
TOKEN_LIFETIME_SECONDS = 15 * 60
REACTIONS_PER_MESSAGE_MAX = 20

# Gateway intents (only events the bot subscribed to are dispatched, as on Discord).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10

# Interaction types and callback types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = (
    4,
    5,
    6,
    7,
    8,
    9,
)


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


@dataclass
class RecordedRequest:
    method: str
    path: str  # after /api/v10, as sent (percent-encoded), without the query string
    body: Any  # the JSON body exactly as sent (None when there was none)
    query: dict[str, str] = field(default_factory=dict)
    route: str = ""  # the route template, e.g. "/channels/{channel_id}/messages"
    status: int = 0
    error_code: int | None = None
    received_at: float = 0.0  # time.perf_counter() when the request reached the emulator (latency benchmarks)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "body": self.body}


@dataclass
class Violation:
    request: RecordedRequest
    problems: list[Problem]

    def __str__(self) -> str:
        details = "; ".join(f"{'.'.join(map(str, p.path)) or '<body>'}: {p.code} {p.message}" for p in self.problems)
        return f"{self.request.method} {self.request.path} violates Discord's rules: {details}"


@dataclass
class Fault:
    method: str
    route: str
    kind: str  # "429", "5xx" or "slow"
    remaining: int | None
    status: int = 500
    retry_after: float = 0.05
    is_global: bool = False
    delay: float = 0.0
    after_processing: bool = False  # "5xx": do the request's work, then answer the error (a reply lost on the way)


@dataclass
class InteractionRecord:
    """One interaction the emulator dispatched, and everything the bot did about it."""

    id: int
    token: str
    type: int
    user: User
    channel: Channel
    guild: Guild
    data: dict[str, Any]
    created_at: float
    message: Message | None = None  # the message a component belongs to
    callback_type: int | None = None
    callback_body: Any = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    edits: int = 0  # PATCHes of the original (or of the component's message after a deferred update)
    dispatched_at: float = 0.0  # time.perf_counter() just before INTERACTION_CREATE was sent (latency benchmarks)

    @property
    def callback_latency(self) -> float | None:
        """Seconds from dispatching the interaction to receiving its first callback (real time, not `now()`)."""
        callback = next((r for r in self.requests if r.route.endswith("/callback")), None)
        return None if callback is None else callback.received_at - self.dispatched_at

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def answered(self) -> bool:
        """A visible answer exists: a response that is not a deferral, or anything sent after a deferral."""
        if self.callback_type is None:
            return False
        if self.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE):
            return bool(self.followups) or self.edits > 0
        return True


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    last_heartbeat_seq: int = -1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


Handler = Callable[[web.Request, Any], Awaitable[tuple[int, Any]]]


class DiscordEmulator:
    """Discord for one test (or one console session). Use `async with DiscordEmulator() as emulator:`."""

    def __init__(
        self,
        *,
        token: str | None = None,
        spec_path: Path | None = DEFAULT_SPEC_PATH,
        require_spec: bool | None = None,
        heartbeat_interval_ms: int = 41_250,
        bot_name: str = "Showbot",
        rate_limits: bool = True,
    ) -> None:
        self.token = token
        # Discord's global and per-route limits (bot/emulator/ratelimits.py); off only for a test that needs it off.
        self.rate_limiter: RateLimiter | None = RateLimiter() if rate_limits else None
        self.validator = SpecValidator(spec_path, required=require_spec)
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.application_id = snowflake()
        self.bot_user = User(self.application_id, bot_name, bot=True)
        self.owner_user = User(snowflake(), "developer")
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user, self.owner_user.id: self.owner_user}
        self.guilds: dict[int, Guild] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.unhandled: list[RecordedRequest] = []
        self.rule_breaks: list[RecordedRequest] = []  # 10062 / 40060 / 50027: interaction rules the bot broke
        self.rate_limited: list[RecordedRequest] = []  # 429s the bot provoked (not injected ones): Discord counts them
        self.interactions: dict[int, InteractionRecord] = {}
        self.sessions: dict[str, GatewaySession] = {}
        self.gateway_connections: list[str] = []  # the path of every websocket connection, in order
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self.faults: list[Fault] = []
        self.ack_heartbeats = True
        self._identify_gate: asyncio.Event | None = None  # set by hold_identify: IDENTIFYs wait for release_identify
        self.time_offset = 0.0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.port = 0

    # ----------------------------------------------------------------------------------------------- lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        for path in ("/", "/gateway", "/resume"):
            app.router.add_get(path, self._gateway)
        for method, route, handler in self._routes():
            app.router.add_route(method, API_PREFIX + route, self._endpoint(method, route, handler))
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._unknown_route)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        log.info("Discord emulator listening on %s", self.api_base_url)

    async def stop(self) -> None:
        self.release_identify()  # a held IDENTIFY would keep its connection open
        for ws in list(self._sockets):
            await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def now(self) -> float:
        """The emulator's clock for interaction deadlines; `advance_time` moves it without waiting."""
        return time.monotonic() + self.time_offset

    def advance_time(self, seconds: float) -> None:
        self.time_offset += seconds

    # --------------------------------------------------------------------------------------------- world building
    def create_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> User:
        user = User(user_id or snowflake(), username, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(
        self, name: str, owner: User, *, bot_permissions: int = DEFAULT_EVERYONE, guild_id: int | None = None
    ) -> Guild:
        """A guild the bot is in (dispatched on IDENTIFY; use `add_guild` to make the bot join one later)."""
        guild = Guild(guild_id or snowflake(), name, owner.id)
        guild.roles[guild.id] = Role(guild.id, "@everyone", DEFAULT_EVERYONE, 0)
        guild.members[owner.id] = Member(owner)
        bot_role = self.create_role(guild, self.bot_user.username, bot_permissions)
        guild.members[self.bot_user.id] = Member(self.bot_user, roles=[bot_role.id])
        self.guilds[guild.id] = guild
        return guild

    def create_role(self, guild: Guild, name: str, permissions: int, *, role_id: int | None = None) -> Role:
        role = Role(role_id or snowflake(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def create_channel(
        self, guild: Guild, name: str, *, type: int = 0, topic: str | None = None, channel_id: int | None = None
    ) -> Channel:
        channel = Channel(
            channel_id or snowflake(), guild.id, name, type=type, position=len(guild.channels), topic=topic
        )
        guild.channels[channel.id] = channel
        return channel

    def add_member(self, guild: Guild, user: User, *roles: Role) -> Member:
        member = Member(user, roles=[role.id for role in roles])
        guild.members[user.id] = member
        return member

    def commands_for(self, guild_id: int | None) -> list[dict[str, Any]]:
        """The chat-input commands a user sees in a guild: guild commands first, then global ones."""
        guild_commands = self.guild_commands.get(guild_id, []) if guild_id else []
        names = {command["name"] for command in guild_commands}
        return guild_commands + [command for command in self.global_commands if command["name"] not in names]

    def find_message(self, message_id: int) -> tuple[Guild, Channel, Message]:
        for guild in self.guilds.values():
            for channel in guild.channels.values():
                if message_id in channel.messages:
                    return guild, channel, channel.messages[message_id]
        raise ApiError(404, 10008, "Unknown Message")

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel]:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild, guild.channels[channel_id]
        raise ApiError(404, 10003, "Unknown Channel")

    # ------------------------------------------------------------------------------------------------- waiting
    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 (a deadline for an event-driven wait)
        what: str = "a condition",
    ) -> None:
        """Wait until `predicate()` holds; re-checked whenever a request or gateway message arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"Timed out after {timeout:.1f}s waiting for {what}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    # ------------------------------------------------------------------------------------------------- gateway
    def live_sessions(self) -> list[GatewaySession]:
        return [session for session in self.sessions.values() if session.ws is not None and not session.ws.closed]

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> None:
        """Send a dispatch to every session (buffered for replay when its connection is down)."""
        for session in list(self.sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            async with session.lock:
                await self._send_dispatch(session, event, data)
        self._notify()

    async def _send_dispatch(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(frame)
        if session.ws is not None and not session.ws.closed:
            try:
                await session.ws.send_str(json.dumps(frame))
            except ConnectionError:
                session.ws = None

    async def sync_gateway(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once the client has read every dispatch sent so far.

        Asks for a heartbeat (op 1): the client answers with its last sequence number, and frames are processed in
        order, so a heartbeat carrying the latest sequence proves everything before it was parsed.
        """
        for session in self.live_sessions():
            target = session.seq
            assert session.ws is not None
            await session.ws.send_str(json.dumps({"op": 1, "d": None}))
            await self.wait_for(
                lambda s=session, t=target: s.last_heartbeat_seq >= t,  # type: ignore[misc]
                timeout=timeout,
                what="the client to read the gateway",
            )

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.gateway_connections.append(request.path)
        session: GatewaySession | None = None
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                op, data = frame.get("op"), frame.get("d")
                if op == 1:
                    self.heartbeats += 1
                    if session is not None and isinstance(data, int):
                        session.last_heartbeat_seq = max(session.last_heartbeat_seq, data)
                    if self.ack_heartbeats:
                        await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    session = await self._identify(ws, data)
                elif op == 6:
                    session = await self._resume(ws, data)
                self._notify()
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        if self.token is not None and data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        self.identify_count += 1
        if self._identify_gate is not None:
            self._notify()
            await self._identify_gate.wait()  # the client is between sessions until released
        session = GatewaySession(uuid.uuid4().hex, int(data.get("intents", 0)))
        self.sessions[session.id] = session
        guilds = [guild for guild in self.guilds.values() if self.bot_user.id in guild.members]
        ready = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/resume",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
        }
        async with session.lock:
            session.ws = ws
            await self._send_dispatch(session, "READY", ready)
            for guild in guilds:
                if session.intents & INTENT_GUILDS:
                    await self._send_dispatch(session, "GUILD_CREATE", guild.payload())
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or (self.token is not None and data.get("token") != self.token):
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        self.resume_count += 1
        last_seen = int(data.get("seq") or 0)
        async with session.lock:
            for frame in session.buffer:
                if frame["s"] > last_seen:
                    await ws.send_str(json.dumps(frame))
            session.ws = ws
            await self._send_dispatch(session, "RESUMED", {})
        return session

    # ------------------------------------------------------------------------------------------ fault injection
    def fail_with_429(
        self, method: str, route: str, *, times: int = 1, retry_after: float = 0.05, is_global: bool = False
    ) -> None:
        """Answer the next `times` requests to `method route` (a route template) with a 429."""
        self.faults.append(
            Fault(
                method.upper(),
                self._known_route(method, route),
                "429",
                times,
                retry_after=retry_after,
                is_global=is_global,
            )
        )

    def fail_with_5xx(
        self, method: str, route: str, *, times: int = 1, status: int = 502, after_processing: bool = False
    ) -> None:
        """Answer the next `times` requests to `method route` with `status`; with `after_processing` the request
        still takes effect first (a message is created), as when Discord's answer is lost to a timeout or a proxy."""
        route = self._known_route(method, route)
        self.faults.append(Fault(method.upper(), route, "5xx", times, status=status, after_processing=after_processing))

    def slow_route(self, method: str, route: str, delay: float, *, times: int | None = None) -> None:
        self.faults.append(Fault(method.upper(), self._known_route(method, route), "slow", times, delay=delay))

    async def disconnect_gateway(self, code: int = 4000) -> None:
        """Drop every live connection (as a network failure would); the client should RESUME."""
        for session in self.live_sessions():
            ws, session.ws = session.ws, None  # detached at once: dispatches from now on wait in the buffer
            assert ws is not None
            await ws.close(code=code)

    async def end_sessions(self, code: int = 4009) -> None:
        """Close every connection and forget its session (4009: Discord's "session timed out"): the client's RESUME
        is answered with op 9 `d: false`, so it must IDENTIFY again; dispatches until then reach no one."""
        live = self.live_sessions()
        for session in live:
            self.sessions.pop(session.id, None)
        for session in live:
            ws, session.ws = session.ws, None
            assert ws is not None
            await ws.close(code=code)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION; a non-resumable session is forgotten, so the client must IDENTIFY again."""
        for session in self.live_sessions():
            assert session.ws is not None
            await session.ws.send_str(json.dumps({"op": 9, "d": resumable}))
            if not resumable:
                session.ws = None
                self.sessions.pop(session.id, None)

    def hold_identify(self) -> None:
        """Make every IDENTIFY from now on wait (counted in `identify_count`, no READY) until `release_identify()`:
        a client between two sessions, for as long as a test needs, without racing its reconnection."""
        if self._identify_gate is None:
            self._identify_gate = asyncio.Event()

    def release_identify(self) -> None:
        gate, self._identify_gate = self._identify_gate, None
        if gate is not None:
            gate.set()

    async def request_reconnect(self) -> None:
        """Send RECONNECT (op 7): the client closes and resumes."""
        for session in self.live_sessions():
            assert session.ws is not None
            await session.ws.send_str(json.dumps({"op": 7, "d": None}))

    def _known_route(self, method: str, route: str) -> str:
        if not any(m == method.upper() and r == route for m, r, _ in self._routes()):
            raise ValueError(f"The emulator has no route {method} {route}")
        return route

    def _take_fault(self, method: str, route: str) -> Iterator[Fault]:
        for fault in list(self.faults):
            if fault.method == method and fault.route == route:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                yield fault

    # ----------------------------------------------------------------------------------------------- REST plumbing
    def _routes(self) -> list[tuple[str, str, Handler]]:
        channel_message = "/channels/{channel_id}/messages/{message_id}"
        webhook_message = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
        return [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/{application_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/commands", self._put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self._execute_webhook),
            ("GET", webhook_message, self._get_webhook_message),
            ("PATCH", webhook_message, self._edit_webhook_message),
            ("DELETE", webhook_message, self._delete_webhook_message),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("GET", "/channels/{channel_id}/messages", self._list_messages),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("GET", channel_message, self._get_message),
            ("PATCH", channel_message, self._edit_message),
            ("DELETE", channel_message, self._delete_message),
            ("GET", channel_message + "/reactions/{emoji_name}", self._list_reaction_users),
            ("DELETE", channel_message + "/reactions", self._delete_all_reactions),
            ("DELETE", channel_message + "/reactions/{emoji_name}", self._delete_emoji_reactions),
            ("PUT", channel_message + "/reactions/{emoji_name}/@me", self._add_own_reaction),
            ("DELETE", channel_message + "/reactions/{emoji_name}/{user_id}", self._delete_reaction),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]

    @staticmethod
    def _spec_path(route: str, request: web.Request) -> str:
        if route.startswith("/webhooks/") and request.match_info.get("message_id") == "@original":
            return "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
        if route.endswith("/{user_id}") and request.match_info.get("user_id") == "@me":
            return route.replace("{user_id}", "@me")
        return route

    def _endpoint(self, method: str, route: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            received_at = time.perf_counter()
            record = RecordedRequest(
                method,
                request.raw_path.split("?", 1)[0].removeprefix(API_PREFIX),
                await _read_body(request),
                dict(request.query),
                route,
                received_at=received_at,
            )
            self.requests.append(record)
            try:
                response = await self._serve(request, record, handler)
            finally:
                self._notify()
            return response

        return endpoint

    async def _serve(self, request: web.Request, record: RecordedRequest, handler: Handler) -> web.Response:
        lost_reply: Fault | None = None
        for fault in self._take_fault(record.method, record.route):
            if fault.kind == "5xx" and fault.after_processing:
                lost_reply = fault
            elif fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "429":
                record.status = 429
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": fault.retry_after,
                    "global": fault.is_global,
                }
                headers = {
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, round(fault.retry_after))),
                    "X-RateLimit-Scope": "global" if fault.is_global else "user",
                }
                return _json(body, 429, headers)
            else:
                record.status = fault.status
                return _json({"message": "Server Error", "code": 0}, fault.status)
        limit_headers: dict[str, str] = {}
        if self.rate_limiter is not None:
            verdict = self.rate_limiter.check(record.method, record.route, dict(request.match_info))
            if not verdict.allowed:
                record.status = 429
                self.rate_limited.append(record)
                log.warning("Rate limited (%s): %s %s", "global" if verdict.is_global else "route", record.method,
                            record.path)  # fmt: skip
                return _json(verdict.body, 429, verdict.headers)
            limit_headers = verdict.headers
        response = await self._handle(request, record, handler, lost_reply)
        response.headers.update(limit_headers)
        return response

    async def _handle(
        self, request: web.Request, record: RecordedRequest, handler: Handler, lost_reply: Fault | None
    ) -> web.Response:
        try:
            self._check_auth(request, record)
            problems = self._validate(request, record)
            if problems:
                self.violations.append(Violation(record, problems))
                log.warning("%s", self.violations[-1])
                raise ApiError(400, 50035, "Invalid Form Body", limits.errors_object(problems))
            status, payload = await handler(request, record.body)
        except ApiError as error:
            record.status, record.error_code = error.status, error.code
            if error.code in (10062, 40060, 50027):
                self.rule_breaks.append(record)
            return _json(error.body(), error.status)
        if lost_reply is not None:
            record.status = lost_reply.status
            return _json({"message": "Server Error", "code": 0}, lost_reply.status)
        record.status = status
        if status == 204:
            return web.Response(status=204)
        return _json(payload, status)

    def _check_auth(self, request: web.Request, record: RecordedRequest) -> None:
        if record.route.startswith(("/interactions/", "/webhooks/")):
            return  # authorised by the interaction token in the path
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bot ") or (self.token is not None and header != f"Bot {self.token}"):
            raise ApiError(401, 0, "401: Unauthorized")

    def _validate(self, request: web.Request, record: RecordedRequest) -> list[Problem]:
        if record.method not in ("POST", "PUT", "PATCH") or record.body is None:
            return []
        route = record.route
        if route.endswith("/commands"):
            problems = limits.check_commands(record.body)
        elif route.endswith("/callback"):
            problems = limits.check_interaction_callback(record.body)
        else:
            problems = limits.check_message(record.body)
        return problems + self.validator.validate(self._spec_path(route, request), record.method, record.body)

    async def _unknown_route(self, request: web.Request) -> web.Response:
        record = RecordedRequest(
            request.method,
            request.raw_path.split("?", 1)[0].removeprefix(API_PREFIX),
            await _read_body(request),
            dict(request.query),
            status=404,
            error_code=0,
        )
        self.requests.append(record)
        self.unhandled.append(record)
        log.warning("Unhandled route: %s %s", record.method, record.path)
        self._notify()
        return _json({"message": "404: Not Found (the emulator does not implement this route)", "code": 0}, 404)

    # ------------------------------------------------------------------------------------------ REST: identity
    async def _get_me(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None}

    async def _get_application(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "Showbot, emulated",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "flags": 0,
            "owner": self.owner_user.payload(),
            "team": None,
            "bot": self.bot_user.payload(),
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    # ------------------------------------------------------------------------------------------ REST: commands
    def _command_scope(self, request: web.Request) -> tuple[int | None, list[dict[str, Any]]]:
        if int(request.match_info["application_id"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None, self.global_commands
        if int(guild_id) not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return int(guild_id), self.guild_commands.get(int(guild_id), [])

    async def _get_commands(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self._command_scope(request)[1]

    async def _put_commands(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild_id, existing = self._command_scope(request)
        known = {(command.get("type", 1), command["name"]): command["id"] for command in existing}
        stored = []
        for command in body:
            kind = command.get("type", 1)
            entry = {
                **command,
                "id": known.get((kind, command["name"])) or str(snowflake()),
                "application_id": str(self.application_id),
                "type": kind,
                "version": str(snowflake()),
                "default_member_permissions": command.get("default_member_permissions"),
            }
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            stored.append(entry)
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        return 200, stored

    # -------------------------------------------------------------------------------------- REST: interactions
    def _interaction_for_token(self, request: web.Request) -> InteractionRecord:
        token = request.match_info["webhook_token"]
        if int(request.match_info["webhook_id"]) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        for record in self.interactions.values():
            if record.token == token:
                if self.now() - record.created_at > TOKEN_LIFETIME_SECONDS:
                    raise ApiError(401, 50027, "Invalid Webhook Token")
                if not record.acknowledged:
                    raise ApiError(404, 10015, "Unknown Webhook")
                return record
        raise ApiError(404, 10015, "Unknown Webhook")

    async def _interaction_callback(self, request: web.Request, body: Any) -> tuple[int, Any]:
        record = self.interactions.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["interaction_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        record.requests.append(self.requests[-1])
        if record.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if self.now() - record.created_at > FIRST_RESPONSE_SECONDS:
            raise ApiError(404, 10062, "Unknown interaction")
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
        }[record.type]
        if kind not in allowed:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": "Interaction response type is invalid",
                            }
                        ]
                    }
                },
            )
        record.callback_type, record.callback_body = kind, body
        message: Message | None = None
        if kind == CHANNEL_MESSAGE:
            message = record.original = self._post_as_app(record, data)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = record.original = self._post_as_app(record, {"flags": (data.get("flags") or 0) | LOADING})
        elif kind == UPDATE_MESSAGE:
            assert record.message is not None
            message = _apply_edit(record.message, data)
        elif kind == AUTOCOMPLETE_RESULT:
            record.choices = list(data.get("choices") or [])
        elif kind == MODAL:
            record.modal = data
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        interaction: dict[str, Any] = {"id": str(record.id), "type": record.type}
        response: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = bool(message.flags & LOADING)
            interaction["response_message_ephemeral"] = message.ephemeral
            response["resource"] = {"type": kind, "message": message.payload(me=self.bot_user.id)}
        return 200, response

    def _post_as_app(self, record: InteractionRecord, data: dict[str, Any]) -> Message:
        message = Message(
            snowflake(),
            record.channel.id,
            record.guild.id,
            self.bot_user,
            content=data.get("content") or "",
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            flags=int(data.get("flags") or 0),
            type=20 if record.type == APPLICATION_COMMAND else 19,
            webhook_id=self.application_id,
            application_id=self.application_id,
            interaction_id=record.id,
        )
        record.channel.messages[message.id] = message
        return message

    async def _execute_webhook(self, request: web.Request, body: Any) -> tuple[int, Any]:
        record = self._interaction_for_token(request)
        record.requests.append(self.requests[-1])
        original = record.original
        if (
            original is not None
            and original.flags & LOADING
            and not record.followups
            and original.id in record.channel.messages
        ):
            # After a deferral, the first followup replaces the "thinking…" message (and keeps its visibility);
            # once the bot has deleted that message, a followup is a new message of its own (ephemeral if asked).
            message = _apply_edit(original, {**body, "flags": original.flags & EPHEMERAL})
            record.edits += 1
        else:
            message = self._post_as_app(record, body)
        record.followups.append(message)
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return 204, None
        return 200, message.payload(me=self.bot_user.id)

    def _webhook_message(self, request: web.Request) -> tuple[InteractionRecord, Message]:
        record = self._interaction_for_token(request)
        record.requests.append(self.requests[-1])
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            # A button's or menu's @original is the message it is on (after a deferred update, say).
            original = record.original or record.message
            if original is None:
                raise ApiError(404, 10008, "Unknown Message")
            return record, original
        for message in [*record.followups, *([record.original] if record.original else [])]:
            if str(message.id) == wanted and message.id in record.channel.messages:
                return record, message
        raise ApiError(404, 10008, "Unknown Message")

    async def _get_webhook_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self._webhook_message(request)[1].payload(me=self.bot_user.id)

    async def _edit_webhook_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        record, message = self._webhook_message(request)
        _apply_edit(message, body)
        record.edits += 1
        return 200, message.payload(me=self.bot_user.id)

    async def _delete_webhook_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        record, message = self._webhook_message(request)
        record.channel.messages.pop(message.id, None)
        return 204, None

    # ------------------------------------------------------------------------------------ REST: channel messages
    def _channel(self, request: web.Request) -> tuple[Guild, Channel]:
        return self.find_channel(int(request.match_info["channel_id"]))

    def _require(self, guild: Guild, channel: Channel, needed: int) -> None:
        have = guild.permissions_in(channel, self.bot_user.id)
        if not have & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if have & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    def _message(self, request: web.Request) -> tuple[Guild, Channel, Message]:
        guild, channel = self._channel(request)
        self._require(guild, channel, READ_MESSAGE_HISTORY)
        message = channel.messages.get(int(request.match_info["message_id"]))
        if message is None or message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return guild, channel, message

    async def _get_channel(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel = self._channel(request)
        self._require(guild, channel, 0)
        return 200, channel.payload()

    async def _list_messages(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel = self._channel(request)
        self._require(guild, channel, READ_MESSAGE_HISTORY)
        limit = _limit(request, default=50)
        messages = sorted(channel.visible_messages(), key=lambda message: message.id, reverse=True)
        if "before" in request.query:
            messages = [m for m in messages if m.id < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if m.id > int(request.query["after"])][-limit:]
        return 200, [message.payload(me=self.bot_user.id) for message in messages[:limit]]

    async def _create_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel = self._channel(request)
        self._require(guild, channel, SEND_MESSAGES | (EMBED_LINKS if body.get("embeds") else 0))
        if not (body.get("content") or body.get("embeds") or body.get("components") or body.get("sticker_ids")):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = Message(
            snowflake(),
            channel.id,
            guild.id,
            self.bot_user,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=int(body.get("flags") or 0) & ~EPHEMERAL,
        )
        channel.messages[message.id] = message
        await self.dispatch("MESSAGE_CREATE", message.payload(), intent=INTENT_GUILD_MESSAGES)
        return 200, message.payload(me=self.bot_user.id)

    async def _get_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self._message(request)[2].payload(me=self.bot_user.id)

    async def _edit_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        if message.author.id != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        if body.get("embeds"):
            self._require(guild, channel, EMBED_LINKS)
        _apply_edit(message, body)
        return 200, message.payload(me=self.bot_user.id)

    async def _delete_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        if message.author.id != self.bot_user.id:
            self._require(guild, channel, MANAGE_MESSAGES)
        channel.messages.pop(message.id)
        await self._dispatch_message_delete(guild, channel, message)
        return 204, None

    async def _dispatch_message_delete(self, guild: Guild, channel: Channel, message: Message) -> None:
        payload = {"id": str(message.id), "channel_id": str(channel.id), "guild_id": str(guild.id)}
        await self.dispatch("MESSAGE_DELETE", payload, intent=INTENT_GUILD_MESSAGES)

    # -------------------------------------------------------------------------------------------- REST: reactions
    async def _add_own_reaction(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        emoji = parse_emoji(request.match_info["emoji_name"])
        if emoji_key(emoji) not in message.reaction_counts():
            self._require(guild, channel, ADD_REACTIONS | READ_MESSAGE_HISTORY)
        await self.add_reaction(message, emoji, self.bot_user)
        return 204, None

    async def _delete_reaction(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        target = request.match_info["user_id"]
        user_id = self.bot_user.id if target == "@me" else int(target)
        if user_id != self.bot_user.id:
            self._require(guild, channel, MANAGE_MESSAGES)
        await self.remove_reaction(message, parse_emoji(request.match_info["emoji_name"]), self.users[user_id])
        return 204, None

    async def _delete_all_reactions(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        self._require(guild, channel, MANAGE_MESSAGES)
        await self.clear_reactions(message)
        return 204, None

    async def _delete_emoji_reactions(self, request: web.Request, body: Any) -> tuple[int, Any]:
        guild, channel, message = self._message(request)
        self._require(guild, channel, MANAGE_MESSAGES)
        await self.clear_reactions(message, parse_emoji(request.match_info["emoji_name"]))
        return 204, None

    async def _list_reaction_users(self, request: web.Request, body: Any) -> tuple[int, Any]:
        _guild, _channel, message = self._message(request)
        limit = _limit(request, default=25)
        after = int(request.query.get("after", 0))
        user_ids = sorted(message.reaction_users(emoji_key(parse_emoji(request.match_info["emoji_name"]))))
        page = [user_id for user_id in user_ids if user_id > after][:limit]
        return 200, [self.users[user_id].payload() for user_id in page]

    async def add_reaction(self, message: Message, emoji: dict[str, Any], user: User) -> bool:
        """`user` reacts to `message` (MESSAGE_REACTION_ADD is dispatched); False if they already had."""
        key = emoji_key(emoji)
        reaction = message.reactions.get(key)
        if reaction is None or not reaction.user_ids:
            if len(message.reaction_counts()) >= REACTIONS_PER_MESSAGE_MAX:
                raise ApiError(400, 30010, "Maximum number of reactions reached (20)")
            reaction = message.reactions[key] = Reaction(emoji)
        if user.id in reaction.user_ids:
            return False
        reaction.user_ids.append(user.id)
        guild = self.guilds.get(message.guild_id or 0)
        payload: dict[str, Any] = {
            **self._reaction_payload(message, emoji, user),
            "message_author_id": str(message.author.id),
            "burst": False,
            "burst_colors": [],
        }
        if guild is not None and user.id in guild.members:
            payload["member"] = guild.members[user.id].payload()
        await self.dispatch("MESSAGE_REACTION_ADD", payload, intent=INTENT_GUILD_MESSAGE_REACTIONS)
        return True

    async def remove_reaction(self, message: Message, emoji: dict[str, Any], user: User) -> bool:
        reaction = message.reactions.get(emoji_key(emoji))
        if reaction is None or user.id not in reaction.user_ids:
            return False
        reaction.user_ids.remove(user.id)
        payload = {**self._reaction_payload(message, emoji, user), "burst": False}
        await self.dispatch("MESSAGE_REACTION_REMOVE", payload, intent=INTENT_GUILD_MESSAGE_REACTIONS)
        return True

    async def clear_reactions(self, message: Message, emoji: dict[str, Any] | None = None) -> bool:
        """A moderator removes every reaction from `message` (MESSAGE_REACTION_REMOVE_ALL), or every reaction with
        `emoji` (MESSAGE_REACTION_REMOVE_EMOJI); False if there was none to remove."""
        if emoji is None:
            if not message.reaction_counts():
                return False
            message.reactions.clear()
            event, data = "MESSAGE_REACTION_REMOVE_ALL", {}
        else:
            reaction = message.reactions.pop(emoji_key(emoji), None)
            if reaction is None or not reaction.user_ids:
                return False
            event, data = "MESSAGE_REACTION_REMOVE_EMOJI", {"emoji": emoji}
        payload: dict[str, Any] = {"channel_id": str(message.channel_id), "message_id": str(message.id), **data}
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        await self.dispatch(event, payload, intent=INTENT_GUILD_MESSAGE_REACTIONS)
        return True

    @staticmethod
    def _reaction_payload(message: Message, emoji: dict[str, Any], user: User) -> dict[str, Any]:
        data = {
            "user_id": str(user.id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": emoji,
            "type": 0,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        return data

    # --------------------------------------------------------------------------------------------- REST: guilds
    def _guild(self, request: web.Request) -> Guild:
        guild = self.guilds.get(int(request.match_info["guild_id"]))
        if guild is None or self.bot_user.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self._guild(request).rest_payload()

    async def _get_guild_channels(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, [channel.payload() for channel in self._guild(request).channels.values()]

    async def _get_member(self, request: web.Request, body: Any) -> tuple[int, Any]:
        member = self._guild(request).members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member.payload()

    # ------------------------------------------------------------------------------------ what users do (events)
    async def dispatch_interaction(self, record: InteractionRecord, payload: dict[str, Any]) -> None:
        record.created_at = self.now()
        self.interactions[record.id] = record
        record.dispatched_at = time.perf_counter()
        await self.dispatch("INTERACTION_CREATE", payload)

    async def user_deletes_message(self, message: Message) -> None:
        guild, channel, _ = self.find_message(message.id)
        channel.messages.pop(message.id, None)
        await self._dispatch_message_delete(guild, channel, message)

    async def delete_channel(self, channel: Channel) -> None:
        guild = self.guilds[channel.guild_id]
        guild.channels.pop(channel.id, None)
        await self.dispatch("CHANNEL_DELETE", channel.payload(), intent=INTENT_GUILDS)

    async def add_guild(self, guild: Guild) -> None:
        """The bot joins `guild` (built with create_guild): GUILD_CREATE."""
        self.guilds[guild.id] = guild
        await self.dispatch("GUILD_CREATE", guild.payload(), intent=INTENT_GUILDS)

    async def remove_guild(self, guild: Guild) -> None:
        """The bot is removed from `guild`: GUILD_DELETE (without `unavailable`, meaning it was kicked)."""
        self.guilds.pop(guild.id, None)
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, intent=INTENT_GUILDS)

    async def update_role(self, guild: Guild, role: Role, *, permissions: int) -> None:
        role.permissions = permissions
        await self.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.payload()}, intent=INTENT_GUILDS
        )

    async def set_overwrite(self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0) -> None:
        """Set a channel permission overwrite for a role or a member: CHANNEL_UPDATE."""
        kind = 0 if isinstance(target, Role) else 1
        channel.overwrites[target.id] = Overwrite(target.id, kind, allow, deny)
        await self.dispatch("CHANNEL_UPDATE", channel.payload(), intent=INTENT_GUILDS)

    def new_interaction(
        self, type: int, user: User, channel: Channel, data: dict[str, Any], *, message: Message | None = None
    ) -> tuple[InteractionRecord, dict[str, Any]]:
        """An interaction record and its INTERACTION_CREATE payload (dispatch it with `dispatch_interaction`)."""
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"{user} is not a member of {guild.name}")
        record = InteractionRecord(
            snowflake(),
            secrets.token_urlsafe(48),
            type,
            user,
            channel,
            guild,
            data,
            created_at=self.now(),
            message=message,
        )
        payload: dict[str, Any] = {
            "id": str(record.id),
            "application_id": str(self.application_id),
            "type": type,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "member": member.payload(permissions=guild.permissions_in(channel, user.id)),
            "token": record.token,
            "version": 1,
            "app_permissions": str(guild.permissions_in(channel, self.bot_user.id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message.payload(me=self.bot_user.id)
        return record, payload


def _apply_edit(message: Message, body: dict[str, Any]) -> Message:
    for key in ("content", "embeds", "components"):
        if key in body:
            value = body[key]
            setattr(message, key, (value or "") if key == "content" else list(value or []))
    if "flags" in body and body["flags"] is not None:
        message.flags = (message.flags & EPHEMERAL) | (int(body["flags"]) & ~(EPHEMERAL | LOADING))
    message.flags &= ~LOADING
    message.edited_timestamp = iso_now()
    return message


def _limit(request: web.Request, *, default: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        errors = {"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "Must be between 1 and 100."}]}}
        raise ApiError(400, 50035, "Invalid Form Body", errors)
    return int(raw)


async def _read_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        body: Any = None
        async for part in reader:
            if getattr(part, "name", None) == "payload_json":
                body = json.loads(await part.text())  # type: ignore[union-attr]
        return body
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json" (bytes, so aiohttp adds no charset): discord.py parses JSON only then.
    body = json.dumps(payload).encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)
