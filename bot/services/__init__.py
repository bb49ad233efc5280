"""Business rules. Services take a database session and the acting user, check access, own the
commit, and never import aiogram: the bot, the CLI and scheduler jobs all call them the same way.
"""
