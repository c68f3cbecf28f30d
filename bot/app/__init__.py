"""The application: the `ShowBot` core that wires the features together, the runner, the command line, the offline
console, the harness that runs the bot against the emulator, and the UI pieces the cogs share (deferring, private
answers, vote buttons, autocomplete).

May import every package in `bot`; only `cogs` imports it. Import the modules themselves (`from bot.app.core import
ShowBot`).
"""
