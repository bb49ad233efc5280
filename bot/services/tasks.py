"""Tasks and reminders. The owner gets a reminder when a task falls due (see bot/jobs.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import parsing
from bot.services.access import visible_clients
from bot.services.clients import get_client
from bot.services.errors import N_, InvalidInput, NotFound
from db.models import Client, Task, TaskStatus, User

TEXT_MAX = 500
PAGE_SIZE = 8


async def create_task(
    session: AsyncSession,
    actor: User,
    text: str,
    due_at: datetime,
    *,
    client_id: int | None = None,
    interaction_id: int | None = None,
    commit: bool = True,
) -> Task:
    if client_id is not None:
        await get_client(session, actor, client_id)  # the owner must be allowed to see it
    task = Task(
        owner_id=actor.id,
        text=parsing.clean_text(text, limit=TEXT_MAX),
        due_at=due_at,
        client_id=client_id,
        interaction_id=interaction_id,
    )
    session.add(task)
    if commit:
        await session.commit()
    return task


async def get_task(session: AsyncSession, actor: User, task_id: int) -> Task:
    """Only the owner acts on a task."""
    task = await session.scalar(select(Task).where(Task.id == task_id, Task.owner_id == actor.id))
    if task is None:
        raise NotFound()
    return task


async def complete(session: AsyncSession, actor: User, task_id: int, now: datetime) -> Task:
    task = await get_task(session, actor, task_id)
    if task.status is TaskStatus.OPEN:
        task.status = TaskStatus.DONE
        task.done_at = now
        await session.commit()
    return task


async def reschedule(
    session: AsyncSession, actor: User, task_id: int, due_at: datetime, now: datetime
) -> Task:
    """Snooze or a new date: the task is due again and will remind again."""
    task = await get_task(session, actor, task_id)
    if task.status is not TaskStatus.OPEN:
        raise InvalidInput(N_("This task is already closed."))
    if due_at <= now:
        raise InvalidInput(N_("That time has already passed. Send a time in the future."))
    task.due_at = due_at
    task.reminded_at = None
    await session.commit()
    return task


async def open_tasks(
    session: AsyncSession, actor: User, page: int = 0
) -> tuple[Sequence[Task], int]:
    """The owner's open tasks, soonest (so overdue) first."""
    where = (Task.owner_id == actor.id, Task.status == TaskStatus.OPEN)
    rows = await session.scalars(
        select(Task)
        .where(*where)
        .order_by(Task.due_at, Task.id)
        .offset(max(page, 0) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    total = await session.scalar(select(func.count()).select_from(Task).where(*where))
    return rows.all(), total or 0


async def claim_due(session: AsyncSession, now: datetime, limit: int = 200) -> Sequence[Task]:
    """Marks due, not yet reminded tasks as reminded and returns them, in the caller's
    transaction: the caller queues the reminders and commits both together. Two workers
    racing here both see rowcount-guarded updates; the outbox dedupe key stops the rest."""
    due_ids = (
        await session.scalars(
            select(Task.id)
            .where(
                Task.status == TaskStatus.OPEN,
                Task.reminded_at.is_(None),
                Task.due_at <= now,
            )
            .order_by(Task.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not due_ids:
        return []
    await session.execute(
        update(Task)
        .where(Task.id.in_(due_ids), Task.reminded_at.is_(None))
        .values(reminded_at=now),
        execution_options={"synchronize_session": False},
    )
    rows = await session.scalars(select(Task).where(Task.id.in_(due_ids)))
    return rows.unique().all()


async def client_tasks(
    session: AsyncSession, actor: User, client_id: int, limit: int = 20
) -> Sequence[Task]:
    client = await session.scalar(
        select(Client).where(Client.id == client_id, visible_clients(actor))
    )
    if client is None:
        raise NotFound()
    rows = await session.scalars(
        select(Task).where(Task.client_id == client.id).order_by(Task.due_at.desc()).limit(limit)
    )
    return rows.all()
