"""The Discord emulator itself, driven by the real discord.py client (ShowBot with a test-only cog)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bot.emulator import APPLICATION_COMMAND, ActionError, DiscordDriver, DiscordEmulator, limits
from bot.emulator.permissions import ADD_REACTIONS, EMBED_LINKS, SEND_MESSAGES
from bot.emulator.spec import SpecMissingError, SpecValidator
from bot.emulator.state import snowflake

pytestmark = pytest.mark.e2e
SAMPLE = ["e2e_sample_cog"]
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
CHANNEL_MESSAGES = "/channels/{channel_id}/messages"


@pytest.fixture
async def sample(make_bot: Any) -> Any:
    return await make_bot(extensions=SAMPLE)


def cog(bot: Any) -> Any:
    return bot.get_cog("Sample")


async def test_handshake_login_ready_and_guild_create(sample: Any, emulator: DiscordEmulator, demo: Any) -> None:
    assert [(r.method, r.route) for r in emulator.requests[:2]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]
    assert emulator.identify_count == 1
    assert emulator.gateway_connections == ["/gateway"]
    guild = sample.get_guild(demo.guild.id)
    assert guild is not None and guild.name == "Showbot Demo"
    assert {channel.name for channel in guild.text_channels} == {"general", "watch-party", "announcements"}
    me = guild.me
    assert me is not None
    permissions = guild.get_channel(demo.general.id).permissions_for(me)
    assert permissions.send_messages and permissions.embed_links and not permissions.manage_messages


async def test_heartbeats_are_sent_and_acknowledged(emulator: DiscordEmulator, make_bot: Any) -> None:
    emulator.heartbeat_interval_ms = 30
    bot = await make_bot(extensions=SAMPLE)
    await emulator.wait_for(lambda: emulator.heartbeats >= 4, what="four heartbeats")
    assert bot.latency < 1.0


async def test_missing_heartbeat_acks_make_the_client_reconnect_and_resume(
    emulator: DiscordEmulator, make_bot: Any, driver: DiscordDriver
) -> None:
    emulator.heartbeat_interval_ms = 30
    await make_bot(extensions=SAMPLE, heartbeat_timeout=0.2)
    emulator.ack_heartbeats = False
    await emulator.wait_for(lambda: emulator.resume_count >= 1, what="a resume")
    emulator.ack_heartbeats = True
    assert (await driver.slash("ping")).content == "pong"


async def test_resume_replays_what_was_dispatched_while_disconnected(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver, bob: Any
) -> None:
    await driver.slash("post", channel="#watch-party")
    message = driver.last_message("watch-party")
    await emulator.disconnect_gateway()
    await emulator.add_reaction(message, {"id": None, "name": "🎬"}, bob)  # buffered: the client is away
    await emulator.wait_for(lambda: emulator.resume_count == 1, what="a resume")
    await driver.settle()
    assert ("add", bob.id, message.id) in cog(sample).reactions
    assert emulator.gateway_connections == ["/gateway", "/resume"]
    assert emulator.identify_count == 1


async def test_invalid_session_makes_the_client_identify_again(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver
) -> None:
    await emulator.invalidate_session()
    # discord.py waits 5 s before identifying again (Client.before_identify_hook), as Discord asks.
    await emulator.wait_for(lambda: emulator.identify_count == 2, timeout=10, what="a second IDENTIFY")
    await emulator.wait_for(sample.is_ready, what="ready again")
    assert emulator.gateway_connections[-1] == "/gateway"
    assert (await driver.slash("ping")).content == "pong"


async def test_reconnect_request_resumes(sample: Any, emulator: DiscordEmulator, driver: DiscordDriver) -> None:
    await emulator.request_reconnect()
    await emulator.wait_for(lambda: emulator.resume_count == 1, what="a resume")
    assert (await driver.slash("ping")).content == "pong"


async def test_a_429_is_waited_out_by_discord_py(sample: Any, emulator: DiscordEmulator, driver: DiscordDriver) -> None:
    emulator.fail_with_429("POST", CALLBACK, retry_after=0.05)
    emulator.fail_with_429("POST", CHANNEL_MESSAGES, retry_after=0.05)
    reply = await driver.slash("post", channel="#watch-party")
    assert reply.content.startswith("Posted in")
    statuses = [(r.route, r.status) for r in emulator.requests if r.route in (CALLBACK, CHANNEL_MESSAGES)]
    assert statuses == [(CHANNEL_MESSAGES, 429), (CHANNEL_MESSAGES, 200), (CALLBACK, 429), (CALLBACK, 200)]


async def test_a_5xx_is_retried(sample: Any, emulator: DiscordEmulator, driver: DiscordDriver) -> None:
    emulator.fail_with_5xx("POST", CHANNEL_MESSAGES, status=502)
    await driver.slash("post", channel="#general")
    assert [r.status for r in emulator.requests if r.route == CHANNEL_MESSAGES] == [502, 200]
    assert [m.content for m in driver.messages("general")] == ["Vote here"]


async def test_a_slow_route_delays_without_failing(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver
) -> None:
    emulator.slow_route("POST", CALLBACK, 0.2, times=1)
    assert (await driver.slash("ping")).content == "pong"


def test_faults_name_real_routes(emulator: DiscordEmulator) -> None:
    with pytest.raises(ValueError, match="no route"):
        emulator.fail_with_429("POST", "/channels/{channel_id}/typo")


async def test_the_validator_bites_an_oversized_embed(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver
) -> None:
    reply = await driver.slash("big")
    assert len(emulator.violations) == 1
    violation = emulator.violations[0]
    assert violation.request.status == 400 and violation.request.error_code == 50035
    assert ("data", "embeds", 0, "title") in [problem.path for problem in violation.problems]
    assert len(violation.request.body["data"]["embeds"][0]["title"]) == 300  # recorded exactly as sent
    # The bot's error handler answered instead (the failed callback did not count as an acknowledgement).
    assert reply.ephemeral and "went wrong" in reply.content
    emulator.violations.clear()


def test_the_spec_ships_with_the_emulator_unchanged_with_its_licence() -> None:
    import hashlib

    from bot.emulator.spec import DEFAULT_SPEC_PATH, SPEC_DIR, read_spec_bytes

    source = (SPEC_DIR / "SOURCE.txt").read_text(encoding="utf-8")
    assert hashlib.sha256(read_spec_bytes(DEFAULT_SPEC_PATH)).hexdigest() in source
    assert "74fda0fad044407ea280043a03ffc9bc64c4e49e" in source
    assert (SPEC_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert DEFAULT_SPEC_PATH.stat().st_size < 100_000  # compressed: 1.2 MB of JSON would weigh on every clone


async def test_the_spec_is_used_always(emulator: DiscordEmulator) -> None:
    assert emulator.validator.available, emulator.validator.reason  # shipped: no checkout or install lacks it
    problems = emulator.validator.validate(
        "/channels/{channel_id}/messages", "post", {"content": "x", "embeds": [{"color": -1}]}
    )
    assert [problem.path for problem in problems] == [("embeds", 0, "color")]


def test_spec_missing_is_an_error_only_when_required(tmp_path: Any) -> None:
    with pytest.raises(SpecMissingError):
        SpecValidator(tmp_path / "absent.json", required=True)
    assert SpecValidator(tmp_path / "absent.json", required=False).available is False


async def test_limits_apply_without_the_spec(tmp_path: Any) -> None:
    async with DiscordEmulator(spec_path=tmp_path / "absent.json", require_spec=False) as emulator:
        demo_guild = emulator.create_guild("g", emulator.create_user("o"))
        channel = emulator.create_channel(demo_guild, "general")
        async with aiohttp.ClientSession(headers={"Authorization": "Bot x"}) as http:
            url = f"{emulator.api_base_url}/channels/{channel.id}/messages"
            async with http.post(url, json={"content": "x" * 2001}) as response:
                assert response.status == 400
                assert response.headers["Content-Type"] == "application/json"
                body = await response.json()
        assert body["code"] == 50035 and "content" in body["errors"]
        assert len(emulator.violations) == 1


async def test_the_three_second_rule(sample: Any, emulator: DiscordEmulator, driver: DiscordDriver, alice: Any) -> None:
    data = driver._command_data("gated", alice, driver.default_channel, {}, focused=None)
    record, payload = emulator.new_interaction(APPLICATION_COMMAND, alice, driver.default_channel, data)
    await emulator.dispatch_interaction(record, payload)
    await asyncio.wait_for(cog(sample).started.wait(), 5)
    emulator.advance_time(3.5)
    cog(sample).gate.set()
    await driver.settle()
    assert sample.extras_seen == ["10062"]
    assert [r.error_code for r in emulator.rule_breaks] == [10062]
    emulator.rule_breaks.clear()


async def test_callback_latency_runs_from_dispatch_to_the_callback(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver, alice: Any
) -> None:
    data = driver._command_data("gated", alice, driver.default_channel, {}, focused=None)
    record, payload = emulator.new_interaction(APPLICATION_COMMAND, alice, driver.default_channel, data)
    assert record.callback_latency is None
    await emulator.dispatch_interaction(record, payload)
    await asyncio.wait_for(cog(sample).started.wait(), 5)
    await asyncio.sleep(0.05)  # real time passes between the dispatch and the answer; advance_time would not count
    cog(sample).gate.set()
    await driver.settle()
    (callback,) = [r for r in record.requests if r.route == CALLBACK]
    assert callback.received_at > record.dispatched_at > 0
    assert record.callback_latency == callback.received_at - record.dispatched_at
    assert 0.05 <= record.callback_latency < 2
    reply = await driver.slash("ping")
    assert reply.record.callback_latency is not None and 0 < reply.record.callback_latency < 1


async def test_acknowledging_twice_is_40060(sample: Any, emulator: DiscordEmulator, driver: DiscordDriver) -> None:
    reply = await driver.slash("twice")
    assert reply.content == "one"
    assert sample.extras_seen == ["40060"]
    emulator.rule_breaks.clear()


async def test_interaction_tokens_expire_after_15_minutes(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver
) -> None:
    reply = await driver.slash("ping")
    url = f"{emulator.api_base_url}/webhooks/{emulator.application_id}/{reply.record.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"content": "in time"}) as response:
            assert response.status == 204
        emulator.advance_time(15 * 60 + 1)
        async with http.post(url, json={"content": "too late"}) as response:
            assert response.status == 401
            assert (await response.json())["code"] == 50027
    assert [m.content for m in reply.record.followups] == ["in time"]
    emulator.rule_breaks.clear()


async def test_deferral_then_followups(sample: Any, driver: DiscordDriver) -> None:
    reply = await driver.slash("slow")
    assert reply.deferred
    assert reply.content == "done thinking"  # the first followup replaced the "thinking" message
    assert [message.content for message in reply.followups] == ["and one more"]


async def test_posting_without_send_messages_or_embed_links_is_403(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver, demo: Any
) -> None:
    bot_role = demo.guild.role_named("Showbot")
    await emulator.set_overwrite(demo.channels["announcements"], bot_role, deny=SEND_MESSAGES)
    reply = await driver.slash("post", channel="#announcements")
    assert reply.ephemeral and "(50013)" in reply.content
    await emulator.set_overwrite(demo.channels["watch-party"], bot_role, deny=EMBED_LINKS)
    reply = await driver.slash("post", channel="#watch-party")
    assert "(50013)" in reply.content
    assert driver.messages("announcements") == [] and driver.messages("watch-party") == []


async def test_reacting_without_add_reactions_is_403(emulator: DiscordEmulator, demo: Any) -> None:
    channel = demo.general
    await emulator.set_overwrite(channel, demo.guild.role_named("Showbot"), deny=ADD_REACTIONS)
    message = await _post(emulator, channel.id, {"content": "react to me"})
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {emulator.token}"}) as http:
        url = f"{emulator.api_base_url}/channels/{channel.id}/messages/{message['id']}/reactions/%F0%9F%91%8D/@me"
        async with http.put(url) as response:
            assert response.status == 403
            assert (await response.json())["code"] == 50013


async def _post(emulator: DiscordEmulator, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{emulator.api_base_url}/channels/{channel_id}/messages"
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with aiohttp.ClientSession(headers=headers) as http, http.post(url, json=body) as response:
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result


async def test_reaction_users_are_paginated(sample: Any, emulator: DiscordEmulator, demo: Any) -> None:
    posted = await _post(emulator, demo.general.id, {"content": "popular"})
    message = demo.general.messages[int(posted["id"])]
    fans = [emulator.create_user(f"fan{index}") for index in range(150)]
    for fan in fans:
        emulator.add_member(demo.guild, fan)
        await emulator.add_reaction(message, {"id": None, "name": "👍"}, fan)
    channel = sample.get_channel(demo.general.id)
    fetched = await channel.fetch_message(message.id)
    users = [user async for user in fetched.reactions[0].users()]
    assert sorted(user.id for user in users) == sorted(fan.id for fan in fans)
    pages = [r.query for r in emulator.requests if r.route.endswith("/reactions/{emoji_name}")]
    assert [page["limit"] for page in pages] == ["100", "50"]
    assert "after" in pages[1]


async def test_reactions_click_and_select(
    sample: Any, emulator: DiscordEmulator, driver: DiscordDriver, bob: Any, carol: Any
) -> None:
    await driver.slash("post", channel="#watch-party")
    message = driver.last_message("watch-party")
    assert message.reaction_counts() == {"👍": 1}  # the bot's own
    await driver.react(message, "👍", user=bob)
    await driver.unreact(message, "👍", user=bob)
    assert cog(sample).reactions[-2:] == [("add", bob.id, message.id), ("remove", bob.id, message.id)]
    reply = await driver.click(message, "Yes", user=carol)
    assert reply.type == 7 and message.content == "carol said yes"
    info = await driver.click(message, "sample:info")
    assert info.ephemeral and info.content == "Just a sample"
    picked = await driver.select(message, "sample:pick", ["tuesday"])
    assert picked.content == "picked tuesday"
    with pytest.raises(ActionError):
        await driver.click(message, "No such button")


async def test_subcommands_choices_autocomplete_and_default_permissions(sample: Any, driver: DiscordDriver) -> None:
    choices = await driver.autocomplete("weekly set", "timezone", "eur", user="owner")
    assert [choice["value"] for choice in choices] == ["Europe/London", "Europe/Paris"]
    reply = await driver.slash(
        "weekly set", user="owner", channel="#watch-party", day="Friday", time="18:00", timezone="Europe/London"
    )
    assert reply.ephemeral
    assert reply.content.endswith("on friday at 18:00 Europe/London")
    with pytest.raises(ActionError, match="cannot see"):
        await driver.slash("weekly set", user="alice", channel="#general", day="friday", time="18:00")
    with pytest.raises(ActionError, match="not a choice"):
        await driver.slash("weekly set", user="owner", channel="#general", day="someday", time="18:00")
    with pytest.raises(ActionError, match="no option"):
        await driver.slash("ping", loud=True)
    with pytest.raises(ActionError, match="between 1 and 3"):
        await driver.slash("echo", text="hi", times=4)


async def test_user_facing_errors_are_ephemeral(sample: Any, driver: DiscordDriver) -> None:
    reply = await driver.slash("oops")
    assert reply.ephemeral and reply.content == "That did not work."


async def test_unknown_routes_are_recorded(emulator: DiscordEmulator) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{emulator.api_base_url}/voice/regions") as response:
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json"
    assert [(r.method, r.path) for r in emulator.unhandled] == [("GET", "/voice/regions")]
    emulator.unhandled.clear()


def test_documented_limits_the_spec_misses() -> None:
    field = {"name": "n" * 256, "value": "v" * 1024}
    embeds = [{"title": "t", "fields": [field] * 5}]  # 6,405 characters in total
    assert [p.code for p in limits.check_embeds(embeds, ("embeds",))] == ["MAX_EMBED_SIZE_EXCEEDED"]
    assert limits.check_embeds([{"title": "t", "colour": 3}], ("embeds",))[0].code == "UNKNOWN_FIELD"
    button = {"type": 2, "style": 1, "label": "b", "custom_id": "x"}
    six_rows = [
        {"type": 1, "components": [{**button, "custom_id": f"{row}-{i}"} for i in range(5)]} for row in range(6)
    ]
    assert limits.check_components(six_rows, ("components",))[0].code == "BASE_TYPE_MAX_LENGTH"
    wide = [{"type": 1, "components": [{**button, "custom_id": str(i)} for i in range(6)]}]
    assert limits.check_components(wide, ("c",))[0].code == "COMPONENT_LAYOUT_WIDTH_EXCEEDED"
    assert limits.check_components([{"type": 1, "components": [{**button, "custom_id": "x" * 101}]}], ("c",))
    assert limits.check_choices([{"name": "n", "value": "v" * 101}], ("choices",))
    assert limits.check_message({"content": "x" * 2001})
    assert not limits.check_message({"content": "x" * 2000})
    assert limits.valid_command_name("show") and limits.valid_command_name("série")
    assert not limits.valid_command_name("Show") and not limits.valid_command_name("two words")
    assert not limits.valid_command_name("x" * 33)
    command = {"name": "c", "description": "d", "type": 1,
               "options": [{"name": "a", "description": "d", "type": 3}, {"name": "b", "description": "d", "type": 3,
                            "required": True}]}  # fmt: skip
    assert limits.check_commands([command])[0].code == "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"


def test_snowflakes_are_unique_and_ordered() -> None:
    ids = [snowflake() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000
