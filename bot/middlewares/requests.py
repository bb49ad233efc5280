"""Middlewares on the Bot's outgoing requests (not on incoming updates)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageCaption, EditMessageReplyMarkup, EditMessageText
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from aiogram import Bot

# The session of the update being handled, set by DbSessionMiddleware.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)

EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)


class TelegramRequestMiddleware(BaseRequestMiddleware):
    """Two rules for every call to Telegram, kept here so no handler has to remember them.

    1. Never wait on Telegram inside a database transaction: a read-only transaction still
       open is ended first (on SQLite every transaction holds the write lock).
    2. Editing a message to the content it already has is not an error (a double tap).
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        session = current_session.get()
        if session is not None and session.in_transaction() and not _has_changes(session):
            await session.commit()
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if isinstance(method, EDITS) and "message is not modified" in error.message:
                result: Any = True
                return Response[TelegramType](ok=True, result=result)
            raise


def _has_changes(session: AsyncSession) -> bool:
    return bool(session.new or session.dirty or session.deleted)
