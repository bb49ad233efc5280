"""Inline mode (@bot query in any chat): a user's quick share of their OWN clients.

Only clients the user owns, even for heads and admins: this puts client data into chats outside
the bot, so it is a personal tool, not a window on the team's base. Managers lose it when an
admin turns the "inline_for_managers" switch off.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import app_settings
from bot.services.clients import search_condition
from db.models import Client, Role, User
from db.repositories import ClientRepository

PAGE_SIZE = 20  # Telegram shows up to 50 results per answer; 20 keeps answers light
QUERY_MAX = 256  # Telegram's limit for an inline query's text


async def allowed(session: AsyncSession, actor: User | None) -> bool:
    if actor is None or not actor.is_active:
        return False
    if actor.role is Role.MANAGER:
        return await app_settings.inline_for_managers(session)
    return True


async def own_clients(
    session: AsyncSession, actor: User | None, query: str, offset: int = 0
) -> tuple[Sequence[Client], int | None]:
    """The actor's own clients matching `query` by the search rules (any part of the name,
    phone digits, INN prefix, e-mail), most recently contacted first; a query too short to
    search (empty included) lists the most recent ones. Returns the page and the next offset."""
    if not await allowed(session, actor):
        return [], None
    assert actor is not None
    query = query[:QUERY_MAX]
    condition = search_condition(query)
    conditions = [condition] if condition is not None else []
    offset = max(offset, 0)
    clients, total = await ClientRepository(session).page(
        Client.owner_id == actor.id, conditions, offset, PAGE_SIZE
    )
    following = offset + PAGE_SIZE
    return clients, following if following < total else None
