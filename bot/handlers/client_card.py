"""The client card, its history and files: what a manager reads before a visit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.flows import go
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import ClientAction, ClientCb
from bot.keyboards.clients import card_keyboard
from bot.keyboards.common import pager_row
from bot.services import clients, complaints, deals, surveys, tasks
from bot.services.clients import HISTORY_PAGE, ClientOverview
from bot.services.complaints import ChangeKind, ClientComplaints
from bot.services.deals import Sums
from bot.services.money import format_sums
from bot.services.parsing import format_when
from bot.services.tasks import HistoryTasks
from bot.texts import (
    SEVERITY_MARK,
    client_status_label,
    complaint_status_label,
    interaction_kind_label,
    shorten,
)
from db.models import (
    AttachmentKind,
    Client,
    ClientChat,
    ClientKind,
    Complaint,
    ComplaintChange,
    Interaction,
    Survey,
    Task,
    User,
)
from db.types import utcnow

handlers = Handlers("client_card")


# Telegram allows 4096 characters a message: long free text is shortened in lists and cards.
ENTRY_TEXT_MAX = 300
NOTES_MAX = 600
CARD_CONTACTS_MAX = 5
ANSWER_COMMENT_MAX = 200


def local(moment: datetime, user: User) -> datetime:
    return moment.astimezone(ZoneInfo(user.timezone))


def open_deals_line(count: int, sums: Sums, user: User) -> str:
    """ "💼 Open deals: 2 · 1,5 млн ₽"; several currencies are summed apart, biggest first."""
    biggest = max(sums, key=lambda currency: sums[currency])
    return _("💼 Open deals: {count} · {sums}").format(
        count=count, sums=format_sums(sums, user.locale, biggest)
    )


NO_COMPLAINTS = ClientComplaints(0, 0, 0)


@dataclass(frozen=True)
class CardExtras:
    """What other parts of the CRM add to a client's card: open deals, unresolved complaints,
    the client's last survey answers and whether their Telegram is linked."""

    open_deals: tuple[int, Sums] = (0, {})
    complaints: ClientComplaints = NO_COMPLAINTS
    answers: Sequence[Survey] = ()
    chat: ClientChat | None = None


async def card_extras(session: AsyncSession, user: User, client_id: int) -> CardExtras:
    return CardExtras(
        open_deals=await deals.client_open_deals(session, user, client_id),
        complaints=await complaints.client_summary(session, user, client_id, utcnow()),
        answers=await surveys.client_answers(session, user, client_id),
        chat=await surveys.client_link_state(session, user, client_id),
    )


def complaints_line(summary: ClientComplaints) -> str:
    line = _("⚠️ Open complaints: {count}").format(count=summary.open)
    if summary.critical:
        line += " · " + _("critical: {count}").format(count=summary.critical)
    if summary.overdue:
        line += " · " + _("⏰ overdue: {count}").format(count=summary.overdue)
    return line


def answer_line(survey: Survey, user: User) -> str:
    assert survey.answered_at is not None
    when = format_when(survey.answered_at, ZoneInfo(user.timezone), user.locale)
    mark = "😟" if surveys.is_low(survey.kind, survey.score or 0) else "⭐"
    text = f"{mark} {survey.kind.value.upper()} {survey.score} · {when}"
    if survey.comment:
        text += f" — “{escape(shorten(survey.comment, ANSWER_COMMENT_MAX))}”"
    elif survey.voice_file_id:
        text += " — 🎤"
    return text


