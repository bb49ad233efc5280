"""Factories: the program and the tests build the very same Bot and Dispatcher."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods.base import Response
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import render, scheduler
from bot.clock import Clock
from bot.commands import set_default_commands
from bot.config import Settings
from bot.handlers import get_routers
from bot.i18n import UserLocaleMiddleware, create_i18n
from bot.logs import install_redaction
from bot.middlewares.access import AccessMiddleware
from bot.middlewares.db import DbSessionMiddleware, UserMiddleware
from bot.middlewares.errors import ErrorsMiddleware
from bot.middlewares.requests import TelegramRequestMiddleware
from bot.middlewares.throttle import FloodMiddleware, QuotaMiddleware, create_quota_guard
from db.fsm_storage import SQLAlchemyStorage

log = logging.getLogger(__name__)


# pydantic caches generic classes like Response[Message] only weakly, and aiogram builds one
# for every API call: between garbage collections they are rebuilt (~20 ms each), about a
# quarter of the CPU of a simple update (bench/, see the README). Holding the ones we use
# keeps them built.
_RESPONSE_MODELS: list[type] = []


def _pin_response_models() -> None:
    if _RESPONSE_MODELS:
        return
    for method in (
        methods.GetUpdates,
        methods.GetMe,
        methods.SendMessage,
        methods.EditMessageText,
        methods.EditMessageReplyMarkup,
        methods.AnswerCallbackQuery,
        methods.AnswerInlineQuery,
        methods.SendPhoto,
        methods.SendVoice,
        methods.SendDocument,
        methods.SetMyCommands,
        methods.DeleteMyCommands,
        methods.DeleteWebhook,
    ):
        _RESPONSE_MODELS.append(Response[method.__returning__])


def create_bot(settings: Settings) -> Bot:
    install_redaction(settings.bot_token.get_secret_value())  # the token never reaches a log
    _pin_response_models()
    session = AiohttpSession()
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    session.middleware(TelegramRequestMiddleware())
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def create_storage(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    """FSM state in our database, or in Redis (with cross-instance locks) when REDIS_URL is set."""
    if settings.redis_url:
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisStorage

        redis_storage = RedisStorage.from_url(
            settings.redis_url, key_builder=DefaultKeyBuilder(with_destiny=True, prefix="fieldcrm")
        )
        return redis_storage, redis_storage.create_isolation()
    return SQLAlchemyStorage(session_factory), SimpleEventIsolation()


def create_dispatcher(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    i18n: I18n | None = None,
    clock: Clock | None = None,
) -> Dispatcher:
    storage, isolation = create_storage(settings, session_factory)
    i18n = i18n or create_i18n(settings)
    clock = clock or Clock()
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,
        session_factory=session_factory,
        clock=clock,
    )
    # Order matters: flood → session → user → locale → errors (answered in the user's
    # language) → quotas. A flood is dropped before it costs a database session.
    dispatcher.update.outer_middleware(FloodMiddleware.from_settings(settings, i18n))
    dispatcher.update.outer_middleware(DbSessionMiddleware(session_factory))
    dispatcher.update.outer_middleware(UserMiddleware())
    dispatcher.update.outer_middleware(UserLocaleMiddleware(i18n, settings.default_locale))
    dispatcher.update.outer_middleware(ErrorsMiddleware())
    quota_guard = create_quota_guard(settings, clock, i18n)
    dispatcher.update.outer_middleware(QuotaMiddleware(quota_guard))
    dispatcher.shutdown.register(quota_guard.close)
    dispatcher.message.outer_middleware(AccessMiddleware())
    dispatcher.callback_query.outer_middleware(AccessMiddleware())
    # Inline mode (@bot query in any chat) also has to be enabled in @BotFather (/setinline),
    # otherwise Telegram never sends inline queries.
    dispatcher.inline_query.outer_middleware(AccessMiddleware())
    dispatcher.include_routers(*get_routers())

    async def on_startup(bot: Bot) -> None:
        render.start()  # the chart worker imports matplotlib while the bot starts
        me = await bot.me()
        log.info("FieldCRM started as @%s", me.username)
        await set_default_commands(bot, i18n)

    dispatcher.startup.register(on_startup)
    scheduler.attach(dispatcher, session_factory, settings, i18n, clock)
    return dispatcher
