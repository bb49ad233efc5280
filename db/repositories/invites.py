from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Invite


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_code(self, code: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.code == code))

    async def mark_used(self, invite_id: int, user_id: int, now: datetime) -> bool:
        """Claims the invite; False when someone else claimed it first (single use)."""
        result = await self.session.execute(
            update(Invite)
            .where(Invite.id == invite_id, Invite.used_by_id.is_(None))
            .values(used_by_id=user_id, used_at=now)
        )
        return result.rowcount == 1
