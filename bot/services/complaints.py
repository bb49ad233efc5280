"""Complaints: from a client's complaint to its resolution, with sales and service coordinated.

A new complaint goes to the service department's queue with an SLA due time from its
severity. Who sees a complaint: admins all; whoever may see its client (the owner manager,
their head); the service department whose queue it is in; its assignee and its reporter.
Every change is a compare-and-set on `Complaint.version` and writes one history row and one
event; bot/notifications.py turns events into messages, so a double tap notifies once too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import catalog, parsing, slices
from bot.services.access import visible_clients
from bot.services.clients import get_writable_client
from bot.services.contact_log import ATTACHMENTS_MAX, AttachmentDraft
from bot.services.errors import N_, DomainError, InvalidInput, NotFound
from bot.services.slices import WHOLE_COMPANY, Slice
from db.models import (
    ACTIVE_COMPLAINT,
    Attachment,
    Client,
    Complaint,
    ComplaintChange,
    ComplaintSeverity,
    ComplaintStatus,
    Department,
    DepartmentKind,
    Event,
    EventKind,
    ReferenceItem,
    ReferenceKind,
    Role,
    User,
)
from db.types import epoch_seconds, utcnow

DESCRIPTION_MAX = 3000
COMMENT_MAX = 1000
PAGE_SIZE = 8
HISTORY_MAX = 40

# Offered when the admin has not made the list yet; named in the first asker's language.
DEFAULT_CATEGORIES = (N_("Quality"), N_("Delivery"), N_("Service"), N_("Billing"), N_("Other"))


class ChangeKind(StrEnum):
    OPENED = "opened"
    STATUS = "status"
    ASSIGNED = "assigned"
    SEVERITY = "severity"
    COMMENT = "comment"
    REASSIGN_ASKED = "reassign_asked"
    ESCALATED = "escalated"


class ComplaintChanged(DomainError):
    message = N_("This complaint has just changed. Here is how it stands now.")


class NotAllowedNow(DomainError):
    message = N_("That can't be done with this complaint now.")


def sla_policy(settings: Settings) -> dict[ComplaintSeverity, timedelta]:
    return {
        ComplaintSeverity.CRITICAL: timedelta(hours=settings.sla_critical_hours),
        ComplaintSeverity.HIGH: timedelta(hours=settings.sla_high_hours),
        ComplaintSeverity.MEDIUM: timedelta(hours=settings.sla_medium_hours),
        ComplaintSeverity.LOW: timedelta(hours=settings.sla_low_hours),
    }


def severity_from(value: str) -> ComplaintSeverity:
    try:
        return ComplaintSeverity(value)
    except ValueError:
        raise InvalidInput() from None


def clean_description(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=DESCRIPTION_MAX)


def clean_comment(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=COMMENT_MAX)


def is_overdue(complaint: Complaint, now: datetime) -> bool:
    return complaint.status.is_active and complaint.sla_due_at <= now


# Access


def visible_complaints(actor: User) -> ColumnElement[bool]:
    if not actor.is_active:
        return false()
    if actor.role is Role.ADMIN:
        return true()
    seen_clients = select(Client.id).where(visible_clients(actor)).scalar_subquery()
    conditions = [
        Complaint.client_id.in_(seen_clients),
        Complaint.assignee_id == actor.id,
        Complaint.reporter_id == actor.id,
    ]
    if actor.department_id is not None:
        conditions.append(Complaint.department_id == actor.department_id)
    return or_(*conditions)


def runs_queue(actor: User, complaint: Complaint) -> bool:
    """Assigns, changes severity, closes and rejects: admins and the queue's head."""
    if actor.role is Role.ADMIN:
        return True
    return (
        actor.role is Role.HEAD
        and complaint.department_id is not None
        and actor.department_id == complaint.department_id
    )


def works_on(actor: User, complaint: Complaint) -> bool:
    """Takes and resolves: the assignee; before assignment, anyone in the queue's department."""
    if complaint.assignee_id is not None:
        return complaint.assignee_id == actor.id or runs_queue(actor, complaint)
    queue = complaint.department_id
    return (queue is not None and actor.department_id == queue) or runs_queue(actor, complaint)


