"""Middlewares on the Bot's outgoing requests (not on incoming updates)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import EditMessageCaption, EditMessageReplyMarkup, EditMessageText
from aiogram.methods.base import TelegramMethod, TelegramType

from db.session import end_read_transaction

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)
RETRY_AFTER_CAP = 30  # seconds: a longer wait is better reported than spent blocking a reply
RETRIES = 3


class TelegramRequestMiddleware(BaseRequestMiddleware):
    """Rules for every call to Telegram, kept here so no handler has to remember them.

    1. Never wait on Telegram inside a database transaction (see end_read_transaction).
    2. Flood control (429): wait the retry_after Telegram asks for, then try again.
    3. Editing a message to the content it already has is not an error (a double tap).
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> TelegramType:
        await end_read_transaction()
        for attempt in range(RETRIES + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == RETRIES or error.retry_after > RETRY_AFTER_CAP:
                    raise
                log.warning(
                    "flood control on %s: waiting %ss", method.__api_method__, error.retry_after
                )
                await asyncio.sleep(error.retry_after)
            except TelegramBadRequest as error:
                if isinstance(method, EDITS) and "message is not modified" in error.message:
                    # what Telegram answers to an edit that changed something
                    return cast(TelegramType, True)
                raise
        raise AssertionError("unreachable")
