"""(being written)"""

from bot.handlers.registry import Handlers

handlers = Handlers("tasks")
