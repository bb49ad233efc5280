"""Webhook mode: with WEBHOOK_URL set, Telegram posts the updates to us instead of our polling
getUpdates, so several instances can serve one bot behind one address (only one process may
poll a token). Give them REDIS_URL too: conversation state and locks are then shared.

Every request must carry the secret Telegram was given with setWebhook (its
X-Telegram-Bot-Api-Secret-Token header): aiogram's SimpleRequestHandler answers 401 to any
other. An update is handled before Telegram gets its 200, so a process that dies mid-handler
gets the update again (with polling, aiogram has confirmed it by then). The webhook is left
set at shutdown: the other instances go on serving it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.config import Settings

log = logging.getLogger(__name__)


async def serve(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    """Listens on WEBHOOK_LISTEN:WEBHOOK_PORT until SIGINT or SIGTERM."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    app = web.Application()
    handler = SimpleRequestHandler(
        dispatcher=dispatcher, bot=bot, secret_token=secret, handle_in_background=False
    )
    handler.register(app, path=urlsplit(settings.webhook_url).path or "/")
    setup_application(app, dispatcher, bot=bot)  # the dispatcher starts and stops with the app
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stopped.set)
    try:
        site = web.TCPSite(runner, settings.webhook_listen, settings.webhook_port)
        await site.start()
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )
        log.info("webhook set; listening on %s:%s", settings.webhook_listen, settings.webhook_port)
        await stopped.wait()
    finally:
        await runner.cleanup()
