"""Request validation: every body the bot sends (POST, PUT, PATCH) is checked against Discord's documented limits
(limits.py) and its OpenAPI spec (spec.py); what breaks them is a `Violation`, answered 400/50035 as Discord
answers and kept so a test harness can fail the test that caused it."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.emulator import limits
from bot.emulator.limits import Problem
from bot.emulator.protocol import ApiError, RecordedRequest
from bot.emulator.spec import SpecValidator


@dataclass
class Violation:
    request: RecordedRequest
    problems: list[Problem]

    def __str__(self) -> str:
        details = "; ".join(f"{'.'.join(map(str, p.path)) or '<body>'}: {p.code} {p.message}" for p in self.problems)
        return f"{self.request.method} {self.request.path} violates Discord's rules: {details}"

    def error(self) -> ApiError:
        """Discord's answer to the request."""
        return ApiError(400, 50035, "Invalid Form Body", limits.errors_object(self.problems))


def find_violation(validator: SpecValidator, request: web.Request, record: RecordedRequest) -> Violation | None:
    """The rules `record`'s body breaks, if any (requests without a body to check break none)."""
    if record.method not in ("POST", "PUT", "PATCH") or record.body is None:
        return None
    route = record.route
    if route.endswith("/commands"):
        problems = limits.check_commands(record.body)
    elif route.endswith("/callback"):
        problems = limits.check_interaction_callback(record.body)
    else:
        problems = limits.check_message(record.body)
    problems = problems + validator.validate(spec_path(route, request), record.method, record.body)
    return Violation(record, problems) if problems else None


def spec_path(route: str, request: web.Request) -> str:
    """The spec's path for a route: literal `@original` and `@me` segments are paths of their own there."""
    if route.startswith("/webhooks/") and request.match_info.get("message_id") == "@original":
        return "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    if route.endswith("/{user_id}") and request.match_info.get("user_id") == "@me":
        return route.replace("{user_id}", "@me")
    return route