async def may_reopen(session: AsyncSession, actor: User, complaint: Complaint) -> bool:
    """The client's owner manager, a head who sees the client or runs the queue, admins."""
    if runs_queue(actor, complaint) or actor.id == complaint.client.owner_id:
        return True
    if actor.role is Role.HEAD:
        seen = await session.scalar(
            select(func.count())
            .select_from(Client)
            .where(Client.id == complaint.client_id, visible_clients(actor))
        )
        return bool(seen)
    return False


class Act(StrEnum):
    """What someone may do with a complaint now: the card offers exactly these."""

    TAKE = "take"
    COMMENT = "comment"
    RESOLVE = "resolve"
    ASK_REASSIGN = "ask_reassign"
    ASSIGN = "assign"
    SEVERITY = "severity"
    CLOSE = "close"
    REJECT = "reject"
    REOPEN = "reopen"


async def allowed(
    session: AsyncSession, actor: User, complaint: Complaint, settings: Settings, now: datetime
) -> set[Act]:
    """The same rules the changes below enforce, asked before showing a button or a question."""
    acts = {Act.COMMENT}
    status = complaint.status
    mine_or_free = complaint.assignee_id in (None, actor.id)
    if status is ComplaintStatus.OPEN and works_on(actor, complaint) and mine_or_free:
        acts.add(Act.TAKE)
    if status.is_active and works_on(actor, complaint):
        acts.add(Act.RESOLVE)
    head = runs_queue(actor, complaint)
    if status.is_active and complaint.assignee_id == actor.id and not head:
        acts.add(Act.ASK_REASSIGN)
    if head and status.is_active:
        acts |= {Act.ASSIGN, Act.SEVERITY, Act.REJECT}
    if head and status is ComplaintStatus.RESOLVED:
        acts.add(Act.CLOSE)
    if (
        status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED)
        and reopen_window_open(complaint, settings, now)
        and await may_reopen(session, actor, complaint)
    ):
        acts.add(Act.REOPEN)
    return acts


async def get_complaint(session: AsyncSession, actor: User, complaint_id: int) -> Complaint:
    complaint = await session.scalar(
        select(Complaint).where(Complaint.id == complaint_id, visible_complaints(actor))
    )
    if complaint is None:
        raise NotFound()
    return complaint


# Reference data


async def categories(session: AsyncSession, names_if_empty: Sequence[str]) -> list[ReferenceItem]:
    """The categories to pick from. A fresh company gets the default five (names translated by
    the caller), which the admin can rename or archive like any list."""
    items = list(await catalog.pickable_items(session, ReferenceKind.COMPLAINT_CATEGORY))
    if items:
        return items
    ever = await session.scalar(
        select(func.count())
        .select_from(ReferenceItem)
        .where(ReferenceItem.kind == ReferenceKind.COMPLAINT_CATEGORY)
    )
    if ever:
        return []  # the admin archived them all
    for name in names_if_empty:
        session.add(ReferenceItem(kind=ReferenceKind.COMPLAINT_CATEGORY, name=name))
    await session.commit()
    return list(await catalog.pickable_items(session, ReferenceKind.COMPLAINT_CATEGORY))


async def service_department(session: AsyncSession) -> Department | None:
    """The queue new complaints go to: the first active service department."""
    return await session.scalar(
        select(Department)
        .where(Department.kind == DepartmentKind.SERVICE, Department.archived.is_(False))
        .order_by(Department.id)
        .limit(1)
    )


async def service_people(session: AsyncSession, department_id: int) -> Sequence[User]:
    rows = await session.scalars(
        select(User)
        .where(User.department_id == department_id, User.is_active.is_(True))
        .order_by(User.full_name, User.id)
    )
    return rows.all()


async def queue_heads(session: AsyncSession, department_id: int | None) -> Sequence[User]:
    if department_id is None:
        return []
    rows = await session.scalars(
        select(User).where(
            User.department_id == department_id,
            User.role == Role.HEAD,
            User.is_active.is_(True),
        )
    )
    return rows.all()


