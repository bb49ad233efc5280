"""Erasing a client's personal data on request, keeping the rows the KPIs count.

Erased (personal data, or free text that can hold it):
- the client's name (→ "Erased client #id"), phone, e-mail, INN, address, notes, coordinates;
- their contact persons (deleted) and every file of their contacts and complaints (deleted:
  a Telegram file id is the file itself);
- free text written about them: contact summaries, outcomes and next steps (and a visit's
  coordinates), deal titles (→ "#id"), summaries and loss comments, complaint descriptions,
  resolutions and comments, task texts, survey comments and voice notes;
- their Telegram chats: the Telegram id and name are replaced, the chat is opted out and
  unreachable, so nothing is ever sent there again and the person is no longer recognised;
  their queued messages are dropped and the texts already sent are blanked.

Kept, so company figures do not change: the client row itself (kind, status, industry, region,
lead source, owner, dates), the contact log entries (kind, author, time), deals (amounts,
stages, product line, loss reason), complaints (severity, category, status, times), survey
scores, tasks done. Open tasks about the client are cancelled; their links are revoked and
unanswered surveys skipped. Erasing again changes nothing: the first erasure is the one audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import parsing
from bot.services.access import require_role, visible_clients
from bot.services.audit import AuditAction
from bot.services.errors import NotFound
from db.models import (
    Attachment,
    Client,
    ClientChat,
    ClientLink,
    Complaint,
    ComplaintChange,
    ContactPerson,
    Deal,
    DealStageChange,
    Interaction,
    OutboxMessage,
    OutboxStatus,
    Role,
    Survey,
    SurveyStatus,
    Task,
    TaskStatus,
    User,
)
from db.repositories import AuditRepository, ClientRepository
from db.types import utcnow

ERASED_NAME = "Erased client #{id}"
BLANK = "—"  # what a required free-text column holds once erased


@dataclass(frozen=True)
class Erasure:
    """What an erasure did (all zero when the client had been erased before)."""

    client: Client
    already: bool = False
    contacts: int = 0
    files: int = 0
    chats: int = 0
    links: int = 0
    surveys_skipped: int = 0
    tasks_cancelled: int = 0

    def counts(self) -> dict[str, int]:
        values = asdict(self)
        return {k: v for k, v in values.items() if k not in ("client", "already")}


async def get_erasable(session: AsyncSession, actor: User, client_id: int) -> Client:
    require_role(actor, Role.ADMIN)
    client = await ClientRepository(session).get(client_id, visible_clients(actor))
    if client is None:
        raise NotFound()
    return client


async def erase_client(
    session: AsyncSession, actor: User, client_id: int, *, now: datetime | None = None
) -> Erasure:
    """Admins only. One transaction; idempotent."""
    client = await get_erasable(session, actor, client_id)
    if client.erased_at is not None:
        await session.commit()
        return Erasure(client, already=True)
    now = now or utcnow()

    def bulk(model: type, condition: ColumnElement[bool], **values: Any) -> Any:
        return session.execute(
            update(model)
            .where(condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    interactions = select(Interaction.id).where(Interaction.client_id == client.id)
    complaints = select(Complaint.id).where(Complaint.client_id == client.id)
    deals = select(Deal.id).where(Deal.client_id == client.id)

    chats = await _unlink_chats(session, client.id, now)
    links = await bulk(
        ClientLink,
        (ClientLink.client_id == client.id) & ClientLink.revoked_at.is_(None),
        revoked_at=now,
    )
    skipped = await bulk(
        Survey,
        (Survey.client_id == client.id)
        & Survey.status.in_([SurveyStatus.SCHEDULED, SurveyStatus.SENT]),
        status=SurveyStatus.SKIPPED,
        skip_reason="erased",
    )
    await bulk(Survey, Survey.client_id == client.id, comment=None, voice_file_id=None)
    files = await session.execute(
        delete(Attachment)
        .where(
            or_(
                Attachment.interaction_id.in_(interactions),
                Attachment.complaint_id.in_(complaints),
            )
        )
        .execution_options(synchronize_session=False)
    )
    contacts = await session.execute(
        delete(ContactPerson)
        .where(ContactPerson.client_id == client.id)
        .execution_options(synchronize_session=False)
    )
    await bulk(
        Interaction,
        Interaction.client_id == client.id,
        summary=BLANK,
        outcome=None,
        next_step=None,
        next_step_due_at=None,
        latitude=None,
        longitude=None,
    )
    for deal in await session.scalars(select(Deal).where(Deal.client_id == client.id)):
        deal.title = f"#{deal.id}"
        deal.summary = None
        deal.lost_comment = None
    await bulk(DealStageChange, DealStageChange.deal_id.in_(deals), comment=None)
    await bulk(Complaint, Complaint.client_id == client.id, description=BLANK, resolution=None)
    await bulk(ComplaintChange, ComplaintChange.complaint_id.in_(complaints), comment=None)
    cancelled = await bulk(
        Task,
        (Task.client_id == client.id) & (Task.status == TaskStatus.OPEN),
        status=TaskStatus.CANCELLED,
    )
    await bulk(Task, Task.client_id == client.id, text=BLANK)

    name = ERASED_NAME.format(id=client.id)
    client.name = name
    client.name_key = parsing.normalize_name(name)
    client.search_text = parsing.search_key(name)
    for field in ("phone", "phone_digits", "email", "inn", "address", "notes"):
        setattr(client, field, None)
    client.latitude = client.longitude = None
    client.erased_at = now
    result = Erasure(
        client,
        contacts=contacts.rowcount or 0,
        files=files.rowcount or 0,
        chats=chats,
        links=links.rowcount or 0,
        surveys_skipped=skipped.rowcount or 0,
        tasks_cancelled=cancelled.rowcount or 0,
    )
    AuditRepository(session).record(
        actor.id, AuditAction.CLIENT_ERASED, "client", client.id, **result.counts()
    )
    await session.commit()
    await session.refresh(client)
    return result


async def _unlink_chats(session: AsyncSession, client_id: int, now: datetime) -> int:
    """The client's Telegram chats stop being theirs. The rows stay (survey scores point at
    them) but lose the Telegram id and name: the id becomes the row's negative id (a private
    chat's id is always positive, so it collides with nobody), the chat is opted out and
    unreachable. Messages queued for it are dropped; the texts already sent are blanked."""
    chats = list(await session.scalars(select(ClientChat).where(ClientChat.client_id == client_id)))
    for chat in chats:
        former = chat.telegram_id
        chat.telegram_id = -chat.id
        chat.name = BLANK
        chat.contact_person_id = None
        chat.opted_out_at = chat.opted_out_at or now
        chat.unreachable = True
        queued = (OutboxMessage.chat_id == former) & OutboxMessage.user_id.is_(None)
        await session.execute(
            update(OutboxMessage)
            .where(queued, OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            .values(status=OutboxStatus.FAILED, last_error="the client was erased")
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(OutboxMessage)
            .where(queued)
            .values(chat_id=chat.telegram_id, payload={})
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return len(chats)
