"""The audit log as admins read it: pages newest first, filtered by who and by what, with the
names of the people and objects an entry is about. Writing entries stays with the services
that act (db.repositories.AuditRepository, in the same transaction as the change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import require_role
from db.models import AuditEntry, Client, Department, ReferenceItem, Role, User

PAGE_SIZE = 8
PICKER_PAGE_SIZE = 8

# object_type → the model whose `name` (or `full_name`) names the object
_NAMED = {"user": User, "client": Client, "department": Department, "reference_item": ReferenceItem}


@dataclass(frozen=True)
class AuditFilter:
    """Whose entries (an actor's user id) and which action; None is any."""

    user_id: int | None = None
    action: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = []
        if self.user_id is not None:
            conditions.append(AuditEntry.actor_id == self.user_id)
        if self.action is not None:
            conditions.append(AuditEntry.action == self.action)
        return conditions


@dataclass
class AuditPage:
    entries: Sequence[AuditEntry]
    total: int
    page: int
    people: dict[int, str] = field(default_factory=dict)  # user id → full name
    objects: dict[tuple[str, int], str] = field(default_factory=dict)  # (type, id) → name


def record(
    session: AsyncSession,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | None,
    created_at: datetime,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """An entry with its time from the caller's clock; the caller commits."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
        created_at=created_at,
    )
    session.add(entry)
    return entry


async def count_since(
    session: AsyncSession, actor_id: int, actions: Sequence[str], since: datetime
) -> int:
    """How many of these actions the user did from `since` on (quotas count the log)."""
    return (
        await session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.actor_id == actor_id,
                AuditEntry.action.in_(actions),
                AuditEntry.created_at >= since,
            )
        )
    ) or 0


async def page(session: AsyncSession, actor: User, flt: AuditFilter, number: int) -> AuditPage:
    require_role(actor, Role.ADMIN)
    number = max(number, 0)
    total = (await session.scalar(select(func.count(AuditEntry.id)).where(*flt.conditions()))) or 0
    last_page = max((total - 1) // PAGE_SIZE, 0)
    number = min(number, last_page)
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(*flt.conditions())
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .offset(number * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    ).all()
    result = AuditPage(entries, total, number)
    await _name_everything(session, result)
    return result


async def _name_everything(session: AsyncSession, result: AuditPage) -> None:
    wanted: dict[str, set[int]] = {kind: set() for kind in _NAMED}
    for entry in result.entries:
        if entry.actor_id is not None:
            wanted["user"].add(entry.actor_id)
        if entry.object_type in wanted and entry.object_id is not None:
            wanted[entry.object_type].add(entry.object_id)
    for kind, ids in wanted.items():
        if not ids:
            continue
        model = _NAMED[kind]
        name = model.full_name if model is User else model.name
        rows = await session.execute(select(model.id, name).where(model.id.in_(ids)))
        for object_id, object_name in rows:
            result.objects[(kind, object_id)] = object_name
            if kind == "user":
                result.people[object_id] = object_name


async def actors(session: AsyncSession, actor: User, number: int) -> tuple[list[User], int]:
    """People who have entries in the log, by name, a page of them and how many in all."""
    require_role(actor, Role.ADMIN)
    with_entries = select(AuditEntry.actor_id).where(AuditEntry.actor_id.is_not(None)).distinct()
    condition = User.id.in_(with_entries.scalar_subquery())
    total = (await session.scalar(select(func.count(User.id)).where(condition))) or 0
    people = await session.scalars(
        select(User)
        .where(condition)
        .order_by(User.full_name, User.id)
        .offset(max(number, 0) * PICKER_PAGE_SIZE)
        .limit(PICKER_PAGE_SIZE)
    )
    return list(people.all()), total


async def actions(session: AsyncSession, actor: User) -> list[str]:
    """The actions that occur in the log, alphabetically."""
    require_role(actor, Role.ADMIN)
    rows = await session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(rows.all())


async def person_name(session: AsyncSession, actor: User, user_id: int) -> str | None:
    require_role(actor, Role.ADMIN)
    return await session.scalar(select(User.full_name).where(User.id == user_id))


def export_statement(flt: AuditFilter) -> tuple[list[str], Select[Any]]:
    """Columns and rows of an audit log export (admins; bot.services.exports checks)."""
    headers = ["id", "created_at", "actor_id", "actor", "action", "object_type", "object_id"]
    statement = (
        select(
            AuditEntry.id,
            AuditEntry.created_at,
            AuditEntry.actor_id,
            User.full_name,
            AuditEntry.action,
            AuditEntry.object_type,
            AuditEntry.object_id,
            AuditEntry.details,
        )
        .select_from(AuditEntry)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(*flt.conditions())
    )
    return [*headers, "details"], statement
