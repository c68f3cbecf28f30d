"""Interactions: building and dispatching one (`new_interaction`, `dispatch_interaction`), the callback route with
Discord's rules (one response, within 3 seconds, of a type the interaction allows), and the webhook routes of its
token (followups; get, edit, delete the original or a followup) for 15 minutes."""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from bot.emulator.gateway import Gateway
from bot.emulator.protocol import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    FIRST_RESPONSE_SECONDS,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    TOKEN_LIFETIME_SECONDS,
    UPDATE_MESSAGE,
    ApiError,
    InteractionRecord,
    Route,
)
from bot.emulator.routes_messages import apply_edit
from bot.emulator.state import EPHEMERAL, LOADING, Channel, Message, User, snowflake
from bot.emulator.user_installs import UserInstalls


class InteractionRoutes(Gateway, UserInstalls):
    def _interaction_routes(self) -> list[Route]:
        webhook_message = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
        return [
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self._execute_webhook),
            ("GET", webhook_message, self._get_webhook_message),
            ("PATCH", webhook_message, self._edit_webhook_message),
            ("DELETE", webhook_message, self._delete_webhook_message),
        ]

    # ------------------------------------------------------------------------------- the interactions users start
    def new_interaction(
        self,
        type: int,
        user: User,
        channel: Channel,
        data: dict[str, Any],
        *,
        message: Message | None = None,
        locale: str = "en-US",
    ) -> tuple[InteractionRecord, dict[str, Any]]:
        """An interaction record and its INTERACTION_CREATE payload (dispatch it with `dispatch_interaction`). Where
        it happens (a server or direct messages, and who authorised it) is `interaction_scope`'s (user_installs.py).
        `locale` is the member's client language; `guild_locale` is the server's preferred locale, as on Discord."""
        scope = self.interaction_scope(user, channel, data, message)
        record = InteractionRecord(
            snowflake(),
            secrets.token_urlsafe(48),
            type,
            user,
            channel,
            scope.guild,
            data,
            created_at=self.now(),
            message=message,
            context=scope.context,
            owners=scope.owners,
        )
        payload: dict[str, Any] = {
            "id": str(record.id),
            "application_id": str(self.application_id),
            "type": type,
            "data": data,
            **scope.fields,
            "token": record.token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "authorizing_integration_owners": scope.owners,
            "context": scope.context,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if scope.guild is not None:
            payload["guild_locale"] = scope.guild.preferred_locale
        if message is not None:
            payload["message"] = message.payload(me=self.bot_user.id)
        return record, payload

    async def dispatch_interaction(self, record: InteractionRecord, payload: dict[str, Any]) -> None:
        record.created_at = self.now()
        self.interactions[record.id] = record
        record.dispatched_at = time.perf_counter()
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=record.guild.id if record.guild else None)

    # ------------------------------------------------------------------------------------------- REST routes
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
            message = apply_edit(record.message, data)
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
            record.guild.id if record.guild else None,
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
        self.remember_scope(message, record.context, record.owners)
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
            message = apply_edit(original, {**body, "flags": original.flags & EPHEMERAL})
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
        apply_edit(message, body)
        record.edits += 1
        return 200, message.payload(me=self.bot_user.id)

    async def _delete_webhook_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        record, message = self._webhook_message(request)
        record.channel.messages.pop(message.id, None)
        return 204, None
