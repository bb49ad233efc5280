"""A user blocking or unblocking the bot (my_chat_member updates)."""

from __future__ import annotations

from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.registry import Handlers
from bot.services import outbox
from db.models import User

handlers = Handlers("reachability")


@handlers.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
async def blocked(event: ChatMemberUpdated, session: AsyncSession, user: User | None) -> None:
    if user is not None:
        await outbox.set_reachable(session, user, False)


@handlers.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def unblocked(event: ChatMemberUpdated, session: AsyncSession, user: User | None) -> None:
    if user is not None:
        await outbox.set_reachable(session, user, True)
