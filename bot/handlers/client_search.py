"""(being written)"""

from bot.handlers.registry import Handlers

handlers = Handlers("client_search")
