"""Events → messages. Services record an Event in the same transaction as a change; this job
decides who is told and queues each message in the outbox in the recipient's language. An
event is marked handled in the transaction that queues its messages, so it is told once.
Whoever caused an event is never told about it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    ComplaintAction,
    ComplaintCb,
    DealAction,
    DealCb,
)
from bot.services import complaints, deals, outbox
from bot.services.money import format_money, to_minor
from bot.services.parsing import format_when
from bot.texts import SEVERITY_MARK, complaint_status_label, severity_label, shorten
from db.models import (
    Complaint,
    ComplaintChange,
    ComplaintSeverity,
    Deal,
    Event,
    EventKind,
    Survey,
    SurveyTrigger,
    User,
)

SNIPPET = 600  # a description quoted in a notification, so the message stays short

DEAL_EVENTS = (EventKind.DEAL_CREATED, EventKind.DEAL_WON, EventKind.DEAL_LOST)
COMPLAINT_EVENTS = tuple(kind for kind in EventKind if kind.value.startswith("complaint_"))
SURVEY_EVENTS = (EventKind.SURVEY_LOW_SCORE, EventKind.SURVEY_COMMENT, EventKind.SURVEY_PROMOTER)


# Deals


def big_deal_text(kind: EventKind, deal: Deal, locale: str) -> str:
    title = {
        EventKind.DEAL_CREATED: _("💼 <b>A big deal is opened</b>"),
        EventKind.DEAL_WON: _("🏆 <b>A big deal is won</b>"),
        EventKind.DEAL_LOST: _("✖ <b>A big deal is lost</b>"),
    }[kind]
    lines = [
        title,
        f"{escape(deal.title)} · {format_money(deal.amount_minor, deal.currency, locale)}",
        _("Client: {client}").format(client=escape(deal.client.name)),
        _("Manager: {name}").format(name=escape(deal.owner.full_name)),
    ]
    if kind is EventKind.DEAL_LOST and deal.lost_reason is not None:
        lines.append(_("Reason: {reason}").format(reason=escape(deal.lost_reason.name)))
    return "\n".join(lines)


async def _big_deal(session: AsyncSession, event: Event, settings: Settings) -> Deal | None:
    """The event's deal when it is big: in the default currency, from BIG_DEAL_AMOUNT."""
    deal = await session.get(Deal, event.deal_id) if event.deal_id else None
    if deal is None or deal.currency != settings.default_currency:
        return None
    return deal if deal.amount_minor >= to_minor(settings.big_deal_amount) else None


# Complaints


def complaint_head(complaint: Complaint, user: User) -> list[str]:
    """The lines every complaint message starts with: number, severity, client, category."""
    mark = SEVERITY_MARK[complaint.severity]
    lines = [
        _("{mark} Complaint #{number} · {severity}").format(
            mark=mark, number=complaint.id, severity=severity_label(complaint.severity)
        ),
        _("Client: {client}").format(client=escape(complaint.client.name)),
    ]
    if complaint.category is not None:
        lines.append(_("Category: {name}").format(name=escape(complaint.category.name)))
    return lines


def complaint_text(
    kind: EventKind,
    complaint: Complaint,
    user: User,
    change: ComplaintChange | None,
    assignee: User | None = None,
) -> str:
    """Says what the change did (its status, severity, assignee, resolution), not how the
    complaint stands now: two changes can fall between two sweeps."""
    zone = ZoneInfo(user.timezone)
    due = format_when(complaint.sla_due_at, zone, user.locale)
    comment = escape(shorten(change.comment, SNIPPET)) if change and change.comment else ""
    if kind is EventKind.COMPLAINT_OPENED:
        title = _("⚠️ <b>New complaint</b>")
        body = [
            escape(shorten(complaint.description, SNIPPET)),
            _("Reported by {name}; to be resolved by {when}.").format(
                name=escape(complaint.reporter.full_name), when=due
            ),
        ]
    elif kind is EventKind.COMPLAINT_ASSIGNED:
        person = assignee or complaint.assignee
        if person is not None and person.id == user.id:
            title = _("📥 <b>A complaint is assigned to you</b>")
        else:
            name = person.full_name if person else "—"
            title = _("📥 <b>Complaint assigned to {name}</b>").format(name=escape(name))
        body = [
            escape(shorten(complaint.description, SNIPPET)),
            _("To be resolved by {when}.").format(when=due),
        ]
    elif kind is EventKind.COMPLAINT_RESOLVED:
        title = _("✅ <b>Complaint resolved</b>")
        resolution = (change.comment if change else None) or complaint.resolution or ""
        body = [_("Resolution: {text}").format(text=escape(shorten(resolution, SNIPPET)))]
    elif kind is EventKind.COMPLAINT_SEVERITY:
        severity = complaint.severity
        if change is not None and change.value in set(ComplaintSeverity):
            severity = ComplaintSeverity(change.value)
        title = _("Severity changed to {severity}").format(severity=severity_label(severity))
        body = [_("To be resolved by {when}.").format(when=due)]
    elif kind is EventKind.COMPLAINT_REASSIGN_ASKED:
        actor = change.actor.full_name if change and change.actor else "—"
        title = _("🔁 <b>{name} asks to reassign a complaint</b>").format(name=escape(actor))
        body = [comment] if comment else []
    elif kind is EventKind.COMPLAINT_OVERDUE:
        title = _("⏰ <b>Complaint overdue</b>: it was to be resolved by {when}.").format(when=due)
        assignee = complaint.assignee.full_name if complaint.assignee else _("nobody yet")
        body = [
            escape(shorten(complaint.description, SNIPPET)),
            _("Status: {status} · assignee: {name}").format(
                status=complaint_status_label(complaint.status), name=escape(assignee)
            ),
        ]
    else:  # COMPLAINT_STATUS
        status = change.to_status if change and change.to_status else complaint.status
        title = _("Complaint status: <b>{status}</b>").format(status=complaint_status_label(status))
        body = [comment] if comment else []
    return "\n".join([title, *complaint_head(complaint, user), *body])


