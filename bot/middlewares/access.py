from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, InlineQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.keyboards.callbacks import ConsentCb
from bot.texts import access_disabled_text, no_access_text


class AccessMiddleware(BaseMiddleware):
    """Only active registered users get past; /start is always let through to register."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("user")
        if user is not None and user.is_active:
            return await handler(event, data)
        if user is None and _client_update(event, data):
            return await handler(event, data)  # clients: bot/handlers/client_chat.py
        if isinstance(event, Message) and (event.text or "").startswith("/start"):
            return await handler(event, data)
        if isinstance(event, InlineQuery):  # nothing to share: no results, nothing cached
            await event.answer([], is_personal=True, cache_time=0)
            return None
        text = no_access_text() if user is None else access_disabled_text()
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(_("No access."), show_alert=False)
            if event.message is not None:
                await event.message.answer(text)
        return None


def _client_update(event: TelegramObject, data: dict[str, Any]) -> bool:
    """A linked client, or someone answering the consent question of a client link."""
    if data.get("client_chat") is not None:
        return not isinstance(event, InlineQuery)
    return isinstance(event, CallbackQuery) and (event.data or "").startswith(
        ConsentCb.__prefix__ + ":"
    )
