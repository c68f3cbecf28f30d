"""A test-only cog exercising what the emulator must support: replies, deferrals, subcommands, choices,
autocomplete, buttons, select menus, reactions, channel messages. Loaded with ShowBot(extensions=["e2e_sample_cog"])."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.core import ShowBot
from bot.common.errors import UserFacingError

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "Asia/Tokyo"]


class VoteView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Yes", custom_id="sample:yes", style=discord.ButtonStyle.success)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[VoteView]) -> None:
        await interaction.response.edit_message(content=f"{interaction.user.name} said yes")

    @discord.ui.button(label="Info", custom_id="sample:info")
    async def info(self, interaction: discord.Interaction, button: discord.ui.Button[VoteView]) -> None:
        await interaction.response.send_message("Just a sample", ephemeral=True)

    @discord.ui.select(custom_id="sample:pick", options=[discord.SelectOption(label=d, value=d) for d in DAYS[:3]])
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[VoteView]) -> None:
        await interaction.response.send_message(f"picked {','.join(select.values)}", ephemeral=True)


class Sample(commands.Cog):
    weekly = app_commands.Group(
        name="weekly", description="Weekly posts", default_permissions=discord.Permissions(manage_guild=True)
    )

    def __init__(self, bot: ShowBot) -> None:
        self.bot = bot
        self.reactions: list[tuple[str, int, int]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.token_holder: list[discord.Interaction] = []

    async def cog_load(self) -> None:
        self.bot.add_view(VoteView())

    @app_commands.command(description="Answer pong")
    async def ping(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @app_commands.command(description="Repeat text privately")
    @app_commands.describe(text="What to repeat")
    async def echo(self, interaction: discord.Interaction, text: str, times: app_commands.Range[int, 1, 3] = 1) -> None:
        await interaction.response.send_message(" ".join([text] * times), ephemeral=True)

    @app_commands.command(description="Send an embed that is too big")
    async def big(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=discord.Embed(title="x" * 300, description="too long"))

    @app_commands.command(description="Defer, then answer")
    async def slow(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("done thinking")
        await interaction.followup.send("and one more")

    @app_commands.command(description="Wait for the test's signal before answering")
    async def gated(self, interaction: discord.Interaction) -> None:
        self.token_holder.append(interaction)
        self.started.set()
        await self.gate.wait()
        try:
            await interaction.response.send_message("finally")
        except discord.NotFound:
            self.bot.extras_seen.append("10062")  # type: ignore[attr-defined]

    @app_commands.command(description="Acknowledge twice")
    async def twice(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("one")
        try:
            await interaction.client.http.request(  # deliberately bypass discord.py's own guard
                discord.http.Route(
                    "POST",
                    "/interactions/{interaction_id}/{token}/callback",
                    interaction_id=interaction.id,
                    token=interaction.token,
                ),
                json={"type": 4, "data": {"content": "two"}},
            )
        except discord.HTTPException as exc:
            self.bot.extras_seen.append(str(exc.code))  # type: ignore[attr-defined]

    @app_commands.command(description="Post a vote message in a channel")
    async def post(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        try:
            message = await channel.send("Vote here", view=VoteView(), embed=discord.Embed(title="Vote"))
        except discord.Forbidden as exc:
            raise UserFacingError(f"I cannot post in {channel.mention} ({exc.code})") from None
        await message.add_reaction("👍")
        await interaction.response.send_message(f"Posted in {channel.mention}", ephemeral=True)

    @app_commands.command(description="Fail with a user-facing error")
    async def oops(self, interaction: discord.Interaction) -> None:
        raise UserFacingError("That did not work.")

    @weekly.command(name="set", description="Set the weekly post")
    @app_commands.choices(day=[app_commands.Choice(name=d.title(), value=d) for d in DAYS])
    async def weekly_set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        day: app_commands.Choice[str],
        time: str,
        timezone: str = "UTC",
    ) -> None:
        await interaction.response.send_message(
            f"Weekly post in {channel.mention} on {day.value} at {time} {timezone}", ephemeral=True
        )

    @weekly_set.autocomplete("timezone")
    async def timezone_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in ZONES if current.lower() in z.lower()][:25]

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.reactions.append(("add", payload.user_id, payload.message_id))

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.reactions.append(("remove", payload.user_id, payload.message_id))


async def setup(bot: Any) -> None:
    bot.extras_seen = []
    await bot.add_cog(Sample(bot))