def card_text(overview: ClientOverview, user: User, extras: CardExtras | None = None) -> str:
    extras = extras or CardExtras()
    client = overview.client
    icon = "🏢" if client.kind is ClientKind.COMPANY else "👤"
    lines = [
        f"{icon} <b>{escape(client.name)}</b> · {client_status_label(client.status)}",
        _("Owner: {name}").format(name=escape(client.owner.full_name)),
    ]
    for prefix, value in (
        ("📞", client.phone),
        ("✉️", client.email),
        (_("INN"), client.inn),
        ("📍", client.address),
    ):
        if value:
            lines.append(f"{prefix} {escape(value)}")
    details = [
        f"{label}: {escape(item.name)}"
        for label, item in (
            (_("Industry"), client.industry),
            (_("Region"), client.region),
            (_("Lead source"), client.lead_source),
        )
        if item is not None
    ]
    if details:
        lines.append(" · ".join(details))
    for person in client.contacts[:CARD_CONTACTS_MAX]:
        extra = ", ".join(escape(v) for v in (person.position, person.phone, person.email) if v)
        lines.append(f"👤 {escape(person.name)}" + (f" ({extra})" if extra else ""))
    if len(client.contacts) > CARD_CONTACTS_MAX:
        lines.append(_("…and {count} more").format(count=len(client.contacts) - CARD_CONTACTS_MAX))
    lines.append("")
    if client.last_contact_at:
        days = (local(utcnow(), user).date() - local(client.last_contact_at, user).date()).days
        lines.append(
            _("Last contact: {when} ({days} days ago)").format(
                when=format_when(client.last_contact_at, ZoneInfo(user.timezone), user.locale),
                days=days,
            )
        )
    else:
        lines.append(_("No contacts logged yet."))
    if overview.next_step is not None and overview.next_step.next_step_due_at is not None:
        lines.append(
            _("Next step: {step} — {when}").format(
                step=escape(overview.next_step.next_step or ""),
                when=format_when(
                    overview.next_step.next_step_due_at, ZoneInfo(user.timezone), user.locale
                ),
            )
        )
    count, sums = extras.open_deals
    if count and sums:
        lines.append(open_deals_line(count, sums, user))
    if extras.complaints.open:
        lines.append(complaints_line(extras.complaints))
    if extras.answers:
        lines.append(_("Client's answers:"))
        lines += [answer_line(survey, user) for survey in extras.answers]
    if extras.chat is not None and extras.chat.opted_out_at is not None:
        lines.append(_("🔕 The client opted out of surveys."))
    if client.notes:
        lines.append(_("Notes: {notes}").format(notes=escape(shorten(client.notes, NOTES_MAX))))
    return "\n".join(lines)


async def send_card(message: Message, session: AsyncSession, user: User, client_id: int) -> None:
    """Sends the card as a new message. Client data is sent protected: no forwarding, no saving."""
    overview = await clients.overview(session, user, client_id)
    extras = await card_extras(session, user, client_id)
    await message.answer(
        card_text(overview, user, extras),
        reply_markup=card_keyboard(overview.client, user, has_files=overview.files > 0),
        protect_content=True,
    )


async def edit_card(message: Message, session: AsyncSession, user: User, client_id: int) -> None:
    overview = await clients.overview(session, user, client_id)
    extras = await card_extras(session, user, client_id)
    await message.edit_text(
        card_text(overview, user, extras),
        reply_markup=card_keyboard(overview.client, user, has_files=overview.files > 0),
    )


async def start_flow_for_client(
    query: CallbackQuery,
    client_id: int,
    target: State,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    **data: Any,
) -> None:
    """A button on a client's card starts a flow about that client (access checked first, and
    an erased client refused: every such flow records something about them)."""
    client = await clients.get_writable_client(session, user, client_id)
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"client_id": client.id, **data})
        await go(target, query.message, state, session, user)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.OPEN))
