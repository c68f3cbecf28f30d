"""REST routes of the bot's application: who the bot is (`/users/@me`, `/oauth2/applications/@me`) and its
application commands, global and per guild (`GET`/`PUT` .../commands, as discord.py's tree sync sends them)."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from bot.emulator.core import EmulatorCore
from bot.emulator.protocol import ApiError, Route
from bot.emulator.state import snowflake
from bot.emulator.user_installs import check_install_fields


class ApplicationRoutes(EmulatorCore):
    def _application_routes(self) -> list[Route]:
        return [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/{application_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/commands", self._put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands),
        ]

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
            "integration_types_config": {"0": {}, "1": {}},  # installable to servers and to members' accounts
        }

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
            check_install_fields(command)
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
