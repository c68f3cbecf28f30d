"""The gateway websocket (`Gateway`): sessions, HELLO and heartbeats, IDENTIFY (READY and GUILD_CREATEs), RESUME
with replay of missed dispatches, dispatching events to sessions by intent, and the connection faults a test
provokes (dropped connections, ended or invalidated sessions, RECONNECT, a held IDENTIFY). Sharding as Discord does
it (sharding.py): `GET /gateway/bot`, each guild's events on its shard's session only, events without a guild on
shard 0, close 4010/4011 for an invalid or missing shard, op 9 for an IDENTIFY faster than `max_concurrency`."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.emulator.core import EmulatorCore
from bot.emulator.protocol import INTENT_GUILDS, Route
from bot.emulator.sharding import (
    CLOSE_INVALID_SHARD,
    CLOSE_SHARDING_REQUIRED,
    MAX_GUILDS_PER_SHARD,
    UNSHARDED,
    SessionStartLimit,
    Shard,
    recommended_shards,
    requested_shard,
)
from bot.emulator.state import Guild


@dataclass
class GatewaySession:
    id: str
    intents: int
    shard: Shard = UNSHARDED
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    last_heartbeat_seq: int = -1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Gateway(EmulatorCore):
    def __init__(
        self,
        *,
        heartbeat_interval_ms: int,
        max_concurrency: int = 1,
        max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD,
        **shared: Any,
    ) -> None:
        super().__init__(**shared)  # cooperative: the other options belong to the classes after this one in the MRO
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.session_start_limit = SessionStartLimit(max_concurrency=max_concurrency)
        self.max_guilds_per_shard = max_guilds_per_shard
        self.too_fast_identifies = 0  # IDENTIFYs answered with op 9 for breaking max_concurrency
        self.sessions: dict[str, GatewaySession] = {}
        self.gateway_connections: list[str] = []  # the path of every websocket connection, in order
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self.ack_heartbeats = True
        self._identify_gate: asyncio.Event | None = None  # set by hold_identify: IDENTIFYs wait for release_identify
        self._sockets: set[web.WebSocketResponse] = set()

    async def close_connections(self) -> None:
        self.release_identify()  # a held IDENTIFY would keep its connection open
        for ws in list(self._sockets):
            await ws.close(code=1001)

    def live_sessions(self) -> list[GatewaySession]:
        return [session for session in self.sessions.values() if session.ws is not None and not session.ws.closed]

    def _gateway_routes(self) -> list[Route]:
        return [("GET", "/gateway", self._get_gateway), ("GET", "/gateway/bot", self._get_gateway_bot)]

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def _get_gateway(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, request: web.Request, body: Any) -> tuple[int, Any]:
        joined = sum(1 for guild in self.guilds.values() if self.bot_user.id in guild.members)
        return 200, {
            "url": self.gateway_url,
            "shards": recommended_shards(joined, self.max_guilds_per_shard),
            "session_start_limit": self.session_start_limit.payload(self.now()),
        }

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None, intent: int | None = None
    ) -> None:
        """Send a dispatch to every session of the shard that carries `guild_id` (None: shard 0, as direct messages
        go), buffered for replay when its connection is down."""
        for session in list(self.sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            if not session.shard.carries(guild_id):
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
        shard = requested_shard(data)
        counts = {session.shard.count for session in self.live_sessions()}
        if isinstance(shard, Shard) and counts - {shard.count}:
            shard = f"Invalid shard: shard_count {shard.count} differs from the live sessions' {min(counts)}"
        if isinstance(shard, str):
            await ws.close(code=CLOSE_INVALID_SHARD, message=shard.encode())
            return None
        if len(self._guilds_on(shard)) >= self.max_guilds_per_shard:
            await ws.close(code=CLOSE_SHARDING_REQUIRED, message=b"Sharding required.")
            return None
        if self.session_start_limit.too_fast(shard.id, self.now()):
            self.too_fast_identifies += 1  # Discord: max_concurrency IDENTIFYs per 5 s, one per bucket
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        self.session_start_limit.count_identify(shard.id, self.now())
        if self._identify_gate is not None:
            self._notify()
            await self._identify_gate.wait()  # the client is between sessions until released
        session = GatewaySession(uuid.uuid4().hex, int(data.get("intents", 0)), shard)
        self.sessions[session.id] = session
        guilds = self._guilds_on(shard)
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
        if "shard" in data:
            ready["shard"] = [shard.id, shard.count]
        async with session.lock:
            session.ws = ws
            await self._send_dispatch(session, "READY", ready)
            for guild in guilds:
                if session.intents & INTENT_GUILDS:
                    await self._send_dispatch(session, "GUILD_CREATE", guild.payload())
        return session

    def _guilds_on(self, shard: Shard) -> list[Guild]:
        return [g for g in self.guilds.values() if self.bot_user.id in g.members and shard.carries(g.id)]

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