async def _complaint_recipients(
    session: AsyncSession,
    event: Event,
    complaint: Complaint,
    change: ComplaintChange | None,
    assignee: User | None,
) -> list[User]:
    owner = complaint.client.owner
    heads = list(await complaints.queue_heads(session, complaint.department_id))
    kind = event.kind
    if kind is EventKind.COMPLAINT_OPENED:
        # The service head and admins act on it; sales must never visit an angry client unaware.
        return [*heads, *await complaints.admins(session), owner]
    if kind is EventKind.COMPLAINT_ASSIGNED:
        return [u for u in (assignee or complaint.assignee, owner) if u is not None]
    if kind is EventKind.COMPLAINT_RESOLVED:
        return [owner, complaint.reporter]
    if kind is EventKind.COMPLAINT_REASSIGN_ASKED:
        return heads or list(await complaints.admins(session))
    if kind is EventKind.COMPLAINT_OVERDUE:
        people = [*heads]
        if complaint.severity is ComplaintSeverity.CRITICAL or not heads:
            people += await complaints.admins(session)
        if complaint.assignee is not None:
            people.append(complaint.assignee)
        return people
    # A status or severity change: the owner always; the assignee when it came back to them.
    people = [owner]
    status = change.to_status if change and change.to_status else complaint.status
    if complaint.assignee is not None and status.is_active:
        people.append(complaint.assignee)
    return people


async def _assignee_of(session: AsyncSession, change: ComplaintChange | None) -> User | None:
    """Whom an assignment gave the complaint to (it may have been reassigned since)."""
    if change is None or change.kind != complaints.ChangeKind.ASSIGNED.value:
        return None
    if not change.value or not change.value.isdigit():
        return None
    return await session.get(User, int(change.value))


async def _latest_change(session: AsyncSession, event: Event) -> ComplaintChange | None:
    """The history row written with the event (for its comment and actor). Every change but
    a comment is written together with one event, in the same order: the n-th event of a
    complaint goes with its n-th such change. (Matching by time picked a later comment, or
    the wrong one of two changes made in the same instant.)"""
    earlier = await session.scalar(
        select(func.count())
        .select_from(Event)
        .where(
            Event.complaint_id == event.complaint_id,
            Event.kind.in_(COMPLAINT_EVENTS),
            Event.id < event.id,
        )
    )
    return await session.scalar(
        select(ComplaintChange)
        .where(
            ComplaintChange.complaint_id == event.complaint_id,
            ComplaintChange.kind != complaints.ChangeKind.COMMENT.value,
        )
        .order_by(ComplaintChange.id)
        .offset(earlier or 0)
        .limit(1)
    )


def complaint_buttons(complaint: Complaint) -> list[list[dict[str, str]]]:
    return [
        [
            {
                "text": _("⚠️ Open the complaint"),
                "callback_data": ComplaintCb(
                    action=ComplaintAction.OPEN, complaint_id=complaint.id
                ).pack(),
            }
        ]
    ]


def _unique(people: Iterable[User], actor_id: int | None) -> list[User]:
    seen: dict[int, User] = {}
    for person in people:
        if person.id != actor_id and person.id not in seen:
            seen[person.id] = person
    return list(seen.values())


