"""Typed SQLAlchemy models. Times are aware UTC datetimes (see db.types.UTCDateTime)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as the enum's value in a VARCHAR: portable, and new members need no ALTER TYPE.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


class Role(enum.StrEnum):
    MANAGER = "manager"
    HEAD = "head"
    ADMIN = "admin"


class DepartmentKind(enum.StrEnum):
    SALES = "sales"
    MARKETING = "marketing"
    SERVICE = "service"
    OTHER = "other"


class ReferenceKind(enum.StrEnum):
    PRODUCT_LINE = "product_line"
    INDUSTRY = "industry"
    REGION = "region"
    LEAD_SOURCE = "lead_source"
    LOST_REASON = "lost_reason"
    COMPLAINT_CATEGORY = "complaint_category"


class ClientKind(enum.StrEnum):
    COMPANY = "company"
    PERSON = "person"


class ClientStatus(enum.StrEnum):
    LEAD = "lead"
    ACTIVE = "active"
    INACTIVE = "inactive"


class InteractionKind(enum.StrEnum):
    CALL = "call"
    MEETING = "meeting"
    VISIT = "visit"
    MESSAGE = "message"
    EMAIL = "email"


class AttachmentKind(enum.StrEnum):
    PHOTO = "photo"
    VOICE = "voice"
    DOCUMENT = "document"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class DealStage(enum.StrEnum):
    NEW = "new"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"

    @property
    def is_open(self) -> bool:
        return self not in (DealStage.WON, DealStage.LOST)


OPEN_STAGES = (DealStage.NEW, DealStage.QUALIFIED, DealStage.PROPOSAL, DealStage.NEGOTIATION)


class PlanSubject(enum.StrEnum):
    USER = "user"
    DEPARTMENT = "department"


class EventKind(enum.StrEnum):
    DEAL_CREATED = "deal_created"
    DEAL_WON = "deal_won"
    DEAL_LOST = "deal_lost"
    COMPLAINT_OPENED = "complaint_opened"
    COMPLAINT_ASSIGNED = "complaint_assigned"
    COMPLAINT_STATUS = "complaint_status"  # any status change but resolving
    COMPLAINT_RESOLVED = "complaint_resolved"
    COMPLAINT_SEVERITY = "complaint_severity"
    COMPLAINT_REASSIGN_ASKED = "complaint_reassign_asked"
    COMPLAINT_OVERDUE = "complaint_overdue"  # passed its SLA unresolved: escalated, once
    SURVEY_LOW_SCORE = "survey_low_score"
    SURVEY_COMMENT = "survey_comment"  # a comment added to a low score
    SURVEY_PROMOTER = "survey_promoter"


class SurveyKind(enum.StrEnum):
    NPS = "nps"  # 0..10: how likely are you to recommend us
    CSAT = "csat"  # 1..5: how satisfied are you with how we handled ...


class SurveyTrigger(enum.StrEnum):
    DEAL_WON = "deal_won"
    COMPLAINT_RESOLVED = "complaint_resolved"
    PERIODIC = "periodic"
    MANUAL = "manual"


class SurveyStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"
    SKIPPED = "skipped"  # not sent: opted out, unreachable, or asked too recently


class ComplaintSeverity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"

    @property
    def is_active(self) -> bool:
        """Still the service's work: counts for the SLA and the backlog."""
        return self in (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


ACTIVE_COMPLAINT = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker (claim_token, claimed_until)
    SENT = "sent"
    FAILED = "failed"  # permanent: bad request, too many attempts, or the user blocked us


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[DepartmentKind] = mapped_column(_enum(DepartmentKind))
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_department_id", "department_id"),)  # a team's members

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(_enum(Role))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    locale: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The user blocked the bot (403): nothing is sent until they write or unblock it.
    unreachable: Mapped[bool] = mapped_column(default=False)
    # Local "HH:MM" of the morning agenda; None turns it off.
    agenda_time: Mapped[str | None] = mapped_column(String(5), default="09:00")
    agenda_checked_on: Mapped[str | None] = mapped_column(String(10))  # local ISO date
    # Heads and admins: local "HH:MM" of the daily digest (bot/digest.py); None turns it off.
    digest_time: Mapped[str | None] = mapped_column(String(5), default="08:30")
    digest_checked_on: Mapped[str | None] = mapped_column(String(10))  # local ISO date
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")


class ReferenceItem(Base):
    """One entry of an admin-kept list: product lines, industries, regions, lead sources."""

    __tablename__ = "reference_items"
    __table_args__ = (Index("ix_reference_items_kind_archived", "kind", "archived"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReferenceKind] = mapped_column(_enum(ReferenceKind))
    name: Mapped[str] = mapped_column(String(100))
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what sensitive thing. Written in the same transaction as the change itself."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationState(Base):
    """aiogram FSM state and data, so a conversation survives a restart (see db.fsm_storage)."""

    __tablename__ = "conversation_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppSetting(Base):
    """Company-wide switches an admin flips in the bot (e.g. inline search for managers)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        # also created_at: "no contact for N days" (bot.services.clients.stale_condition) is
        # answered from the index alone
        Index("ix_clients_owner_last_contact", "owner_id", "last_contact_at", "created_at"),
        Index("ix_clients_name_key", "name_key"),
        Index("ix_clients_phone", "phone"),
        Index("ix_clients_email", "email"),
        Index("ix_clients_inn", "inn"),
        Index("ix_clients_owner_created", "owner_id", "created_at"),  # KPIs: new clients
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # name_key: folded name without legal forms, for duplicates; search_text: folded name,
    # for "any part of the name" search (SQLite's lower() does not fold Cyrillic).
    name_key: Mapped[str] = mapped_column(String(200))
    search_text: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ClientKind] = mapped_column(_enum(ClientKind))
    status: Mapped[ClientStatus] = mapped_column(_enum(ClientStatus), default=ClientStatus.LEAD)
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164
    phone_digits: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(500))
    inn: Mapped[str | None] = mapped_column(String(12))
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    lead_source_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_contact_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Personal data erased on request (bot/services/erasure.py); the row stays for the KPIs.
    erased_at: Mapped[datetime | None]

    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")
    industry: Mapped[ReferenceItem | None] = relationship(foreign_keys=[industry_id], lazy="joined")
    region: Mapped[ReferenceItem | None] = relationship(foreign_keys=[region_id], lazy="joined")
    lead_source: Mapped[ReferenceItem | None] = relationship(
        foreign_keys=[lead_source_id], lazy="joined"
    )
    contacts: Mapped[list[ContactPerson]] = relationship(
        back_populates="client", lazy="selectin", order_by="ContactPerson.id"
    )


class ContactPerson(Base):
    __tablename__ = "contact_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    telegram_username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(back_populates="contacts")


class Interaction(Base):
    """One entry of the contact log. The next step's due time feeds reminders."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_client_occurred", "client_id", "occurred_at"),
        Index("ix_interactions_next_step_due", "next_step_due_at"),
        # KPIs: contacts by kind, day and client attribute, read from the index alone
        Index("ix_interactions_author_occurred", "author_id", "occurred_at", "kind"),
        Index("ix_interactions_occurred", "occurred_at", "kind", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[InteractionKind] = mapped_column(_enum(InteractionKind))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(String(500))
    next_step_due_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship(lazy="joined")
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="selectin", order_by="Attachment.id", cascade="all, delete-orphan"
    )


class Attachment(Base):
    """A photo, voice note or document kept as a Telegram file id (the file stays on Telegram)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # An attachment belongs to a contact logged or to a complaint.
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), index=True
    )
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AttachmentKind] = mapped_column(_enum(AttachmentKind))
    file_id: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    """A reminder: due work lives here, the scheduler only sweeps this table."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_due", "status", "due_at"),
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[datetime]
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus), default=TaskStatus.OPEN)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL")
    )
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL"), index=True
    )
    reminded_at: Mapped[datetime | None]  # set when the reminder went to the outbox
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship(lazy="joined")
    client: Mapped[Client | None] = relationship(lazy="joined")


