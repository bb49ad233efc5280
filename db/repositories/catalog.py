"""Departments and the reference lists: small named lists that admins keep."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Department, ReferenceItem, ReferenceKind


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, department_id: int) -> Department | None:
        return await self.session.get(Department, department_id)

    async def list(self, *, include_archived: bool = False) -> Sequence[Department]:
        query = select(Department).order_by(Department.archived, Department.name, Department.id)
        if not include_archived:
            query = query.where(Department.archived.is_(False))
        return (await self.session.scalars(query)).all()


class ReferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, item_id: int) -> ReferenceItem | None:
        return await self.session.get(ReferenceItem, item_id)

    async def list(
        self, kind: ReferenceKind, *, include_archived: bool = False
    ) -> Sequence[ReferenceItem]:
        query = (
            select(ReferenceItem)
            .where(ReferenceItem.kind == kind)
            .order_by(ReferenceItem.archived, ReferenceItem.name, ReferenceItem.id)
        )
        if not include_archived:
            query = query.where(ReferenceItem.archived.is_(False))
        return (await self.session.scalars(query)).all()
