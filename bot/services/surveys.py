"""Client satisfaction surveys: personal links, consent, scheduling, answers, closing the loop.

A client's chat is linked through a personal link a manager gives them, and only after the
client agrees. Surveys are rows scheduled by triggers (a won deal, a resolved complaint, the
periodic relationship NPS, a manager's request); a sweep sends the due ones through the outbox.
A client is asked at most once per SURVEY_MIN_GAP_DAYS whatever triggers it; every touchpoint
is asked at most once (`surveys.touchpoint` is unique). Answers are compare-and-set on the
survey's status, so replayed or repeated taps never change a stored answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import parsing, slices
from bot.services.clients import get_client, get_writable_client
from bot.services.errors import N_, DomainError, NotFound
from bot.services.slices import WHOLE_COMPANY, Slice
from db.models import (
    Client,
    ClientChat,
    ClientLink,
    Complaint,
    ContactPerson,
    Deal,
    Event,
    EventKind,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    Task,
    User,
)
from db.types import epoch_seconds, utcnow

TOKEN_PREFIX = "c_"  # client links; staff invites never start with it
COMMENT_MAX = 1000
FOLLOW_UP_WITHIN = timedelta(hours=24)
LOOP_WINDOW = timedelta(hours=48)
PERIODIC_WINDOW = (time(10), 10 * 60)  # periodic surveys go out from 10:00, over 10 hours
SCORES = {SurveyKind.NPS: range(0, 11), SurveyKind.CSAT: range(1, 6)}


def is_low(kind: SurveyKind, score: int) -> bool:
    return score <= 6 if kind is SurveyKind.NPS else score <= 3


def is_promoter(kind: SurveyKind, score: int) -> bool:
    return kind is SurveyKind.NPS and score >= 9


class SurveyGone(DomainError):
    """An old, answered, expired or foreign survey button: answered politely, nothing changes."""

    message = N_("Thank you! This question is already closed.")


# Links


def new_token() -> str:
    """Unguessable and URL-safe: 2 + 32 characters, well under Telegram's 64 for /start."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def is_client_token(payload: str | None) -> bool:
    return bool(payload) and payload.startswith(TOKEN_PREFIX)