class OutboxMessage(Base):
    """A message the bot sends on its own initiative, written in the same transaction as the
    change that caused it and delivered by the outbox worker (bot/services/outbox.py)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deal(Base):
    """A sale in the making. Money is in minor units (kopecks, cents): exact, never a float.

    `version` grows with every change: stage changes are compare-and-set on it, so a double
    tap or two people acting at once change the deal once."""

    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_owner_stage", "owner_id", "stage"),
        Index("ix_deals_client_stage", "client_id", "stage"),
        Index("ix_deals_stage_closed", "stage", "closed_at"),
        # KPIs: deals opened and closed in a period, per owner and company-wide
        Index("ix_deals_owner_created", "owner_id", "created_at"),
        Index("ix_deals_owner_closed", "owner_id", "closed_at"),
        Index("ix_deals_created", "created_at", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    product_line_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stage: Mapped[DealStage] = mapped_column(_enum(DealStage), default=DealStage.NEW)
    expected_close_on: Mapped[date | None]
    summary: Mapped[str | None] = mapped_column(Text)
    lost_reason_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    lost_comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(lazy="joined")
    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")
    product_line: Mapped[ReferenceItem | None] = relationship(
        foreign_keys=[product_line_id], lazy="joined"
    )
    lost_reason: Mapped[ReferenceItem | None] = relationship(
        foreign_keys=[lost_reason_id], lazy="joined"
    )


class DealStageChange(Base):
    """Every stage a deal went through, with who and when (the first row is its creation)."""

    __tablename__ = "deal_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[DealStage | None] = mapped_column(_enum(DealStage))
    to_stage: Mapped[DealStage] = mapped_column(_enum(DealStage))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # the deal's amount at that moment
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Plan(Base):
    """A monthly target for a manager or a department. Revenue is in the default currency."""

    __tablename__ = "plans"
    __table_args__ = (
        UniqueConstraint("month", "subject", "subject_id", name="uq_plans_month_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # "2026-11"
    subject: Mapped[PlanSubject] = mapped_column(_enum(PlanSubject))
    subject_id: Mapped[int]
    revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    deals_won: Mapped[int] = mapped_column(default=0)
    interactions: Mapped[int] = mapped_column(default=0)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """Something other parts react to later (notifications, surveys): written in the same
    transaction as the change itself, consumed by background jobs."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_notified", "notified_at"),
        Index("ix_events_survey_checked", "survey_checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE")
    )
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notified_at: Mapped[datetime | None]  # the notifications job has handled it
    survey_checked_at: Mapped[datetime | None]  # the surveys job has looked at it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Complaint(Base):
    """A client's complaint, from logging to resolution. `version` grows with every change:
    changes are compare-and-set on it, so a double tap changes a complaint once."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_sla", "status", "sla_due_at"),
        Index("ix_complaints_department_status", "department_id", "status"),
        Index("ix_complaints_assignee_status", "assignee_id", "status"),
        Index("ix_complaints_client_status", "client_id", "status"),
        Index("ix_complaints_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    product_line_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    severity: Mapped[ComplaintSeverity] = mapped_column(_enum(ComplaintSeverity))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[ComplaintStatus] = mapped_column(
        _enum(ComplaintStatus), default=ComplaintStatus.OPEN
    )
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The service department whose queue it is in, and the person working on it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sla_due_at: Mapped[datetime]
    escalated_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(lazy="joined")
    category: Mapped[ReferenceItem | None] = relationship(foreign_keys=[category_id], lazy="joined")
    product_line: Mapped[ReferenceItem | None] = relationship(
        foreign_keys=[product_line_id], lazy="joined"
    )
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="selectin", order_by="Attachment.id", cascade="all, delete-orphan"
    )


class ComplaintChange(Base):
    """Every step of a complaint with who, when and a comment: status changes, assignment,
    severity, comments. The first row is its opening."""

    __tablename__ = "complaint_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))  # see services/complaints.py ChangeKind
    from_status: Mapped[ComplaintStatus | None] = mapped_column(_enum(ComplaintStatus))
    to_status: Mapped[ComplaintStatus | None] = mapped_column(_enum(ComplaintStatus))
    value: Mapped[str | None] = mapped_column(String(64))  # a new severity, an assignee's id
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class ClientLink(Base):
    """A personal t.me link a manager gives a client: it links the client's Telegram chat to
    the client record once they agree. Single use, revocable."""

    __tablename__ = "client_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_persons.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientChat(Base):
    """A client's own Telegram chat with the bot: what they agreed to, and whether they opted
    out or blocked the bot. Clients never see staff screens."""

    __tablename__ = "client_chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_persons.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8))
    consented_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]
    unreachable: Mapped[bool] = mapped_column(default=False)
    last_survey_at: Mapped[datetime | None]  # the last survey sent, for the minimum gap
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        """May be asked: agreed, did not opt out, and has not blocked the bot."""
        return self.consented_at is not None and self.opted_out_at is None and not self.unreachable


class Survey(Base):
    """One question to a client about one touchpoint. `touchpoint` is unique ("deal:5",
    "complaint:7", ...), so a touchpoint is never asked twice, nor by both NPS and CSAT."""

    __tablename__ = "surveys"
    __table_args__ = (
        Index("ix_surveys_status_scheduled", "status", "scheduled_at"),
        Index("ix_surveys_client_answered", "client_id", "answered_at"),
        Index("ix_surveys_owner_sent", "owner_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[SurveyKind] = mapped_column(_enum(SurveyKind))
    trigger: Mapped[SurveyTrigger] = mapped_column(_enum(SurveyTrigger))
    status: Mapped[SurveyStatus] = mapped_column(
        _enum(SurveyStatus), default=SurveyStatus.SCHEDULED
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("client_chats.id", ondelete="CASCADE"))
    # The manager the answer counts for (the client's owner when it was asked).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL")
    )
    product_line_id: Mapped[int | None] = mapped_column(ForeignKey("reference_items.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scheduled_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    score: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    voice_file_id: Mapped[str | None] = mapped_column(String(255))
    answered_at: Mapped[datetime | None]
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    alerted_at: Mapped[datetime | None]  # a low score alerted the manager and the head
    loop_closed_at: Mapped[datetime | None]  # a contact was logged with the client after it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(lazy="joined")
    chat: Mapped[ClientChat] = relationship(lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
