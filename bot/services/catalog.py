"""Departments and reference lists (product lines, industries, regions, lead sources).

Archiving hides an item from pickers; records that point at it keep it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import require_role
from bot.services.audit import AuditAction
from bot.services.errors import N_, InvalidInput, NotFound
from db.models import Department, DepartmentKind, ReferenceItem, ReferenceKind, Role, User
from db.repositories import AuditRepository, DepartmentRepository, ReferenceRepository

ITEM_NAME_MAX = 100


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise InvalidInput(N_("The name can't be empty."))
    if len(name) > ITEM_NAME_MAX:
        raise InvalidInput(N_("Too long: at most {limit} characters."), limit=ITEM_NAME_MAX)
    return name


def _ensure_unique(existing: Sequence[Department | ReferenceItem], name: str, own_id: int | None):
    # casefold in Python: SQLite's lower() leaves Cyrillic as it is, and the lists are short.
    wanted = name.casefold()
    if any(item.name.casefold() == wanted and item.id != own_id for item in existing):
        raise InvalidInput(N_("“{name}” is already in the list."), name=name)


# Departments


async def departments(session: AsyncSession, actor: User) -> Sequence[Department]:
    require_role(actor, Role.ADMIN)
    return await DepartmentRepository(session).list(include_archived=True)


async def get_department(session: AsyncSession, actor: User, department_id: int) -> Department:
    require_role(actor, Role.ADMIN)
    department = await DepartmentRepository(session).get(department_id)
    if department is None:
        raise NotFound()
    return department


async def add_department(
    session: AsyncSession, actor: User, name: str, kind: DepartmentKind
) -> Department:
    require_role(actor, Role.ADMIN)
    name = clean_name(name)
    repo = DepartmentRepository(session)
    _ensure_unique(await repo.list(include_archived=True), name, None)
    department = Department(name=name, kind=kind)
    session.add(department)
    await session.flush()
    AuditRepository(session).record(
        actor.id, AuditAction.DEPARTMENT_ADDED, "department", department.id, name=name
    )
    await session.commit()
    return department


async def rename_department(
    session: AsyncSession, actor: User, department_id: int, name: str
) -> Department:
    department = await get_department(session, actor, department_id)
    name = clean_name(name)
    _ensure_unique(
        await DepartmentRepository(session).list(include_archived=True), name, department.id
    )
    if department.name != name:
        AuditRepository(session).record(
            actor.id,
            AuditAction.DEPARTMENT_RENAMED,
            "department",
            department.id,
            old=department.name,
            new=name,
        )
    department.name = name
    await session.commit()
    return department


async def set_department_archived(
    session: AsyncSession, actor: User, department_id: int, archived: bool
) -> Department:
    department = await get_department(session, actor, department_id)
    if department.archived != archived:
        department.archived = archived
        action = AuditAction.DEPARTMENT_ARCHIVED if archived else AuditAction.DEPARTMENT_RESTORED
        AuditRepository(session).record(actor.id, action, "department", department.id)
        await session.commit()
    return department


# Reference lists


async def reference_items(
    session: AsyncSession, actor: User, kind: ReferenceKind
) -> Sequence[ReferenceItem]:
    require_role(actor, Role.ADMIN)
    return await ReferenceRepository(session).list(kind, include_archived=True)


async def get_reference_item(session: AsyncSession, actor: User, item_id: int) -> ReferenceItem:
    require_role(actor, Role.ADMIN)
    item = await ReferenceRepository(session).get(item_id)
    if item is None:
        raise NotFound()
    return item


async def add_reference_item(
    session: AsyncSession, actor: User, kind: ReferenceKind, name: str
) -> ReferenceItem:
    require_role(actor, Role.ADMIN)
    name = clean_name(name)
    _ensure_unique(await ReferenceRepository(session).list(kind, include_archived=True), name, None)
    item = ReferenceItem(kind=kind, name=name)
    session.add(item)
    await session.flush()
    AuditRepository(session).record(
        actor.id, AuditAction.REFERENCE_ADDED, "reference_item", item.id, kind=kind, name=name
    )
    await session.commit()
    return item


async def rename_reference_item(
    session: AsyncSession, actor: User, item_id: int, name: str
) -> ReferenceItem:
    item = await get_reference_item(session, actor, item_id)
    name = clean_name(name)
    siblings = await ReferenceRepository(session).list(item.kind, include_archived=True)
    _ensure_unique(siblings, name, item.id)
    if item.name != name:
        AuditRepository(session).record(
            actor.id,
            AuditAction.REFERENCE_RENAMED,
            "reference_item",
            item.id,
            kind=item.kind,
            old=item.name,
            new=name,
        )
    item.name = name
    await session.commit()
    return item


async def set_reference_archived(
    session: AsyncSession, actor: User, item_id: int, archived: bool
) -> ReferenceItem:
    item = await get_reference_item(session, actor, item_id)
    if item.archived != archived:
        item.archived = archived
        action = AuditAction.REFERENCE_ARCHIVED if archived else AuditAction.REFERENCE_RESTORED
        AuditRepository(session).record(actor.id, action, "reference_item", item.id, kind=item.kind)
        await session.commit()
    return item


async def pickable_items(session: AsyncSession, kind: ReferenceKind) -> Sequence[ReferenceItem]:
    """What pickers offer to everyone: active items only."""
    return await ReferenceRepository(session).list(kind)


async def pickable_item(session: AsyncSession, kind: ReferenceKind, item_id: int) -> ReferenceItem:
    item = await ReferenceRepository(session).get(item_id)
    if item is None or item.kind is not kind or item.archived:
        raise NotFound()
    return item
