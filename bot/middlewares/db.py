from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import outbox, surveys
from db.repositories import UserRepository
from db.session import current_session


class DbSessionMiddleware(BaseMiddleware):
    """One session per update; services commit, anything left uncommitted is rolled back."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self.session_factory() as session:
            data["session"] = session
            token = current_session.set(session)
            try:
                return await handler(event, data)
            finally:
                current_session.reset(token)


class UserMiddleware(BaseMiddleware):
    """Loads the registered user (or None) for every update, fresh, so a deactivation bites
    on the very next update."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user = data.get("event_from_user")
        session = data["session"]
        user = await UserRepository(session).by_telegram_id(tg_user.id) if tg_user else None
        if user is not None and user.unreachable and _wrote_to_us(event):
            await outbox.set_reachable(session, user, True)  # they are back
        data["user"] = user
        if user is None and tg_user is not None:
            # Not staff: maybe a linked client (see bot/handlers/client_chat.py).
            chat = await surveys.chat_of(session, tg_user.id)
            if chat is not None and chat.unreachable and _wrote_to_us(event):
                chat.unreachable = False
                await session.commit()
            data["client_chat"] = chat
        return await handler(event, data)


def _wrote_to_us(event: TelegramObject) -> bool:
    return isinstance(event, Update) and (
        event.message is not None or event.callback_query is not None
    )
