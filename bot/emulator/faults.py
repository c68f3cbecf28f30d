"""Fault injection on REST routes (`FaultInjection`): a test schedules 429s, 5xx answers (optionally after the
request took effect) and slow answers for a method and route template; each request takes the faults that match it.
Gateway faults (dropped connections, invalid sessions) belong to gateway.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.emulator.core import EmulatorCore
from bot.emulator.protocol import RecordedRequest, Route, json_response


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


class FaultInjection(EmulatorCore):
    def __init__(self, **shared: Any) -> None:
        super().__init__(**shared)  # cooperative: the options belong to the classes after this one in the MRO
        self.faults: list[Fault] = []

    def _routes(self) -> list[Route]:
        raise NotImplementedError  # the routes the emulator serves (server.DiscordEmulator)

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

    async def _inject_faults(self, record: RecordedRequest) -> tuple[web.Response | None, Fault | None]:
        """Apply the faults scheduled for `record`: an answer that replaces the route's (a 429 or a 5xx), or none;
        and the 5xx to answer after the route did its work (a reply lost on the way), if one is due."""
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
                return json_response(body, 429, headers), None
            else:
                return server_error(record, fault), None
        return None, lost_reply


def server_error(record: RecordedRequest, fault: Fault) -> web.Response:
    """The answer of an injected 5xx (recorded as `record`'s status)."""
    record.status = fault.status
    return json_response({"message": "Server Error", "code": 0}, fault.status)
