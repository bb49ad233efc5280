from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        return await self.session.scalar(select(User).where(User.telegram_id == telegram_id))

    async def get(self, user_id: int, scope: ColumnElement[bool]) -> User | None:
        return await self.session.scalar(select(User).where(User.id == user_id, scope))

    async def page(
        self, scope: ColumnElement[bool], offset: int, limit: int
    ) -> tuple[Sequence[User], int]:
        rows = await self.session.scalars(
            select(User)
            .where(scope)
            .order_by(User.is_active.desc(), User.full_name, User.id)
            .offset(offset)
            .limit(limit)
        )
        total = await self.session.scalar(select(func.count()).select_from(User).where(scope))
        return rows.all(), total or 0
