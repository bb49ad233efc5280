"""The contact log: what happened with a client, and the next step (which reminders use)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import deals, parsing, surveys
from bot.services.clients import get_writable_client
from bot.services.errors import N_, InvalidInput, NotFound
from db.models import Attachment, AttachmentKind, Interaction, InteractionKind, Task, User
from db.types import utcnow

SUMMARY_MAX = 2000
OUTCOME_MAX = 2000
NEXT_STEP_MAX = 500
ATTACHMENTS_MAX = 10


@dataclass(frozen=True)
class AttachmentDraft:
    kind: AttachmentKind
    file_id: str
    file_name: str | None = None


async def log_interaction(
    session: AsyncSession,
    actor: User,
    client_id: int,
    kind: InteractionKind,
    summary: str,
    *,
    outcome: str | None = None,
    next_step: str | None = None,
    next_step_due_at: datetime | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    attachments: Sequence[AttachmentDraft] = (),
    deal_id: int | None = None,
) -> Interaction:
    client = await get_writable_client(session, actor, client_id)
    if deal_id is not None:
        deal = await deals.get_deal(session, actor, deal_id)
        if deal.client_id != client.id:
            raise NotFound()
    if next_step and next_step_due_at is None:
        raise InvalidInput(N_("A next step needs a date."))
    if len(attachments) > ATTACHMENTS_MAX:
        raise InvalidInput(N_("At most {limit} files per record."), limit=ATTACHMENTS_MAX)
    now = utcnow()
    interaction = Interaction(
        client_id=client.id,
        author_id=actor.id,
        kind=kind,
        occurred_at=now,
        summary=parsing.clean_text(summary, limit=SUMMARY_MAX),
        outcome=parsing.clean_text(outcome, limit=OUTCOME_MAX) if outcome else None,
        next_step=parsing.clean_text(next_step, limit=NEXT_STEP_MAX) if next_step else None,
        next_step_due_at=next_step_due_at,
        latitude=latitude,
        longitude=longitude,
        deal_id=deal_id,
        attachments=[
            Attachment(kind=a.kind, file_id=a.file_id, file_name=a.file_name) for a in attachments
        ],
    )
    session.add(interaction)
    if interaction.next_step and next_step_due_at is not None:
        await session.flush()
        # The next step becomes the owner's task, so its reminder fires on time.
        session.add(
            Task(
                owner_id=actor.id,
                text=interaction.next_step,
                due_at=next_step_due_at,
                client_id=client.id,
                interaction_id=interaction.id,
                deal_id=deal_id,
            )
        )
    client.last_contact_at = now
    await deals.touch_client_deals(session, client.id, now)
    await surveys.close_loops(session, client.id, now)
    if latitude is not None and longitude is not None and client.latitude is None:
        # A client's place is learnt from the first visit logged there.
        client.latitude, client.longitude = latitude, longitude
    await session.commit()
    return interaction


def clean_summary(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=SUMMARY_MAX)


def clean_outcome(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=OUTCOME_MAX)


def clean_next_step(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=NEXT_STEP_MAX)


def check_room_for_file(attached: int) -> None:
    if attached >= ATTACHMENTS_MAX:
        raise InvalidInput(N_("At most {limit} files per record."), limit=ATTACHMENTS_MAX)


def moment_from_iso(value: str) -> datetime:
    """A moment kept as ISO text (FSM data, a quick-date button); aware, or refused."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput() from None
    if moment.tzinfo is None:
        raise InvalidInput()
    return moment


def moment_from_minutes(value: str) -> datetime:
    """A moment a quick-date button carries, as Unix minutes (callback data is never trusted)."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidInput()
    return datetime.fromtimestamp(int(value) * 60, UTC)


def interaction_kind(value: str) -> InteractionKind:
    """A kind from callback data, which is never trusted."""
    try:
        return InteractionKind(value)
    except ValueError:
        raise InvalidInput() from None