async def notify_events(
    session_factory: async_sessionmaker[AsyncSession],
    i18n: I18n,
    clock: Clock,
    settings: Settings,
) -> int:
    now = clock.now()
    queued = 0
    async with session_factory() as session:
        events = await deals.pending_events(session)
        with i18n.context():
            for event in events:
                event.notified_at = now
                queued += await _notify(session, i18n, event, settings, now)
        await session.commit()
    return queued


async def _notify(
    session: AsyncSession, i18n: I18n, event: Event, settings: Settings, now: datetime
) -> int:
    queued = 0
    if event.kind in DEAL_EVENTS:
        deal = await _big_deal(session, event, settings)
        if deal is None:
            return 0
        # A big deal opened, won or lost is told to the owner's head.
        for head in _unique(await deals.heads_of(session, deal.owner), event.actor_id):
            with i18n.use_locale(head.locale):
                text = big_deal_text(event.kind, deal, head.locale)
                button = {
                    "text": _("💼 Open the deal"),
                    "callback_data": DealCb(action=DealAction.OPEN, deal_id=deal.id).pack(),
                }
            queued += await outbox.enqueue(
                session,
                head,
                f"event:{event.id}:{head.id}",
                text,
                buttons=[[button]],
                protect=True,
                not_before=now,
            )
        return queued
    if event.kind in SURVEY_EVENTS:
        return await _notify_survey(session, i18n, event, now)
    complaint = await session.get(Complaint, event.complaint_id) if event.complaint_id else None
    if complaint is None:
        return 0
    change = await _latest_change(session, event)
    assignee = await _assignee_of(session, change)
    people = _unique(
        await _complaint_recipients(session, event, complaint, change, assignee), event.actor_id
    )
    for person in people:
        with i18n.use_locale(person.locale):
            text = complaint_text(event.kind, complaint, person, change, assignee)
            buttons = complaint_buttons(complaint)
        queued += await outbox.enqueue(
            session,
            person,
            f"event:{event.id}:{person.id}",
            text,
            buttons=buttons,
            protect=True,
            not_before=now,
        )
    return queued


async def escalate_complaints(
    session_factory: async_sessionmaker[AsyncSession], clock: Clock
) -> int:
    """Complaints past their SLA become overdue events (told by notify_events right after)."""
    async with session_factory() as session:
        count = await complaints.escalate_overdue(session, clock.now())
        await session.commit()
    return count


# Surveys


def trigger_text(survey: Survey) -> str:
    if survey.trigger is SurveyTrigger.DEAL_WON and survey.deal_id is not None:
        return _("after the won deal #{number}").format(number=survey.deal_id)
    if survey.trigger is SurveyTrigger.COMPLAINT_RESOLVED and survey.complaint_id is not None:
        return _("after complaint #{number} was resolved").format(number=survey.complaint_id)
    if survey.trigger is SurveyTrigger.MANUAL:
        return _("asked by a manager")
    return _("periodic survey")


def survey_text(kind: EventKind, survey: Survey) -> str:
    score = f"{survey.kind.value.upper()} {survey.score}"
    client = escape(survey.client.name)
    if kind is EventKind.SURVEY_PROMOTER:
        return _(
            "🌟 <b>{client}</b> gave {score} ({trigger}): a good moment to ask for a referral."
        ).format(client=client, score=score, trigger=trigger_text(survey))
    if kind is EventKind.SURVEY_COMMENT:
        comment = (
            escape(shorten(survey.comment, SNIPPET)) if survey.comment else _("🎤 a voice note")
        )
        return _("💬 <b>{client}</b> explained their {score}: {comment}").format(
            client=client, score=score, comment=comment
        )
    lines = [
        _("😟 <b>Low score</b>: {client} gave {score} ({trigger}).").format(
            client=client, score=score, trigger=trigger_text(survey)
        ),
        _("A follow-up task is due within 24 hours: call the client and log the contact."),
    ]
    return "\n".join(lines)


async def _notify_survey(session: AsyncSession, i18n: I18n, event: Event, now: datetime) -> int:
    """A low score (and its comment) goes to the owner manager and their head; a promoter to
    the owner."""
    survey = await session.get(Survey, event.survey_id) if event.survey_id else None
    if survey is None or survey.owner is None:
        return 0
    people = [survey.owner]
    if event.kind is not EventKind.SURVEY_PROMOTER:
        people += await deals.heads_of(session, survey.owner)
    queued = 0
    for person in _unique(people, None):
        with i18n.use_locale(person.locale):
            text = survey_text(event.kind, survey)
            button = {
                "text": _("👤 Open client"),
                "callback_data": ClientCb(
                    action=ClientAction.OPEN, client_id=survey.client_id
                ).pack(),
            }
        queued += await outbox.enqueue(
            session,
            person,
            f"event:{event.id}:{person.id}",
            text,
            buttons=[[button]],
            protect=True,
            not_before=now,
        )
    return queued