async def open_card(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    await clients.get_client(session, user, callback_data.client_id)  # not found → refused
    await query.answer()
    if isinstance(query.message, Message):
        await edit_card(query.message, session, user, callback_data.client_id)


def history_entry(entry: Interaction, user: User) -> str:
    when = format_when(entry.occurred_at, ZoneInfo(user.timezone), user.locale)
    line = _("{kind} · {when} · {author}").format(
        kind=interaction_kind_label(entry.kind), when=when, author=escape(entry.author.full_name)
    )
    text = f"<b>{line}</b>\n{escape(shorten(entry.summary, ENTRY_TEXT_MAX))}"
    if entry.outcome:
        outcome = shorten(entry.outcome, ENTRY_TEXT_MAX)
        text += "\n" + _("Outcome: {outcome}").format(outcome=escape(outcome))
    if entry.next_step and entry.next_step_due_at:
        text += "\n" + _("Next step: {step} — {when}").format(
            step=escape(entry.next_step),
            when=format_when(entry.next_step_due_at, ZoneInfo(user.timezone), user.locale),
        )
    if entry.attachments:
        text += f"\n📎 {len(entry.attachments)}"
    return text


TASK_TEXT_MAX = 150


def complaint_entry(change: ComplaintChange, complaint: Complaint, user: User) -> str:
    """A complaint's step in the client's history: opened, a status change, an escalation."""
    when = format_when(change.created_at, ZoneInfo(user.timezone), user.locale)
    mark = SEVERITY_MARK[complaint.severity]
    if change.kind == ChangeKind.ESCALATED:
        what = _("overdue: escalated")
    elif change.kind == ChangeKind.OPENED:
        what = _("opened")
    else:
        what = complaint_status_label(change.to_status) if change.to_status else "—"
    line = _("{mark} Complaint #{number} · {what} · {when}").format(
        mark=mark, number=complaint.id, what=what, when=when
    )
    text = f"<b>{line}</b>"
    if change.kind == ChangeKind.OPENED:
        text += "\n" + escape(shorten(complaint.description, ENTRY_TEXT_MAX))
    elif change.comment:
        text += "\n" + escape(shorten(change.comment, ENTRY_TEXT_MAX))
    return text


def answer_entry(survey: Survey, user: User) -> str:
    """A client's survey answer in their history."""
    return "<b>" + _("Client's answer") + "</b>\n" + answer_line(survey, user)


def open_task_line(task: Task, user: User, now: datetime) -> str:
    when = format_when(task.due_at, ZoneInfo(user.timezone), user.locale)
    mark = "⚠️ " if task.due_at < now else ""
    text = escape(shorten(task.text, TASK_TEXT_MAX))
    return f"• {mark}{when} — {text} · {escape(task.owner.full_name)}"


def done_task_entry(task: Task, user: User) -> str:
    assert task.done_at is not None
    line = _("✅ Task done · {when} · {author}").format(
        when=format_when(task.done_at, ZoneInfo(user.timezone), user.locale),
        author=escape(task.owner.full_name),
    )
    return f"<b>{line}</b>\n{escape(shorten(task.text, TASK_TEXT_MAX))}"


def history_view(
    client: Client,
    entries: list[Interaction],
    total: int,
    page: int,
    user: User,
    *,
    with_tasks: HistoryTasks | None = None,
    now: datetime | None = None,
    more: Sequence[tuple[datetime, str]] = (),
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of the timeline, newest first: contacts logged and tasks done in the same
    span; the first page starts with the open tasks."""
    done = list(with_tasks.done) if with_tasks else []
    count = total + (with_tasks.done_total if with_tasks else 0)
    title = _("<b>History: {name}</b> ({count})").format(name=escape(client.name), count=count)
    parts = []
    if with_tasks and with_tasks.open:
        lines = [open_task_line(task, user, now or utcnow()) for task in with_tasks.open]
        parts.append(_("<b>⏰ Open tasks</b>") + "\n" + "\n".join(lines))
    timeline = [(entry.occurred_at, history_entry(entry, user)) for entry in entries]
    timeline += [(task.done_at, done_task_entry(task, user)) for task in done if task.done_at]
    timeline += list(more)
    parts += [text for _moment, text in sorted(timeline, key=lambda item: item[0], reverse=True)]
    if (page + 1) * HISTORY_PAGE >= total:  # the oldest page ends where the client began
        parts.append(
            _("➕ Added to the base · {when}").format(
                when=format_when(client.created_at, ZoneInfo(user.timezone), user.locale)
            )
        )
    text = title + "\n\n" + "\n\n".join(parts)
    pages = pager_row(
        page,
        total,
        lambda p: ClientCb(action=ClientAction.HISTORY, client_id=client.id, page=p).pack(),
        page_size=HISTORY_PAGE,
    )
    back = InlineKeyboardButton(
        text=_("← Card"),
        callback_data=ClientCb(action=ClientAction.OPEN, client_id=client.id).pack(),
    )
    return text, InlineKeyboardMarkup(inline_keyboard=[row for row in (pages, [back]) if row])


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.HISTORY))
async def show_history(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    page = max(callback_data.page, 0)
    client, entries, total = await clients.history(session, user, callback_data.client_id, page)
    found = await tasks.history_page_tasks(session, user, client.id, page, entries, total)
    since, before = await clients.history_span(session, user, client.id, page, entries, total)
    steps = await complaints.client_timeline(session, user, client.id, since, before)
    answers = await surveys.client_timeline(session, user, client.id, since, before)
    more = [
        (change.created_at, complaint_entry(change, complaint, user)) for change, complaint in steps
    ]
    more += [(a.answered_at, answer_entry(a, user)) for a in answers if a.answered_at]
    await query.answer()
    if isinstance(query.message, Message):
        text, keyboard = history_view(
            client, list(entries), total, page, user, with_tasks=found, now=clock.now(), more=more
        )
        await query.message.edit_text(text, reply_markup=keyboard)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.FILES))
async def send_files(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    files = await clients.files(session, user, callback_data.client_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    for attachment in files:
        send = {
            AttachmentKind.PHOTO: query.message.answer_photo,
            AttachmentKind.VOICE: query.message.answer_voice,
            AttachmentKind.DOCUMENT: query.message.answer_document,
        }[attachment.kind]
        await send(attachment.file_id, protect_content=True)
    if not files:
        await query.message.answer(_("No files yet."))