async def admins(session: AsyncSession) -> Sequence[User]:
    rows = await session.scalars(
        select(User).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )
    return rows.all()


async def _next_in_turn(session: AsyncSession, department_id: int) -> User | None:
    """Round-robin: the service person after whoever got the last assigned complaint."""
    people = [p for p in await service_people(session, department_id) if p.role is Role.MANAGER]
    if not people:
        people = list(await service_people(session, department_id))
    if not people:
        return None
    last = await session.scalar(
        select(Complaint.assignee_id)
        .where(Complaint.department_id == department_id, Complaint.assignee_id.is_not(None))
        .order_by(Complaint.id.desc())
        .limit(1)
    )
    ordered = sorted(people, key=lambda p: p.id)
    following = [p for p in ordered if last is not None and p.id > last]
    return following[0] if following else ordered[0]


# Opening


@dataclass(frozen=True)
class ComplaintDraft:
    client_id: int
    severity: ComplaintSeverity
    description: str
    category_id: int | None = None
    product_line_id: int | None = None
    attachments: Sequence[AttachmentDraft] = ()


def _record(
    session: AsyncSession,
    complaint: Complaint,
    actor: User | None,
    kind: ChangeKind,
    *,
    event: EventKind | None,
    from_status: ComplaintStatus | None = None,
    to_status: ComplaintStatus | None = None,
    value: str | None = None,
    comment: str | None = None,
    now: datetime,
) -> None:
    session.add(
        ComplaintChange(
            complaint_id=complaint.id,
            actor_id=actor.id if actor else None,
            kind=kind.value,
            from_status=from_status,
            to_status=to_status,
            value=value,
            comment=comment,
            created_at=now,
        )
    )
    if event is not None:
        session.add(
            Event(
                kind=event,
                client_id=complaint.client_id,
                complaint_id=complaint.id,
                actor_id=actor.id if actor else None,
                created_at=now,
            )
        )


