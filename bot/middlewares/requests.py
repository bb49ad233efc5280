"""Middlewares on the Bot's outgoing requests (not on incoming updates)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageCaption, EditMessageReplyMarkup, EditMessageText
from aiogram.methods.base import Response, TelegramMethod, TelegramType

from db.session import end_read_transaction

if TYPE_CHECKING:
    from aiogram import Bot

EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)


class TelegramRequestMiddleware(BaseRequestMiddleware):
    """Two rules for every call to Telegram, kept here so no handler has to remember them.

    1. Never wait on Telegram inside a database transaction (see end_read_transaction).
    2. Editing a message to the content it already has is not an error (a double tap).
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        await end_read_transaction()
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if isinstance(method, EDITS) and "message is not modified" in error.message:
                result: Any = True
                return Response[TelegramType](ok=True, result=result)
            raise
