"""A protocol-level stand-in for Discord's API v10: REST routes and the gateway websocket, on 127.0.0.1.

The real, unmodified discord.py client connects to it (see bot.app.core.use_discord_endpoints). Every REST request is
recorded and its body validated (OpenAPI spec + documented limits); violations answer 400/50035 and are kept in
`violations` so a test harness can fail the test that caused them. See docs/emulator.md.

This module wires the parts into `DiscordEmulator`: the aiohttp app, start and stop, and the path every REST request
takes (record, injected faults, rate limits, authorisation, validation, the route's handler). The parts: core.py (the
shared world), gateway.py, the routes_*.py modules, validation.py and faults.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.emulator.faults import Fault, FaultInjection, server_error
from bot.emulator.protocol import API_PREFIX, ApiError, Handler, RecordedRequest, Route, json_response, read_body
from bot.emulator.ratelimits import RateLimiter
from bot.emulator.routes_application import ApplicationRoutes
from bot.emulator.routes_guilds import GuildRoutes
from bot.emulator.routes_interactions import InteractionRoutes
from bot.emulator.routes_messages import MessageRoutes
from bot.emulator.routes_reactions import ReactionRoutes
from bot.emulator.sharding import MAX_GUILDS_PER_SHARD
from bot.emulator.spec import DEFAULT_SPEC_PATH, SpecValidator
from bot.emulator.validation import Violation, find_violation

log = logging.getLogger(__name__)


class DiscordEmulator(InteractionRoutes, MessageRoutes, ReactionRoutes, GuildRoutes, ApplicationRoutes, FaultInjection):
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
        max_concurrency: int = 1,
        max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD,
    ) -> None:
        super().__init__(
            token=token,
            bot_name=bot_name,
            heartbeat_interval_ms=heartbeat_interval_ms,
            max_concurrency=max_concurrency,
            max_guilds_per_shard=max_guilds_per_shard,
        )
        # Discord's global and per-route limits (bot/emulator/ratelimits.py); off only for a test that needs it off.
        self.rate_limiter: RateLimiter | None = RateLimiter() if rate_limits else None
        self.validator = SpecValidator(spec_path, required=require_spec)
        self.violations: list[Violation] = []
        self.unhandled: list[RecordedRequest] = []
        self.rule_breaks: list[RecordedRequest] = []  # 10062 / 40060 / 50027: interaction rules the bot broke
        self.rate_limited: list[RecordedRequest] = []  # 429s the bot provoked (not injected ones): Discord counts them
        self._runner: web.AppRunner | None = None

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
        await self.close_connections()
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

    # ----------------------------------------------------------------------------------------------- REST plumbing
    def _routes(self) -> list[Route]:
        return [
            *self._application_routes(),
            *self._gateway_routes(),
            *self._interaction_routes(),
            *self._message_routes(),
            *self._reaction_routes(),
            *self._guild_routes(),
        ]

    def _endpoint(self, method: str, route: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            record = await _record(request, route)
            self.requests.append(record)
            try:
                response = await self._serve(request, record, handler)
            finally:
                self._notify()
            return response

        return endpoint

    async def _serve(self, request: web.Request, record: RecordedRequest, handler: Handler) -> web.Response:
        injected, lost_reply = await self._inject_faults(record)
        if injected is not None:
            return injected
        limit_headers: dict[str, str] = {}
        if self.rate_limiter is not None:
            verdict = self.rate_limiter.check(record.method, record.route, dict(request.match_info))
            if not verdict.allowed:
                record.status = 429
                self.rate_limited.append(record)
                log.warning("Rate limited (%s): %s %s", "global" if verdict.is_global else "route", record.method,
                            record.path)  # fmt: skip
                return json_response(verdict.body, 429, verdict.headers)
            limit_headers = verdict.headers
        response = await self._handle(request, record, handler, lost_reply)
        response.headers.update(limit_headers)
        return response

    async def _handle(
        self, request: web.Request, record: RecordedRequest, handler: Handler, lost_reply: Fault | None
    ) -> web.Response:
        try:
            self._check_auth(request, record)
            violation = find_violation(self.validator, request, record)
            if violation is not None:
                self.violations.append(violation)
                log.warning("%s", violation)
                raise violation.error()
            status, payload = await handler(request, record.body)
        except ApiError as error:
            record.status, record.error_code = error.status, error.code
            if error.code in (10062, 40060, 50027):
                self.rule_breaks.append(record)
            return json_response(error.body(), error.status)
        if lost_reply is not None:
            return server_error(record, lost_reply)
        record.status = status
        if status == 204:
            return web.Response(status=204)
        return json_response(payload, status)

    def _check_auth(self, request: web.Request, record: RecordedRequest) -> None:
        if record.route.startswith(("/interactions/", "/webhooks/")):
            return  # authorised by the interaction token in the path
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bot ") or (self.token is not None and header != f"Bot {self.token}"):
            raise ApiError(401, 0, "401: Unauthorized")

    async def _unknown_route(self, request: web.Request) -> web.Response:
        record = await _record(request)
        record.status, record.error_code = 404, 0
        self.requests.append(record)
        self.unhandled.append(record)
        log.warning("Unhandled route: %s %s", record.method, record.path)
        self._notify()
        return json_response({"message": "404: Not Found (the emulator does not implement this route)", "code": 0}, 404)


async def _record(request: web.Request, route: str = "") -> RecordedRequest:
    """The record of a request as it arrived (its path after API_PREFIX as sent, without the query string)."""
    received_at = time.perf_counter()
    path = request.raw_path.split("?", 1)[0].removeprefix(API_PREFIX)
    body = await read_body(request)
    return RecordedRequest(request.method, path, body, dict(request.query), route, received_at=received_at)
