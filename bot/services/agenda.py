"""The morning agenda: what a manager has on today, computed from the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.clients import stale_condition
from db.models import Client, Task, TaskStatus, User

STALE_SHOWN = 5


@dataclass(frozen=True)
class Agenda:
    today: Sequence[Task]
    overdue: Sequence[Task]
    stale_clients: Sequence[Client]
    stale_total: int

    @property
    def empty(self) -> bool:
        return not (self.today or self.overdue or self.stale_total)


def parse_agenda_time(value: str | None) -> time | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def due_for_agenda(user: User, now: datetime) -> str | None:
    """The user's local date when their agenda time has come today and it is not done yet."""
    at = parse_agenda_time(user.agenda_time)
    if at is None or not user.is_active or user.unreachable:
        return None
    local = now.astimezone(ZoneInfo(user.timezone))
    today = local.date().isoformat()
    if user.agenda_checked_on == today or local.time() < at:
        return None
    return today


async def users_due(session: AsyncSession, now: datetime) -> list[tuple[User, str]]:
    """Active users whose agenda is due; local times are compared in Python (zones differ)."""
    candidates = await session.scalars(
        select(User).where(User.is_active.is_(True), User.agenda_time.is_not(None))
    )
    due = []
    for user in candidates:
        day = due_for_agenda(user, now)
        if day is not None:
            due.append((user, day))
    return due


async def build(session: AsyncSession, user: User, now: datetime, stale_days: int) -> Agenda:
    tz = ZoneInfo(user.timezone)
    local_midnight = datetime.combine(now.astimezone(tz).date(), time(), tz)
    start, end = local_midnight, local_midnight + timedelta(days=1)
    open_tasks = (Task.owner_id == user.id, Task.status == TaskStatus.OPEN)
    today = await session.scalars(
        select(Task)
        .where(*open_tasks, Task.due_at >= start, Task.due_at < end)
        .order_by(Task.due_at)
    )
    overdue = await session.scalars(
        select(Task).where(*open_tasks, Task.due_at < start).order_by(Task.due_at).limit(20)
    )
    stale = (Client.owner_id == user.id, stale_condition(now, stale_days))
    stale_clients = await session.scalars(
        select(Client)
        .where(*stale)
        .order_by(Client.last_contact_at.nulls_first())
        .limit(STALE_SHOWN)
    )
    stale_total = await session.scalar(select(func.count()).select_from(Client).where(*stale))
    return Agenda(today.all(), overdue.all(), stale_clients.all(), stale_total or 0)
