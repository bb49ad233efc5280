"""Inline mode: typing @bot in any chat offers the user's own clients to share as a short card
(name, phone, e-mail; never notes). Unregistered and deactivated users get no results from
AccessMiddleware. In production inline mode must also be switched on in @BotFather."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineQuery, InlineQueryResultArticle, InputTextMessageContent
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.registry import Handlers
from bot.services import inline as service
from bot.services import quotas
from bot.texts import client_status_label
from db.models import Client, ClientKind, User

CACHE_SECONDS = 5  # short: results are personal and a new client should show up at once


handlers = Handlers("inline")


def share_text(client: Client) -> str:
    lines = [f"<b>{escape(client.name)}</b>"]
    if client.phone:
        lines.append(f"📞 {escape(client.phone)}")
    if client.email:
        lines.append(f"✉️ {escape(client.email)}")
    return "\n".join(lines)


def article(client: Client) -> InlineQueryResultArticle:
    details = [client.phone or client.email or "", client_status_label(client.status)]
    return InlineQueryResultArticle(
        id=f"client-{client.id}",
        title=("🏢 " if client.kind is ClientKind.COMPANY else "👤 ") + client.name,
        description=" · ".join(d for d in details if d),
        input_message_content=InputTextMessageContent(message_text=share_text(client)),
    )


@handlers.inline_query()
async def share_clients(query: InlineQuery, session: AsyncSession, user: User) -> None:
    # The offset is our own next_offset, echoed back by Telegram; anything else starts over.
    offset = int(query.offset) if query.offset.isdigit() and len(query.offset) <= 6 else 0
    # Each answer (a page of clients with phones and e-mails) counts as a search: past the
    # limit QuotaExceeded, answered by bot/middlewares/throttle.py with a "paused" button.
    await quotas.search_made(session, user)
    found, following = await service.own_clients(session, user, query.query, offset)
    await query.answer(
        [article(client) for client in found],
        cache_time=CACHE_SECONDS,
        is_personal=True,
        next_offset=str(following) if following is not None else "",
    )