async def open_complaint(
    session: AsyncSession,
    actor: User,
    draft: ComplaintDraft,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> Complaint:
    client = await get_writable_client(session, actor, draft.client_id)
    if draft.category_id is not None:
        await catalog.pickable_item(session, ReferenceKind.COMPLAINT_CATEGORY, draft.category_id)
    if draft.product_line_id is not None:
        await catalog.pickable_item(session, ReferenceKind.PRODUCT_LINE, draft.product_line_id)
    if len(draft.attachments) > ATTACHMENTS_MAX:
        raise InvalidInput(N_("At most {limit} files per record."), limit=ATTACHMENTS_MAX)
    now = now or utcnow()
    department = await service_department(session)
    complaint = Complaint(
        client_id=client.id,
        category_id=draft.category_id,
        product_line_id=draft.product_line_id,
        severity=draft.severity,
        description=clean_description(draft.description),
        status=ComplaintStatus.OPEN,
        reporter_id=actor.id,
        department_id=department.id if department else None,
        sla_due_at=now + sla_policy(settings)[draft.severity],
        created_at=now,
        attachments=[
            Attachment(kind=a.kind, file_id=a.file_id, file_name=a.file_name)
            for a in draft.attachments
        ],
    )
    session.add(complaint)
    await session.flush()
    _record(
        session,
        complaint,
        actor,
        ChangeKind.OPENED,
        event=EventKind.COMPLAINT_OPENED,
        to_status=ComplaintStatus.OPEN,
        now=now,
    )
    if settings.complaint_auto_assign and department is not None:
        assignee = await _next_in_turn(session, department.id)
        if assignee is not None:
            complaint.assignee_id = assignee.id
            _record(
                session,
                complaint,
                None,
                ChangeKind.ASSIGNED,
                event=EventKind.COMPLAINT_ASSIGNED,
                value=str(assignee.id),
                now=now,
            )
    await session.commit()
    return await get_complaint(session, actor, complaint.id)


# Changing: one compare-and-set per change. `now` is the caller's clock (the bot's Clock), so
# the SLA, the history and the escalation sweep all read one time.


async def _current(
    session: AsyncSession, actor: User, complaint_id: int, version: int
) -> Complaint:
    """The complaint as the button saw it: a stale version (a double tap, or someone else
    acted first) is "it has just changed", before asking whether the action still applies."""
    complaint = await get_complaint(session, actor, complaint_id)
    if complaint.version != version:
        raise ComplaintChanged()
    return complaint


async def _apply(
    session: AsyncSession,
    actor: User,
    complaint: Complaint,
    expected_version: int,
    values: Mapping[str, Any],
    kind: ChangeKind,
    *,
    event: EventKind | None,
    now: datetime,
    value: str | None = None,
    comment: str | None = None,
) -> Complaint:
    if complaint.version != expected_version:
        raise ComplaintChanged()
    result = await session.execute(
        update(Complaint)
        .where(Complaint.id == complaint.id, Complaint.version == expected_version)
        .values(version=Complaint.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # someone else's change committed first
        # Nothing was written: end the transaction without a rollback, which would expire
        # everything the caller holds (the acting user too).
        await session.commit()
        raise ComplaintChanged()
    new_status = values.get("status")
    _record(
        session,
        complaint,
        actor,
        kind,
        event=event,
        from_status=complaint.status if new_status else None,
        to_status=new_status,
        value=value,
        comment=comment,
        now=now,
    )
    complaint_id = complaint.id  # read before expiring: an expired id would load lazily
    await session.commit()
    session.expire(complaint)
    return await get_complaint(session, actor, complaint_id)


async def take(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    *,
    now: datetime | None = None,
) -> Complaint:
    complaint = await _current(session, actor, complaint_id, version)
    if complaint.status is not ComplaintStatus.OPEN or not works_on(actor, complaint):
        raise NotAllowedNow()
    values: dict[str, Any] = {"status": ComplaintStatus.IN_PROGRESS}
    if complaint.assignee_id is None:
        values["assignee_id"] = actor.id
    return await _apply(
        session,
        actor,
        complaint,
        version,
        values,
        ChangeKind.STATUS,
        event=EventKind.COMPLAINT_STATUS,
        now=now or utcnow(),
    )


async def assign(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    assignee_id: int,
    *,
    now: datetime | None = None,
) -> Complaint:
    complaint = await _current(session, actor, complaint_id, version)
    if not runs_queue(actor, complaint) or not complaint.status.is_active:
        raise NotAllowedNow()
    people = await service_people(session, complaint.department_id or 0)
    if assignee_id not in {p.id for p in people}:
        raise NotFound()
    if assignee_id == complaint.assignee_id:
        raise ComplaintChanged()
    return await _apply(
        session,
        actor,
        complaint,
        version,
        {"assignee_id": assignee_id},
        ChangeKind.ASSIGNED,
        event=EventKind.COMPLAINT_ASSIGNED,
        now=now or utcnow(),
        value=str(assignee_id),
    )


async def add_comment(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    text: str,
    *,
    now: datetime | None = None,
) -> ComplaintChange:
    complaint = await get_complaint(session, actor, complaint_id)
    change = ComplaintChange(
        complaint_id=complaint.id,
        actor_id=actor.id,
        kind=ChangeKind.COMMENT.value,
        comment=clean_comment(text),
        created_at=now or utcnow(),
    )
    session.add(change)
    await session.commit()
    return change


async def resolve(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    resolution: str,
    *,
    now: datetime | None = None,
) -> Complaint:
    complaint = await _current(session, actor, complaint_id, version)
    if not complaint.status.is_active or not works_on(actor, complaint):
        raise NotAllowedNow()
    text = clean_comment(resolution)
    now = now or utcnow()
    values: dict[str, Any] = {
        "status": ComplaintStatus.RESOLVED,
        "resolution": text,
        "resolved_at": now,
    }
    if complaint.assignee_id is None:
        values["assignee_id"] = actor.id
    return await _apply(
        session,
        actor,
        complaint,
        version,
        values,
        ChangeKind.STATUS,
        event=EventKind.COMPLAINT_RESOLVED,
        now=now,
        comment=text,
    )


async def ask_reassign(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    reason: str | None,
    *,
    now: datetime | None = None,
) -> Complaint:
    complaint = await _current(session, actor, complaint_id, version)
    if complaint.assignee_id != actor.id or not complaint.status.is_active:
        raise NotAllowedNow()
    return await _apply(
        session,
        actor,
        complaint,
        version,
        {},
        ChangeKind.REASSIGN_ASKED,
        event=EventKind.COMPLAINT_REASSIGN_ASKED,
        now=now or utcnow(),
        comment=clean_comment(reason) if reason else None,
    )


async def set_severity(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    severity: ComplaintSeverity,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> Complaint:
    """The SLA is counted again from the complaint's opening with the new severity."""
    complaint = await _current(session, actor, complaint_id, version)
    if not runs_queue(actor, complaint) or not complaint.status.is_active:
        raise NotAllowedNow()
    if severity is complaint.severity:
        raise ComplaintChanged()
    due = complaint.created_at + sla_policy(settings)[severity]
    return await _apply(
        session,
        actor,
        complaint,
        version,
        {"severity": severity, "sla_due_at": due},
        ChangeKind.SEVERITY,
        event=EventKind.COMPLAINT_SEVERITY,
        now=now or utcnow(),
        value=severity.value,
    )


async def close(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    *,
    now: datetime | None = None,
) -> Complaint:
    complaint = await _current(session, actor, complaint_id, version)
    if complaint.status is not ComplaintStatus.RESOLVED or not runs_queue(actor, complaint):
        raise NotAllowedNow()
    now = now or utcnow()
    return await _apply(
        session,
        actor,
        complaint,
        version,
        {"status": ComplaintStatus.CLOSED, "closed_at": now},
        ChangeKind.STATUS,
        event=EventKind.COMPLAINT_STATUS,
        now=now,
    )


async def reject(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Complaint:
    complaint = await _current(session, actor, complaint_id, version)
    if not complaint.status.is_active or not runs_queue(actor, complaint):
        raise NotAllowedNow()
    text = clean_comment(reason)
    now = now or utcnow()
    return await _apply(
        session,
        actor,
        complaint,
        version,
        {"status": ComplaintStatus.REJECTED, "closed_at": now},
        ChangeKind.STATUS,
        event=EventKind.COMPLAINT_STATUS,
        now=now,
        comment=text,
    )


def reopen_window_open(complaint: Complaint, settings: Settings, now: datetime) -> bool:
    resolved_at = complaint.resolved_at or complaint.created_at
    return now - resolved_at <= timedelta(days=settings.complaint_reopen_days)


async def reopen(
    session: AsyncSession,
    actor: User,
    complaint_id: int,
    version: int,
    reason: str,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> Complaint:
    """Within COMPLAINT_REOPEN_DAYS of its resolution, when the client is still unhappy; it
    goes back to its assignee (or the queue) with a fresh SLA. It escalates at most once."""
    complaint = await _current(session, actor, complaint_id, version)
    if complaint.status not in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED):
        raise NotAllowedNow()
    if not await may_reopen(session, actor, complaint):
        raise NotAllowedNow()
    now = now or utcnow()
    if not reopen_window_open(complaint, settings, now):
        raise DomainError(
            N_("It was resolved more than {days} days ago: log a new complaint instead."),
            days=settings.complaint_reopen_days,
        )
    status = ComplaintStatus.IN_PROGRESS if complaint.assignee_id else ComplaintStatus.OPEN
    return await _apply(
        session,
        actor,
        complaint,
        version,
        {
            "status": status,
            "resolved_at": None,
            "closed_at": None,
            "sla_due_at": now + sla_policy(settings)[complaint.severity],
        },
        ChangeKind.STATUS,
        event=EventKind.COMPLAINT_STATUS,
        now=now,
        comment=clean_comment(reason),
    )


async def escalate_overdue(session: AsyncSession, now: datetime) -> int:
    """Marks every unresolved complaint past its SLA as escalated, once, with an event; also
    the ones that fell due while the bot was down. The caller commits."""
    due = await session.scalars(
        select(Complaint.id).where(
            Complaint.status.in_(ACTIVE_COMPLAINT),
            Complaint.sla_due_at <= now,
            Complaint.escalated_at.is_(None),
        )
    )
    escalated = 0
    for complaint_id in due.all():
        result = await session.execute(
            update(Complaint)
            .where(Complaint.id == complaint_id, Complaint.escalated_at.is_(None))
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # another instance got it first
            continue
        session.add(
            ComplaintChange(
                complaint_id=complaint_id, kind=ChangeKind.ESCALATED.value, created_at=now
            )
        )
        client_id = await session.scalar(
            select(Complaint.client_id).where(Complaint.id == complaint_id)
        )
        session.add(
            Event(
                kind=EventKind.COMPLAINT_OVERDUE,
                client_id=client_id,
                complaint_id=complaint_id,
                created_at=now,
            )
        )
        escalated += 1
    return escalated


# Lists


class View(StrEnum):
    MINE = "m"  # assigned to me, then my department's unassigned queue
    QUEUE = "q"  # a head's department: its queue (service) or its clients' complaints (sales)
    CLIENTS = "c"  # on my clients (sales managers), and the ones I reported


_SEVERITY_RANK = case(
    {
        ComplaintSeverity.CRITICAL.value: 0,
        ComplaintSeverity.HIGH.value: 1,
        ComplaintSeverity.MEDIUM.value: 2,
        ComplaintSeverity.LOW.value: 3,
    },
    value=Complaint.severity,
)


def _view_condition(actor: User, view: View) -> ColumnElement[bool]:
    if view is View.MINE:
        mine = Complaint.assignee_id == actor.id
        if actor.department_id is None:
            return mine
        queue = and_(
            Complaint.department_id == actor.department_id, Complaint.assignee_id.is_(None)
        )
        return or_(mine, queue)
    if view is View.QUEUE:
        if actor.role is Role.ADMIN:
            return true()
        if actor.role is not Role.HEAD or actor.department_id is None:
            raise NotFound()
        team = select(User.id).where(User.department_id == actor.department_id)
        return or_(
            Complaint.department_id == actor.department_id,
            Complaint.client_id.in_(
                select(Client.id).where(Client.owner_id.in_(team.scalar_subquery()))
            ),
        )
    seen = select(Client.id).where(visible_clients(actor)).scalar_subquery()
    return or_(Complaint.client_id.in_(seen), Complaint.reporter_id == actor.id)


async def complaints_page(
    session: AsyncSession, actor: User, view: View, now: datetime, page: int = 0
) -> tuple[Sequence[Complaint], int]:
    """Unresolved complaints of a view: overdue first, then by severity, then oldest first."""
    conditions = [
        _view_condition(actor, view),
        visible_complaints(actor),
        Complaint.status.in_(ACTIVE_COMPLAINT),
    ]
    overdue_first = case((Complaint.sla_due_at <= now, 0), else_=1)
    rows = await session.scalars(
        select(Complaint)
        .where(*conditions)
        .order_by(overdue_first, _SEVERITY_RANK, Complaint.created_at, Complaint.id)
        .offset(max(page, 0) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    total = await session.scalar(select(func.count()).select_from(Complaint).where(*conditions))
    return rows.all(), total or 0


def default_view(actor: User, department_kind: DepartmentKind | None) -> View:
    if actor.role in (Role.HEAD, Role.ADMIN):
        return View.QUEUE
    if department_kind is DepartmentKind.SERVICE:
        return View.MINE
    return View.CLIENTS


@dataclass(frozen=True)
class ClientComplaints:
    open: int
    critical: int
    overdue: int


async def client_summary(
    session: AsyncSession, actor: User, client_id: int, now: datetime
) -> ClientComplaints:
    """Unresolved complaints of a client, for its card and for a new deal's warning."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(case((Complaint.severity == ComplaintSeverity.CRITICAL, 1), else_=0)),
                    0,
                ),
                func.coalesce(func.sum(case((Complaint.sla_due_at <= now, 1), else_=0)), 0),
            ).where(
                Complaint.client_id == client_id,
                Complaint.status.in_(ACTIVE_COMPLAINT),
                visible_complaints(actor),
            )
        )
    ).one()
    return ClientComplaints(int(row[0]), int(row[1]), int(row[2]))


@dataclass
class ComplaintHistory:
    complaint: Complaint
    changes: Sequence[ComplaintChange]
    names: Mapping[int, str]  # the people assignments name, by user id


async def history(session: AsyncSession, actor: User, complaint_id: int) -> ComplaintHistory:
    complaint = await get_complaint(session, actor, complaint_id)
    changes = (
        await session.scalars(
            select(ComplaintChange)
            .where(ComplaintChange.complaint_id == complaint.id)
            .order_by(ComplaintChange.created_at.desc(), ComplaintChange.id.desc())
            .limit(HISTORY_MAX)
        )
    ).all()
    ids = {
        int(c.value)
        for c in changes
        if c.kind == ChangeKind.ASSIGNED.value and c.value and c.value.isdigit()
    }
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return ComplaintHistory(complaint, changes, {row[0]: row[1] for row in rows.all()})


async def client_timeline(
    session: AsyncSession,
    actor: User,
    client_id: int,
    since: datetime | None,
    before: datetime | None = None,
) -> Sequence[tuple[ComplaintChange, Complaint]]:
    """Complaint steps on a client (opened, status changes, escalations) in [since, before),
    for one page of the client's history (clients.history_span)."""
    conditions = [
        Complaint.client_id == client_id,
        visible_complaints(actor),
        ComplaintChange.kind.in_(
            [ChangeKind.OPENED.value, ChangeKind.STATUS.value, ChangeKind.ESCALATED.value]
        ),
    ]
    if since is not None:
        conditions.append(ComplaintChange.created_at >= since)
    if before is not None:
        conditions.append(ComplaintChange.created_at < before)
    rows = await session.execute(
        select(ComplaintChange, Complaint)
        .join(Complaint, Complaint.id == ComplaintChange.complaint_id)
        .where(*conditions)
        .order_by(ComplaintChange.created_at.desc())
        .limit(HISTORY_MAX)
    )
    return [(change, complaint) for change, complaint in rows.all()]


# Figures for the KPI issue


@dataclass(frozen=True)
class ComplaintFigures:
    opened: int
    resolved: int
    average_resolution_hours: float | None
    breached: int  # resolved late, or unresolved and past due
    breach_rate: float | None  # breached / (resolved + overdue unresolved), 0..1
    backlog: int  # unresolved at the period's end


async def figures(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    slice: Slice = WHOLE_COMPANY,
) -> ComplaintFigures:
    """Opened and resolved in [start, end), their average resolution time, SLA breaches and
    the backlog at `end`, for a slice (a complaint counts for its client's owner; see
    bot.services.slices). One pass of conditional sums over the slice's complaints opened
    before `end` (every figure is about those): a query per figure read them six times."""
    resolved_in = and_(Complaint.resolved_at >= start, Complaint.resolved_at < end)
    unresolved_at_end = and_(
        or_(Complaint.status.in_(ACTIVE_COMPLAINT), Complaint.resolved_at >= end),
        or_(Complaint.closed_at.is_(None), Complaint.closed_at >= end),
    )
    seconds = epoch_seconds(session, Complaint.resolved_at) - epoch_seconds(
        session, Complaint.created_at
    )

    def count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    row = (
        await session.execute(
            select(
                count(Complaint.created_at >= start),
                count(resolved_in),
                count(resolved_in, Complaint.resolved_at > Complaint.sla_due_at),
                count(unresolved_at_end),
                count(unresolved_at_end, Complaint.sla_due_at < end),
                func.avg(case((resolved_in, seconds))),
            )
            .join(Client, Client.id == Complaint.client_id)
            .where(*(slices.conditions(slice, slices.COMPLAINTS) or []), Complaint.created_at < end)
        )
    ).one()
    opened, resolved, late, backlog, overdue, average = (*map(int, row[:5]), row[5])
    judged, breached = resolved + overdue, late + overdue
    return ComplaintFigures(
        opened=opened,
        resolved=resolved,
        average_resolution_hours=round(float(average) / 3600, 2) if average is not None else None,
        breached=breached,
        breach_rate=breached / judged if judged else None,
        backlog=backlog,
    )