async def create_link(
    session: AsyncSession, actor: User, client_id: int, contact_person_id: int | None = None
) -> ClientLink:
    """A fresh personal link; the client's earlier unused links stop working."""
    client = await get_writable_client(session, actor, client_id)
    if contact_person_id is not None:
        person = await session.get(ContactPerson, contact_person_id)
        if person is None or person.client_id != client.id:
            raise NotFound()
    now = utcnow()
    await session.execute(
        update(ClientLink)
        .where(
            ClientLink.client_id == client.id,
            ClientLink.used_at.is_(None),
            ClientLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    link = ClientLink(
        token=new_token(),
        client_id=client.id,
        contact_person_id=contact_person_id,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(link)
    await session.commit()
    return link


async def revoke_link(session: AsyncSession, actor: User, link_id: int) -> ClientLink:
    link = await session.get(ClientLink, link_id)
    if link is None:
        raise NotFound()
    await get_client(session, actor, link.client_id)  # access
    if link.revoked_at is None and link.used_at is None:
        link.revoked_at = utcnow()
        await session.commit()
    return link


class LinkState(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"  # never issued, revoked or already used
    STAFF = "staff"
    LINKED = "linked"  # this chat is already a linked client


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    link: ClientLink | None = None
    chat: ClientChat | None = None


async def check_link(
    session: AsyncSession, token: str, telegram_id: int, is_staff: bool
) -> LinkCheck:
    if is_staff:
        return LinkCheck(LinkState.STAFF)
    chat = await chat_of(session, telegram_id)
    if chat is not None:
        return LinkCheck(LinkState.LINKED, chat=chat)
    link = await session.scalar(select(ClientLink).where(ClientLink.token == token))
    if link is None or link.revoked_at is not None or link.used_at is not None:
        return LinkCheck(LinkState.UNKNOWN)
    return LinkCheck(LinkState.VALID, link=link)


async def consent(
    session: AsyncSession, token: str, telegram_id: int, name: str, locale: str, is_staff: bool
) -> ClientChat | None:
    """The client agreed: their chat is linked and the link is used up (a guarded UPDATE, so
    two chats racing for one link get one winner). None when the link no longer works."""
    check = await check_link(session, token, telegram_id, is_staff)
    if check.state is LinkState.LINKED:
        return check.chat
    if check.state is not LinkState.VALID or check.link is None:
        return None
    now = utcnow()
    claimed = await session.execute(
        update(ClientLink)
        .where(
            ClientLink.id == check.link.id,
            ClientLink.used_at.is_(None),
            ClientLink.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        await session.commit()  # nothing was written; a rollback would expire the caller's objects
        return None
    chat = ClientChat(
        telegram_id=telegram_id,
        client_id=check.link.client_id,
        contact_person_id=check.link.contact_person_id,
        name=parsing.clean_text(name or "—", limit=200),
        locale=locale,
        consented_at=now,
    )
    session.add(chat)
    await session.commit()
    return chat


async def chat_of(session: AsyncSession, telegram_id: int) -> ClientChat | None:
    return await session.scalar(select(ClientChat).where(ClientChat.telegram_id == telegram_id))


async def set_opted_out(session: AsyncSession, chat: ClientChat, opted_out: bool) -> ClientChat:
    """/stop opts out (pending surveys are skipped); /start opts back in."""
    now = utcnow()
    chat.opted_out_at = now if opted_out else None
    chat.unreachable = False
    if opted_out:
        await session.execute(
            update(Survey)
            .where(
                Survey.chat_id == chat.id,
                Survey.status.in_([SurveyStatus.SCHEDULED, SurveyStatus.SENT]),
            )
            .values(status=SurveyStatus.SKIPPED, skip_reason="opted_out")
            .execution_options(synchronize_session=False)
        )
    await session.commit()
    return chat


async def mark_unreachable(session: AsyncSession, telegram_id: int) -> None:
    """The client blocked the bot (403): they are skipped until they write again."""
    await session.execute(
        update(ClientChat)
        .where(ClientChat.telegram_id == telegram_id)
        .values(unreachable=True)
        .execution_options(synchronize_session=False)
    )


# Scheduling


async def _active_chat(session: AsyncSession, client_id: int) -> ClientChat | None:
    """The client's chat to ask: the most recently linked one that may be asked."""
    return await session.scalar(
        select(ClientChat)
        .where(
            ClientChat.client_id == client_id,
            ClientChat.consented_at.is_not(None),
            ClientChat.opted_out_at.is_(None),
            ClientChat.unreachable.is_(False),
        )
        .order_by(ClientChat.id.desc())
        .limit(1)
    )


async def _schedule(
    session: AsyncSession,
    *,
    touchpoint: str,
    kind: SurveyKind,
    trigger: SurveyTrigger,
    client: Client,
    at: datetime,
    deal_id: int | None = None,
    complaint_id: int | None = None,
    product_line_id: int | None = None,
    requested_by_id: int | None = None,
) -> Survey | None:
    """A survey row, unless the touchpoint was asked already or the client has no chat."""
    chat = await _active_chat(session, client.id)
    if chat is None:
        return None
    taken = await session.scalar(select(Survey.id).where(Survey.touchpoint == touchpoint))
    if taken is not None:
        return None
    survey = Survey(
        touchpoint=touchpoint,
        kind=kind,
        trigger=trigger,
        client_id=client.id,
        chat_id=chat.id,
        owner_id=client.owner_id,
        deal_id=deal_id,
        complaint_id=complaint_id,
        product_line_id=product_line_id,
        requested_by_id=requested_by_id,
        scheduled_at=at,
    )
    session.add(survey)
    await session.flush()
    return survey


async def schedule_from_events(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """A won deal asks NPS, a resolved complaint asks CSAT, after their delays. The caller
    commits; each event is looked at once."""
    events = await session.scalars(
        select(Event)
        .where(
            Event.survey_checked_at.is_(None),
            Event.kind.in_([EventKind.DEAL_WON, EventKind.COMPLAINT_RESOLVED]),
        )
        .order_by(Event.id)
        .limit(200)
    )
    scheduled = 0
    for event in events.all():
        event.survey_checked_at = now
        if event.kind is EventKind.DEAL_WON and event.deal_id is not None:
            deal = await session.get(Deal, event.deal_id)
            if deal is None:
                continue
            survey = await _schedule(
                session,
                touchpoint=f"deal:{deal.id}",
                kind=SurveyKind.NPS,
                trigger=SurveyTrigger.DEAL_WON,
                client=deal.client,
                at=event.created_at + timedelta(hours=settings.survey_nps_delay_hours),
                deal_id=deal.id,
                product_line_id=deal.product_line_id,
            )
        elif event.complaint_id is not None:
            complaint = await session.get(Complaint, event.complaint_id)
            if complaint is None:
                continue
            survey = await _schedule(
                session,
                touchpoint=f"complaint:{complaint.id}",
                kind=SurveyKind.CSAT,
                trigger=SurveyTrigger.COMPLAINT_RESOLVED,
                client=complaint.client,
                at=event.created_at + timedelta(hours=settings.survey_csat_delay_hours),
                complaint_id=complaint.id,
                product_line_id=complaint.product_line_id,
            )
        else:
            continue
        scheduled += survey is not None
    # Events of other kinds are not the surveys' business: mark them looked at too.
    await session.execute(
        update(Event)
        .where(
            Event.survey_checked_at.is_(None),
            Event.kind.not_in([EventKind.DEAL_WON, EventKind.COMPLAINT_RESOLVED]),
        )
        .values(survey_checked_at=now)
        .execution_options(synchronize_session=False)
    )
    return scheduled


def periodic_moment(chat_id: int, day: datetime, zone: ZoneInfo) -> datetime:
    """When a chat's periodic survey goes out on a day: spread over 10:00–20:00 local time
    by the chat's id, so a thousand clients are not all asked in the same minute."""
    start, minutes = PERIODIC_WINDOW
    local = datetime.combine(day.astimezone(zone).date(), start, zone)
    return local + timedelta(minutes=(chat_id * 7919) % minutes)


async def schedule_periodic(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """A relationship NPS for every linked client not asked for SURVEY_PERIODIC_DAYS (nor
    waiting for a survey), at their spread moment today (or tomorrow once it passed)."""
    since = now - timedelta(days=settings.survey_periodic_days)
    recent = exists().where(
        Survey.chat_id == ClientChat.id,
        or_(
            Survey.status == SurveyStatus.SCHEDULED,
            Survey.sent_at >= since,
            Survey.created_at >= since,
        ),
    )
    due = await session.scalars(
        select(ClientChat)
        .where(
            ClientChat.consented_at.is_not(None),
            ClientChat.consented_at <= since,
            ClientChat.opted_out_at.is_(None),
            ClientChat.unreachable.is_(False),
            ~recent,
        )
        .limit(500)
    )
    zone = ZoneInfo(settings.default_timezone)
    scheduled = 0
    for chat in due.all():
        at = periodic_moment(chat.id, now, zone)
        if at < now:
            at = periodic_moment(chat.id, now + timedelta(days=1), zone)
        day = at.astimezone(zone).date().isoformat()
        survey = await _schedule(
            session,
            touchpoint=f"periodic:{chat.id}:{day}",
            kind=SurveyKind.NPS,
            trigger=SurveyTrigger.PERIODIC,
            client=chat.client,
            at=at,
        )
        scheduled += survey is not None
    return scheduled


async def ask_now(
    session: AsyncSession, actor: User, client_id: int, settings: Settings, now: datetime
) -> Survey:
    """ "Ask for feedback" on a client card: an NPS now, within the same limits as the rest."""
    client = await get_writable_client(session, actor, client_id)
    chat = await _active_chat(session, client.id)
    if chat is None:
        raise DomainError(
            N_("This client hasn't linked their Telegram or has opted out: give them the link.")
        )
    pending = await session.scalar(
        select(Survey.id).where(
            Survey.chat_id == chat.id,
            Survey.status.in_([SurveyStatus.SCHEDULED, SurveyStatus.SENT]),
        )
    )
    if pending is not None:
        raise DomainError(N_("A question to this client is already waiting for an answer."))
    if _too_soon(chat, now, timedelta(days=settings.survey_min_gap_days)):
        raise DomainError(
            N_("This client was asked recently: at most one question every {days} days."),
            days=settings.survey_min_gap_days,
        )
    survey = await _schedule(
        session,
        touchpoint=f"manual:{client.id}:{int(now.timestamp())}",
        kind=SurveyKind.NPS,
        trigger=SurveyTrigger.MANUAL,
        client=client,
        at=now,
        requested_by_id=actor.id,
    )
    if survey is None:
        raise DomainError(N_("A question to this client is already waiting for an answer."))
    await session.commit()
    return survey


def _too_soon(chat: ClientChat, now: datetime, gap: timedelta) -> bool:
    return chat.last_survey_at is not None and now - chat.last_survey_at < gap


# Sending


async def due_for_sending(
    session: AsyncSession, now: datetime, settings: Settings
) -> Sequence[Survey]:
    """Surveys whose moment came, marked sent (the caller queues their messages and commits).
    Ones for an opted-out or unreachable client, or asked too soon after the last one, are
    skipped with the reason."""
    rows = await session.scalars(
        select(Survey)
        .where(Survey.status == SurveyStatus.SCHEDULED, Survey.scheduled_at <= now)
        .order_by(Survey.scheduled_at, Survey.id)
        .limit(200)
    )
    gap = timedelta(days=settings.survey_min_gap_days)
    sending = []
    for survey in rows.all():
        chat = survey.chat
        if chat.opted_out_at is not None or chat.consented_at is None:
            survey.status, survey.skip_reason = SurveyStatus.SKIPPED, "opted_out"
        elif chat.unreachable:
            survey.status, survey.skip_reason = SurveyStatus.SKIPPED, "unreachable"
        elif _too_soon(chat, now, gap):
            survey.status, survey.skip_reason = SurveyStatus.SKIPPED, "too_soon"
        else:
            survey.status = SurveyStatus.SENT
            survey.sent_at = now
            survey.expires_at = now + timedelta(days=settings.survey_expiry_days)
            chat.last_survey_at = now
            sending.append(survey)
    return sending


async def waiting_survey(session: AsyncSession, chat: ClientChat, now: datetime) -> Survey | None:
    """The survey the client can still answer, if any."""
    return await session.scalar(
        select(Survey)
        .where(
            Survey.chat_id == chat.id,
            Survey.status == SurveyStatus.SENT,
            Survey.expires_at > now,
        )
        .order_by(Survey.sent_at.desc())
        .limit(1)
    )


async def expire(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        update(Survey)
        .where(Survey.status == SurveyStatus.SENT, Survey.expires_at <= now)
        .values(status=SurveyStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# Answers


async def answer(
    session: AsyncSession, telegram_id: int, survey_id: int, score: int, now: datetime
) -> Survey:
    """Stores the score once. A low score alerts the owner and their head (an event) and gives
    the owner a follow-up task due within 24 h; a promoter is flagged to the owner."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.chat.telegram_id != telegram_id:
        raise SurveyGone()
    if score not in SCORES[survey.kind]:
        raise SurveyGone()
    if survey.status is SurveyStatus.SENT and survey.expires_at and survey.expires_at <= now:
        raise SurveyGone()
    low = is_low(survey.kind, score)
    result = await session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.status == SurveyStatus.SENT)
        .values(
            status=SurveyStatus.ANSWERED,
            score=score,
            answered_at=now,
            alerted_at=now if low else None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # answered already (a second tap), expired or skipped
        await session.commit()  # nothing was written; a rollback would expire the caller's objects
        raise SurveyGone()
    if low:
        session.add(
            Event(
                kind=EventKind.SURVEY_LOW_SCORE,
                client_id=survey.client_id,
                survey_id=survey.id,
                created_at=now,
            )
        )
        if survey.owner_id is not None:
            session.add(
                Task(
                    owner_id=survey.owner_id,
                    text=parsing.clean_text(
                        f"{survey.kind.value.upper()} {score}: {survey.client.name}", limit=500
                    ),
                    due_at=now + FOLLOW_UP_WITHIN,
                    client_id=survey.client_id,
                )
            )
    elif is_promoter(survey.kind, score):
        session.add(
            Event(
                kind=EventKind.SURVEY_PROMOTER,
                client_id=survey.client_id,
                survey_id=survey.id,
                created_at=now,
            )
        )
    await session.commit()
    await session.refresh(survey)
    return survey


async def add_comment(
    session: AsyncSession,
    telegram_id: int,
    survey_id: int,
    now: datetime,
    *,
    text: str | None = None,
    voice_file_id: str | None = None,
) -> Survey:
    """The optional comment after a score, once; a low score's comment is passed on too."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.chat.telegram_id != telegram_id:
        raise SurveyGone()
    values = {}
    if text:
        values["comment"] = parsing.clean_text(text, limit=COMMENT_MAX)
    if voice_file_id:
        values["voice_file_id"] = voice_file_id
    result = await session.execute(
        update(Survey)
        .where(
            Survey.id == survey.id,
            Survey.status == SurveyStatus.ANSWERED,
            Survey.comment.is_(None),
            Survey.voice_file_id.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.commit()  # nothing was written; a rollback would expire the caller's objects
        raise SurveyGone()
    if survey.alerted_at is not None:
        session.add(
            Event(
                kind=EventKind.SURVEY_COMMENT,
                client_id=survey.client_id,
                survey_id=survey.id,
                created_at=now,
            )
        )
    await session.commit()
    await session.refresh(survey)
    return survey


async def close_loops(session: AsyncSession, client_id: int, now: datetime) -> None:
    """A contact logged with a client closes the loop of its low scores alerted before. The
    caller commits."""
    await session.execute(
        update(Survey)
        .where(
            Survey.client_id == client_id,
            Survey.alerted_at.is_not(None),
            Survey.loop_closed_at.is_(None),
        )
        .values(loop_closed_at=now)
        .execution_options(synchronize_session=False)
    )


# Reading


async def client_answers(
    session: AsyncSession, actor: User, client_id: int, limit: int = 3
) -> Sequence[Survey]:
    """The client's latest answers, for the card."""
    await get_client(session, actor, client_id)
    rows = await session.scalars(
        select(Survey)
        .where(Survey.client_id == client_id, Survey.status == SurveyStatus.ANSWERED)
        .order_by(Survey.answered_at.desc(), Survey.id.desc())
        .limit(limit)
    )
    return rows.all()


async def client_timeline(
    session: AsyncSession,
    actor: User,
    client_id: int,
    since: datetime | None,
    before: datetime | None = None,
) -> Sequence[Survey]:
    """The client's answers in [since, before), for one page of its history."""
    await get_client(session, actor, client_id)
    conditions = [Survey.client_id == client_id, Survey.status == SurveyStatus.ANSWERED]
    if since is not None:
        conditions.append(Survey.answered_at >= since)
    if before is not None:
        conditions.append(Survey.answered_at < before)
    rows = await session.scalars(
        select(Survey).where(*conditions).order_by(Survey.answered_at.desc()).limit(30)
    )
    return rows.all()


async def client_link_state(
    session: AsyncSession, actor: User, client_id: int
) -> ClientChat | None:
    await get_client(session, actor, client_id)
    return await session.scalar(
        select(ClientChat)
        .where(ClientChat.client_id == client_id)
        .order_by(ClientChat.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class SurveyFigures:
    sent: int
    answered: int
    response_rate: float | None  # answered / sent
    nps: float | None  # % promoters − % detractors, −100..100
    nps_answers: int
    csat_average: float | None  # 1..5
    csat_satisfied: float | None  # share of 4 and 5, 0..1
    csat_answers: int
    alerts: int  # low scores
    loops_closed_48h: int


async def figures(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    slice: Slice = WHOLE_COMPANY,
) -> SurveyFigures:
    """Survey figures for surveys sent in [start, end), for a slice (a survey counts for the
    manager it was asked for; see bot.services.slices). SQL aggregates only."""
    filters: list[ColumnElement[bool]] = [Survey.sent_at >= start, Survey.sent_at < end]
    filters += slices.conditions(slice, slices.SURVEYS) or []
    answered = Survey.status == SurveyStatus.ANSWERED
    nps = and_(answered, Survey.kind == SurveyKind.NPS)
    csat = and_(answered, Survey.kind == SurveyKind.CSAT)

    def count(condition: ColumnElement[bool]):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = (
        await session.execute(
            select(
                func.count(Survey.id),
                count(answered),
                count(nps),
                count(and_(nps, Survey.score >= 9)),
                count(and_(nps, Survey.score <= 6)),
                count(csat),
                func.avg(case((csat, Survey.score), else_=None)),
                count(and_(csat, Survey.score >= 4)),
                count(Survey.alerted_at.is_not(None)),
                count(
                    and_(
                        Survey.loop_closed_at.is_not(None),
                        epoch_seconds(session, Survey.loop_closed_at)
                        - epoch_seconds(session, Survey.alerted_at)
                        <= LOOP_WINDOW.total_seconds(),
                    )
                ),
            )
            .join(Client, Client.id == Survey.client_id)
            .where(*filters)
        )
    ).one()
    sent, answered_n, nps_n, promoters, detractors, csat_n, csat_avg, satisfied, alerts, closed = (
        int(v) if v is not None and i != 6 else v for i, v in enumerate(row)
    )
    return SurveyFigures(
        sent=sent,
        answered=answered_n,
        response_rate=answered_n / sent if sent else None,
        nps=round((promoters - detractors) * 100 / nps_n, 1) if nps_n else None,
        nps_answers=nps_n,
        csat_average=round(float(csat_avg), 2) if csat_avg is not None else None,
        csat_satisfied=satisfied / csat_n if csat_n else None,
        csat_answers=csat_n,
        alerts=alerts,
        loops_closed_48h=closed,
    )
