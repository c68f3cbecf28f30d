"""The wire vocabulary every part of the emulator shares: the API prefix and deadlines, gateway intents, interaction
and callback types, the error a route answers (`ApiError`), the records a test inspects (`RecordedRequest`,
`InteractionRecord`), and reading and writing HTTP bodies the way Discord does."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.emulator.state import Channel, Guild, Message, User

API_PREFIX = "/api/v10"
FIRST_RESPONSE_SECONDS = 3.0
TOKEN_LIFETIME_SECONDS = 15 * 60

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
class InteractionRecord:
    """One interaction the emulator dispatched, and everything the bot did about it."""

    id: int
    token: str
    type: int
    user: User
    channel: Channel
    guild: Guild | None  # None in direct messages
    data: dict[str, Any]
    created_at: float
    message: Message | None = None  # the message a component belongs to
    context: int = 0  # 0 a server, 1 direct messages with the bot, 2 other direct or group messages
    owners: dict[str, str] = field(default_factory=dict)  # authorizing_integration_owners
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


Handler = Callable[[web.Request, Any], Awaitable[tuple[int, Any]]]
Route = tuple[str, str, Handler]  # method, route template (after API_PREFIX), handler


async def read_body(request: web.Request) -> Any:
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


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json" (bytes, so aiohttp adds no charset): discord.py parses JSON only then.
    body = json.dumps(payload).encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)
