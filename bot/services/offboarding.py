"""Offboarding: a user's access is turned off and, in the same transaction, everything they
were working on goes to one active colleague the admin (or their head) picks.

What moves: the clients they own; open deals (theirs, and any open deal of those clients, as
a client's reassignment does); open complaints assigned to them; their open tasks; surveys
still to be answered whose answer would count for them. What stays: won and lost deals
(credited to who closed them), complaints they reported, done tasks, answered surveys, the
contacts they logged. Their unused invites expire: nobody gets in through a link of someone
who left. Access itself ends on their next update (the access middleware reads `is_active`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox
from bot.services.access import can_manage, require_staff_manager, visible_users
from bot.services.audit import AuditAction
from bot.services.complaints import ChangeKind
from bot.services.errors import N_, AccessDenied, DomainError, NotFound
from db.models import (
    ACTIVE_COMPLAINT,
    OPEN_STAGES,
    Client,
    Complaint,
    ComplaintChange,
    Deal,
    Invite,
    Survey,
    SurveyStatus,
    Task,
    TaskStatus,
    User,
)
from db.repositories import AuditRepository, UserRepository
from db.types import utcnow

CANDIDATES_PAGE = 8
PENDING_SURVEYS = (SurveyStatus.SCHEDULED, SurveyStatus.SENT)


@dataclass(frozen=True)
class Holdings:
    """What a user is working on: how much of it a handover moves."""

    clients: int = 0
    open_deals: int = 0
    complaints: int = 0
    tasks: int = 0
    surveys: int = 0

    @property
    def empty(self) -> bool:
        return not any(asdict(self).values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class HandoverNeeded(DomainError):
    """The user still owns work: someone must take it over before their access is off."""

    message = N_("They still have clients or open work: pick who takes it over first.")

    def __init__(self, target: User, holdings: Holdings) -> None:
        super().__init__()
        self.target = target
        self.holdings = holdings


class AlreadyInactive(DomainError):
    message = N_("This user's access is already turned off.")


# Who says the handover to the new owner, in the new owner's language: (recipient, what they
# got, whose it was) → the message text. Built by the handler, so this module stays aiogram-free.
Notice = Callable[[User, Holdings, User], str]


def _clients_of(user_id: int) -> ScalarSelect[int]:
    return select(Client.id).where(Client.owner_id == user_id).scalar_subquery()


def _open_deals_of(user_id: int) -> ColumnElement[bool]:
    return Deal.stage.in_(OPEN_STAGES) & or_(
        Deal.owner_id == user_id, Deal.client_id.in_(_clients_of(user_id))
    )


def _open_complaints_of(user_id: int) -> ColumnElement[bool]:
    return (Complaint.assignee_id == user_id) & Complaint.status.in_(ACTIVE_COMPLAINT)


def _open_tasks_of(user_id: int) -> ColumnElement[bool]:
    return (Task.owner_id == user_id) & (Task.status == TaskStatus.OPEN)


def _pending_surveys_of(user_id: int) -> ColumnElement[bool]:
    return (Survey.owner_id == user_id) & Survey.status.in_(PENDING_SURVEYS)


async def holdings(session: AsyncSession, user_id: int) -> Holdings:
    async def count(model: type, condition: ColumnElement[bool]) -> int:
        return await session.scalar(select(func.count()).select_from(model).where(condition)) or 0

    return Holdings(
        clients=await count(Client, Client.owner_id == user_id),
        open_deals=await count(Deal, _open_deals_of(user_id)),
        complaints=await count(Complaint, _open_complaints_of(user_id)),
        tasks=await count(Task, _open_tasks_of(user_id)),
        surveys=await count(Survey, _pending_surveys_of(user_id)),
    )


async def target_of(session: AsyncSession, actor: User, user_id: int) -> User:
    """The user the actor may turn off: admins anyone but themselves, heads their managers."""
    require_staff_manager(actor)
    target = await UserRepository(session).get(user_id, visible_users(actor))
    if target is None:
        raise NotFound()
    if not can_manage(actor, target):
        raise AccessDenied()
    return target


async def active_target_of(session: AsyncSession, actor: User, user_id: int) -> User:
    target = await target_of(session, actor, user_id)
    if not target.is_active:
        raise AlreadyInactive()
    return target


def _candidates_scope(actor: User, target: User) -> ColumnElement[bool]:
    return visible_users(actor) & User.is_active.is_(True) & (User.id != target.id)


async def candidates(
    session: AsyncSession, actor: User, user_id: int, page: int
) -> tuple[User, Sequence[User], int]:
    """Active people who can take over the target's work, their department's first."""
    target = await active_target_of(session, actor, user_id)
    scope = _candidates_scope(actor, target)
    order: list[ColumnElement[Any]] = [User.full_name, User.id]
    if target.department_id is not None:
        order.insert(0, case((User.department_id == target.department_id, 0), else_=1))
    page = max(page, 0)
    rows = await session.scalars(
        select(User)
        .where(scope)
        .order_by(*order)
        .offset(page * CANDIDATES_PAGE)
        .limit(CANDIDATES_PAGE)
    )
    total = await session.scalar(select(func.count()).select_from(User).where(scope))
    return target, rows.all(), total or 0


async def successor_of(session: AsyncSession, actor: User, target: User, to_id: int) -> User:
    successor = await session.scalar(
        select(User).where(User.id == to_id, _candidates_scope(actor, target))
    )
    if successor is None:
        raise NotFound()
    return successor


async def preview(
    session: AsyncSession, actor: User, user_id: int, to_id: int
) -> tuple[User, User, Holdings]:
    """What a handover to `to_id` would move, before the actor confirms it."""
    target = await active_target_of(session, actor, user_id)
    successor = await successor_of(session, actor, target, to_id)
    return target, successor, await holdings(session, target.id)


async def _expire_invites(session: AsyncSession, target: User, now: datetime) -> int:
    result = await session.execute(
        update(Invite)
        .where(
            Invite.created_by_id == target.id,
            Invite.used_at.is_(None),
            Invite.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _turn_off(session: AsyncSession, actor: User, target: User, invites: int) -> None:
    target.is_active = False
    details = {"invites_expired": invites} if invites else {}
    AuditRepository(session).record(
        actor.id, AuditAction.USER_DEACTIVATED, "user", target.id, **details
    )


async def deactivate(
    session: AsyncSession, actor: User, user_id: int, *, now: datetime | None = None
) -> User:
    """Turns off a user who has nothing to hand over; HandoverNeeded when they have."""
    target = await target_of(session, actor, user_id)
    if not target.is_active:
        return target
    held = await holdings(session, target.id)
    if not held.empty:
        await session.commit()  # ends the read (and SQLite's write lock) before asking whom
        raise HandoverNeeded(target, held)
    _turn_off(session, actor, target, await _expire_invites(session, target, now or utcnow()))
    await session.commit()
    return target


async def hand_over(
    session: AsyncSession,
    actor: User,
    user_id: int,
    to_id: int,
    *,
    notice: Notice | None = None,
    now: datetime | None = None,
) -> tuple[User, User, Holdings]:
    """Moves the target's work to `to_id` and turns the target off, in one transaction: one
    audit entry with the counts, the deactivation entry, and the new owner's message in the
    outbox (unless the new owner is the actor, who sees the summary on screen)."""
    now = now or utcnow()
    target = await active_target_of(session, actor, user_id)
    successor = await successor_of(session, actor, target, to_id)
    moved = await _move(session, actor, target, successor, now)
    _turn_off(session, actor, target, await _expire_invites(session, target, now))
    AuditRepository(session).record(
        actor.id,
        AuditAction.WORK_HANDED_OVER,
        "user",
        target.id,
        to=successor.id,
        **moved.as_dict(),
    )
    if notice is not None and successor.id != actor.id and not moved.empty:
        await outbox.enqueue(
            session,
            successor,
            f"handover:{target.id}:{successor.id}:{now.isoformat()}",
            notice(successor, moved, target),
            protect=True,
            not_before=now,
        )
    await session.commit()
    return target, successor, moved


async def _move(
    session: AsyncSession, actor: User, target: User, successor: User, now: datetime
) -> Holdings:
    def bulk(model: type, condition: ColumnElement[bool], **values: Any) -> Awaitable[Any]:
        return session.execute(
            update(model)
            .where(condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    # Deals first: "open deals of their clients" is read while the clients are still theirs.
    deals = await bulk(
        Deal, _open_deals_of(target.id), owner_id=successor.id, version=Deal.version + 1
    )
    clients = await bulk(Client, Client.owner_id == target.id, owner_id=successor.id)
    complaint_ids = list(
        await session.scalars(select(Complaint.id).where(_open_complaints_of(target.id)))
    )
    if complaint_ids:
        await bulk(
            Complaint,
            Complaint.id.in_(complaint_ids),
            assignee_id=successor.id,
            version=Complaint.version + 1,
        )
        await session.execute(
            insert(ComplaintChange),
            [
                {
                    "complaint_id": complaint_id,
                    "actor_id": actor.id,
                    "kind": ChangeKind.ASSIGNED.value,
                    "value": str(successor.id),
                    "created_at": now,
                }
                for complaint_id in complaint_ids
            ],
        )
    tasks = await bulk(Task, _open_tasks_of(target.id), owner_id=successor.id)
    surveys = await bulk(Survey, _pending_surveys_of(target.id), owner_id=successor.id)
    return Holdings(
        clients=clients.rowcount or 0,
        open_deals=deals.rowcount or 0,
        complaints=len(complaint_ids),
        tasks=tasks.rowcount or 0,
        surveys=surveys.rowcount or 0,
    )
