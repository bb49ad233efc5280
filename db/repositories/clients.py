"""Clients, contact persons and the contact log. Every query takes the caller's scope clause."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Attachment, Client, Interaction


def _like(fragment: str) -> str:
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: int, scope: ColumnElement[bool]) -> Client | None:
        return await self.session.scalar(select(Client).where(Client.id == client_id, scope))

    async def duplicates(
        self,
        *,
        name_key: str | None,
        phone: str | None,
        email: str | None,
        inn: str | None,
        exclude_id: int | None = None,
    ) -> Sequence[Client]:
        """Company-wide on purpose: the point is to find clients the user cannot see."""
        conditions = []
        if name_key:
            conditions.append(Client.name_key == name_key)
        if phone:
            conditions.append(Client.phone == phone)
        if email:
            conditions.append(Client.email == email)
        if inn:
            conditions.append(Client.inn == inn)
        if not conditions:
            return []
        query = select(Client).where(or_(*conditions)).order_by(Client.id).limit(5)
        if exclude_id is not None:
            query = query.where(Client.id != exclude_id)
        return (await self.session.scalars(query)).all()

    async def page(
        self,
        scope: ColumnElement[bool],
        conditions: Sequence[ColumnElement[bool]],
        offset: int,
        limit: int,
    ) -> tuple[Sequence[Client], int]:
        where = [scope, *conditions]
        rows = (
            await self.session.scalars(
                select(Client)
                .where(*where)
                .order_by(Client.last_contact_at.desc().nulls_last(), Client.name, Client.id)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        if offset == 0 and len(rows) < limit:
            return rows, len(rows)  # all there is: no second scan to count
        total = await self.session.scalar(select(func.count()).select_from(Client).where(*where))
        return rows, total or 0

    @staticmethod
    def matching(text_key: str, digits: str, email_part: str) -> ColumnElement[bool]:
        """Any part of the folded name, phone digits, the start of the INN, part of the e-mail.
        A query of digits alone is a phone or an INN: the names are not scanned for it."""
        has_letters = any(ch.isalpha() for ch in text_key)
        options = []
        if text_key and (has_letters or len(digits) < 3):
            options.append(Client.search_text.like(_like(text_key), escape="\\"))
        if len(digits) >= 3:
            options.append(Client.phone_digits.like(_like(digits), escape="\\"))
            options.append(Client.inn.like(f"{digits}%"))
        if "@" in email_part or "." in email_part:
            options.append(Client.email.like(_like(email_part), escape="\\"))
        return or_(*options) if options else Client.id.is_(None)

    async def nearest(
        self, scope: ColumnElement[bool], latitude: float, longitude: float, limit: int
    ) -> Sequence[Client]:
        # An equirectangular distance is plenty to rank clients around one city; it is
        # portable SQL (no PostGIS), and cos(latitude) is computed here once.
        stretch = math.cos(math.radians(latitude)) ** 2
        distance = (Client.latitude - latitude) * (Client.latitude - latitude) + stretch * (
            Client.longitude - longitude
        ) * (Client.longitude - longitude)
        rows = await self.session.scalars(
            select(Client)
            .where(scope, Client.latitude.is_not(None), Client.longitude.is_not(None))
            .order_by(distance)
            .limit(limit)
        )
        return rows.all()

    async def history(
        self, client_id: int, offset: int, limit: int
    ) -> tuple[Sequence[Interaction], int]:
        rows = await self.session.scalars(
            select(Interaction)
            .where(Interaction.client_id == client_id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
            .offset(offset)
            .limit(limit)
        )
        total = await self.session.scalar(
            select(func.count()).select_from(Interaction).where(Interaction.client_id == client_id)
        )
        return rows.all(), total or 0

    async def next_step(self, client_id: int, now: datetime) -> Interaction | None:
        return await self.session.scalar(
            select(Interaction)
            .where(Interaction.client_id == client_id, Interaction.next_step_due_at >= now)
            .order_by(Interaction.next_step_due_at)
            .limit(1)
        )

    async def files(self, client_id: int, limit: int) -> Sequence[Attachment]:
        rows = await self.session.scalars(
            select(Attachment)
            .join(Interaction, Attachment.interaction_id == Interaction.id)
            .where(Interaction.client_id == client_id)
            .order_by(Attachment.id.desc())
            .limit(limit)
        )
        return rows.all()

    async def count_files(self, client_id: int) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(Attachment)
            .join(Interaction, Attachment.interaction_id == Interaction.id)
            .where(Interaction.client_id == client_id)
        )
        return total or 0
