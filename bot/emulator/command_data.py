"""The data of an application command interaction, built as Discord's client builds it from the commands the bot
synced: the command and subcommand path, its default member permissions, every option's type, choices, range and
length, `resolved` users, members, roles and channels, and the focused option of an autocomplete. What the client
would refuse raises `ActionError`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.emulator.permissions import ADMINISTRATOR, permission_names
from bot.emulator.state import Channel, Guild, Role, User

SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10


class ActionError(Exception):
    """A user action Discord's client would not allow (unknown command or option, bad value, no such button)."""


class CommandDataBuilder:
    """Builds the `data` of `/command` for `user` in `channel` of `guild`; `member` and `channel_named` find what an
    option names ("bob", "#general") and raise ActionError for what the server lacks."""

    def __init__(
        self,
        guild: Guild,
        *,
        bot_user_id: int,
        member: Callable[[str], User],
        channel_named: Callable[[str], Channel],
        in_server: bool = True,
    ) -> None:
        self.guild = guild
        self.in_server = in_server  # False in direct messages: no server permissions apply
        self.bot_user_id = bot_user_id
        self.member = member
        self.channel_named = channel_named

    def build(
        self,
        synced_commands: list[dict[str, Any]],
        command: str,
        user: User,
        channel: Channel,
        values: dict[str, Any],
        *,
        focused: str | None,
    ) -> dict[str, Any]:
        words = command.strip().removeprefix("/").split()
        if not words:
            raise ActionError("Which command?")
        synced = [c for c in synced_commands if c.get("type", 1) == 1]
        top = next((c for c in synced if c["name"] == words[0]), None)
        if top is None:
            raise ActionError(
                f"/{words[0]} is not a command; the bot synced: {sorted('/' + c['name'] for c in synced)}"
            )
        self._check_default_permissions(top, user, channel)
        chain: list[dict[str, Any]] = []
        node = top
        for word in words[1:]:
            sub = next((o for o in node.get("options") or [] if o["name"] == word and o["type"] in (1, 2)), None)
            if sub is None:
                raise ActionError(f"/{' '.join(words)}: {word!r} is not a subcommand of /{node['name']}")
            chain.append(sub)
            node = sub
        subs = [o["name"] for o in node.get("options") or [] if o["type"] in (SUBCOMMAND, SUBCOMMAND_GROUP)]
        if subs:
            raise ActionError(f"/{' '.join(words)} needs a subcommand: {', '.join(subs)}")
        resolved: dict[str, dict[str, Any]] = {}
        built = self._options(node=node, values=values, user=user, channel=channel, resolved=resolved, focused=focused)
        for sub in reversed(chain):
            built = [{"type": sub["type"], "name": sub["name"], "options": built}]
        data: dict[str, Any] = {"id": top["id"], "name": top["name"], "type": 1, "options": built}
        if resolved:
            data["resolved"] = resolved
        if top.get("guild_id"):
            data["guild_id"] = top["guild_id"]
        return data

    def _check_default_permissions(self, command: dict[str, Any], user: User, channel: Channel) -> None:
        required = command.get("default_member_permissions")
        if required is None or not self.in_server:
            return
        have = self.guild.permissions_in(channel, user.id)
        if not have & ADMINISTRATOR and have & int(required) != int(required):
            lacking = permission_names(int(required) & ~have)
            raise ActionError(
                f"{user} cannot see /{command['name']}: it needs the {' and '.join(lacking)} permission"
                + ("s" if len(lacking) > 1 else "")
            )

    def _options(
        self,
        *,
        node: dict[str, Any],
        values: dict[str, Any],
        user: User,
        channel: Channel,
        resolved: dict[str, dict[str, Any]],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        defined = {option["name"]: option for option in node.get("options") or []}
        unknown = set(values) - set(defined)
        if unknown:
            raise ActionError(f"/{node['name']} has no option {sorted(unknown)}; it has {sorted(defined)}")
        built = []
        for name, option in defined.items():
            if name not in values:
                if option.get("required") and focused is None:
                    raise ActionError(f"/{node['name']} needs the option {name!r}")
                continue
            if name == focused:
                if not option.get("autocomplete"):
                    raise ActionError(f"The option {name!r} of /{node['name']} has no autocomplete")
                built.append({"type": option["type"], "name": name, "value": str(values[name]), "focused": True})
                continue
            value = self._value(option, values[name], resolved, channel)
            built.append({"type": option["type"], "name": name, "value": value})
        return built

    def _value(self, option: dict[str, Any], raw: Any, resolved: dict[str, dict[str, Any]], here: Channel) -> Any:
        kind, name = option["type"], option["name"]
        choices = option.get("choices")
        if choices and isinstance(raw, str):
            # A choice may be given by its name, as members pick it in Discord ("friday" for Friday = 4), any case.
            by_name = {str(choice["name"]).casefold(): choice["value"] for choice in choices}
            values = {str(choice["value"]) for choice in choices}
            if raw.strip().casefold() in by_name and raw not in values:
                raw = by_name[raw.strip().casefold()]
            elif raw not in values:
                names = ", ".join(str(choice["name"]) for choice in choices)
                raise ActionError(f"{raw!r} is not a choice of {name!r}: {names}")
        try:
            if kind == STRING:
                value: Any = str(raw)
            elif kind == INTEGER:
                value = int(raw)
            elif kind == NUMBER:
                value = float(raw)
            elif kind == BOOLEAN:
                value = raw if isinstance(raw, bool) else str(raw).lower() in ("true", "yes", "1", "on")
            elif kind in (USER, MENTIONABLE) and not isinstance(raw, Role):
                member = raw if isinstance(raw, User) else self.member(str(raw).removeprefix("@"))
                return self._resolve_user(member, resolved)
            elif kind in (ROLE, MENTIONABLE):
                role = raw if isinstance(raw, Role) else self.guild.role_named(str(raw))
                resolved.setdefault("roles", {})[str(role.id)] = role.payload()
                return str(role.id)
            elif kind == CHANNEL:
                target = raw if isinstance(raw, Channel) else self.channel_named(str(raw))
                allowed = option.get("channel_types")
                if allowed and target.type not in allowed:
                    raise ActionError(f"#{target.name} is not a channel type {name!r} accepts ({allowed})")
                payload = target.payload()
                payload["permissions"] = str(self.guild.permissions_in(target, self.bot_user_id))
                resolved.setdefault("channels", {})[str(target.id)] = payload
                return str(target.id)
            else:
                raise ActionError(f"Option type {kind} of {name!r} is not supported by the emulator")
        except (TypeError, ValueError) as exc:
            raise ActionError(f"{raw!r} is not a valid value for {name!r}: {exc}") from None
        choices = option.get("choices")
        if choices:
            by_name = {choice["name"]: choice["value"] for choice in choices}
            if value in by_name and value not in by_name.values():
                value = by_name[value]
            if value not in by_name.values():
                raise ActionError(f"{raw!r} is not a choice of {name!r}: {sorted(map(str, by_name))}")
        if kind in (INTEGER, NUMBER):
            low, high = option.get("min_value"), option.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ActionError(f"{name!r} must be between {low} and {high}")
        if kind == STRING:
            low, high = option.get("min_length", 0), option.get("max_length", 6000)
            if not low <= len(value) <= high:
                raise ActionError(f"{name!r} must be {low}-{high} characters long")
        return value

    def _resolve_user(self, user: User, resolved: dict[str, dict[str, Any]]) -> str:
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = self.guild.members.get(user.id)
        if member is not None:
            payload = member.payload()
            payload.pop("user")
            payload["permissions"] = str(self.guild.base_permissions(user.id))
            resolved.setdefault("members", {})[str(user.id)] = payload
        return str(user.id)
