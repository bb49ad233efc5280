"""The outbox: every message the bot sends on its own initiative is a row here first.

Rows are written in the caller's transaction (so a reminder is queued exactly when its task is
marked reminded), then claimed and delivered by bot/delivery.py. The dedupe key is unique: the
same notification can be queued any number of times and is stored once.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ClientChat, OutboxMessage, OutboxStatus, User

LEASE = timedelta(seconds=60)  # a claim older than this is taken to be from a dead worker
MAX_ATTEMPTS = 8


async def enqueue(
    session: AsyncSession,
    recipient: User,
    dedupe_key: str,
    text: str,
    *,
    buttons: list[list[dict[str, str]]] | None = None,
    protect: bool = False,
    not_before: datetime | None = None,
    photo: bytes | None = None,
) -> bool:
    """Queues a message for a staff member in the caller's transaction; False when the user
    blocked the bot or the key was queued before. The caller commits.

    With `photo` (PNG or JPEG bytes, a chart: keep it small) the message is that picture with
    `text` as its caption (1024 characters at most). The bytes travel base64-encoded in the
    row's JSON payload: the row stays self-contained, so any instance can deliver it and it
    goes away with the row, with no files to share or clean up."""
    if recipient.unreachable or not recipient.is_active:
        return False
    return await _insert(
        session,
        recipient.telegram_id,
        recipient.id,
        dedupe_key,
        text,
        buttons,
        protect,
        not_before,
        photo,
    )


async def enqueue_to_client(
    session: AsyncSession,
    chat_id: int,
    dedupe_key: str,
    text: str,
    *,
    buttons: list[list[dict[str, str]]] | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queues a message for a client's chat (a survey); the caller checked their consent."""
    return await _insert(session, chat_id, None, dedupe_key, text, buttons, False, not_before)


async def _insert(
    session: AsyncSession,
    chat_id: int,
    user_id: int | None,
    dedupe_key: str,
    text: str,
    buttons: list[list[dict[str, str]]] | None,
    protect: bool,
    not_before: datetime | None,
    photo: bytes | None = None,
) -> bool:
    payload: dict[str, Any] = {"text": text, "protect": protect}
    if buttons:
        payload["buttons"] = buttons
    if photo is not None:
        payload["photo"] = base64.b64encode(photo).decode("ascii")
    values = {
        "chat_id": chat_id,
        "user_id": user_id,
        "dedupe_key": dedupe_key[:200],
        "payload": payload,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
    }
    if not_before is not None:
        values["next_attempt_at"] = not_before
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


async def claim(session: AsyncSession, now: datetime, limit: int) -> Sequence[OutboxMessage]:
    """Atomically takes up to `limit` due rows for this worker and commits the claim.

    One UPDATE ... RETURNING with a fresh claim token; on PostgreSQL the candidate rows are
    selected FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint rows (on SQLite the
    write transaction itself serializes them). Rows left 'sending' past their lease are taken
    again: their worker died between claiming and marking. If it died after Telegram had
    accepted the message, the message goes out a second time (Telegram has no idempotency
    key): delivery is at least once. The old worker's marks, should it come back, are ignored
    (see _finish). The lease is measured on the claimer's clock: workers' clocks must agree.
    """
    token = str(uuid.uuid4())
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                (OutboxMessage.status == OutboxStatus.PENDING)
                & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == OutboxStatus.SENDING)
                & (OutboxMessage.claimed_until < now),
            )
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(status=OutboxStatus.SENDING, claim_token=token, claimed_until=now + LEASE)
        .returning(OutboxMessage),
        execution_options={"synchronize_session": False},
    )
    claimed = list(rows.all())
    await session.commit()
    return sorted(claimed, key=lambda row: row.id)


async def _finish(session: AsyncSession, row: OutboxMessage, **values: Any) -> None:
    # Only the claimer may finish a row: a row re-claimed after a lease is someone else's.
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.claim_token == row.claim_token)
        .values(claim_token=None, claimed_until=None, **values),
        execution_options={"synchronize_session": False},
    )
    await session.commit()


def _settled_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """What a row keeps once it is sent or given up: all but a picture's bytes (a digest's
    chart is ~300 KB in base64, every head, every day), noted as `had_photo`."""
    if "photo" not in payload:
        return payload
    return {**{k: v for k, v in payload.items() if k != "photo"}, "had_photo": True}


async def mark_sent(
    session: AsyncSession, row: OutboxMessage, now: datetime, message_id: int | None
) -> None:
    await _finish(
        session,
        row,
        payload=_settled_payload(row.payload),
        status=OutboxStatus.SENT,
        sent_at=now,
        telegram_message_id=message_id,
        attempts=row.attempts + 1,
    )


async def mark_retry(
    session: AsyncSession, row: OutboxMessage, at: datetime, error: str, *, count: bool = True
) -> None:
    attempts = row.attempts + (1 if count else 0)
    if attempts >= MAX_ATTEMPTS:
        await mark_failed(session, row, f"gave up after {attempts} attempts: {error}")
        return
    await _finish(
        session,
        row,
        status=OutboxStatus.PENDING,
        next_attempt_at=at,
        attempts=attempts,
        last_error=error[:500],
    )


async def mark_failed(session: AsyncSession, row: OutboxMessage, error: str) -> None:
    await _finish(
        session,
        row,
        payload=_settled_payload(row.payload),
        status=OutboxStatus.FAILED,
        attempts=row.attempts + 1,
        last_error=error[:500],
    )


async def mark_unreachable(session: AsyncSession, chat_id: int) -> None:
    """The user (or client) blocked the bot: stop everything queued for them until they come
    back."""
    for table in (User, ClientChat):
        await session.execute(
            update(table).where(table.telegram_id == chat_id).values(unreachable=True),
            execution_options={"synchronize_session": False},
        )
    pending = OutboxMessage.status == OutboxStatus.PENDING
    queued = await session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(
            OutboxMessage.chat_id == chat_id, pending
        )
    )
    for row_id, payload in queued.all():
        await session.execute(  # still pending: another instance may have claimed it since
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, pending)
            .values(
                status=OutboxStatus.FAILED,
                last_error="the user blocked the bot",
                payload=_settled_payload(payload),
            ),
            execution_options={"synchronize_session": False},
        )
    await session.commit()


async def set_reachable(session: AsyncSession, user: User, reachable: bool) -> None:
    if user.unreachable == (not reachable):
        return
    user.unreachable = not reachable
    await session.commit()
