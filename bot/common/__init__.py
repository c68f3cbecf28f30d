"""Small pieces every package may use: configuration (one frozen object), the clock, user-facing errors, text
normalisation, file paths, logging, the bot's share of Discord's global rate limit, and the renderer that builds every
embed and message within Discord's limits.

May import: nothing else in `bot`. Import the modules themselves (`from bot.common.render import show_card`).
"""
