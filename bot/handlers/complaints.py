"""⚠️ Complaints: the list (overdue first, then severity, then age), a new complaint, and the
complaint's card with what the user may do with it now.

Every action button carries the card's version: a double tap, or a button pressed after
someone else acted, gets "it has just changed" and the card as it stands, and changes
nothing. Text asked by an action (a comment, a resolution, a reason) is a ComplaintStep with
complaint_id and version in the FSM data.

New complaint (ComplaintForm), FSM data as JSON: client_id, category_id, severity,
product_line_id, description, files ([{kind, file_id, file_name}]), passed (steps passed by
because their list was empty, so Back passes them by too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.flows import Ask, current_step, go, step
from bot.handlers.client_card import start_flow_for_client
from bot.handlers.client_step import ask_for_client, client_step
from bot.handlers.common import leave_question
from bot.handlers.files import attach, attachments
from bot.handlers.registry import Handlers
from bot.keyboards import complaints as kb
from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    ComplaintAction,
    ComplaintCb,
    FormAction,
    FormCb,
)
from bot.keyboards.common import nav_keyboard, skip_keyboard
from bot.services import catalog, clients, complaints
from bot.services.complaints import Act, ChangeKind, ComplaintChanged, ComplaintDraft, View
from bot.services.errors import N_, DomainError, InvalidInput, NotFound
from bot.services.parsing import format_when
from bot.states import ComplaintForm, ComplaintStep
from bot.texts import complaint_status_label, severity_label, shorten
from db.models import (
    AttachmentKind,
    Client,
    Complaint,
    ComplaintChange,
    ComplaintSeverity,
    DepartmentKind,
    ReferenceKind,
    Role,
    User,
)

handlers = Handlers("complaints")

DESCRIPTION_SHOWN_MAX = 1500  # the card and the review stay within Telegram's 4096 characters
COMMENT_SHOWN_MAX = 300
LINE_NAME_MAX = 40
HISTORY_TEXT_MAX = 3900


def _when(moment: datetime, user: User) -> str:
    return format_when(moment, ZoneInfo(user.timezone), user.locale)


def _department_kind(user: User) -> DepartmentKind | None:
    return user.department.kind if user.department is not None else None


def views_for(user: User) -> list[View]:
    """Service staff: theirs and the queue; heads and admins: the department (or all);
    everyone else: complaints on their clients and the ones they reported."""
    service = _department_kind(user) is DepartmentKind.SERVICE
    views = [View.MINE] if service else []
    if user.role in (Role.HEAD, Role.ADMIN):
        views.append(View.QUEUE)
    elif not service:
        views.append(View.CLIENTS)
    return views


def _view_of(value: str, user: User) -> View:
    try:
        view = View(value)
    except ValueError:
        raise NotFound() from None
    if view not in views_for(user):
        raise NotFound()
    return view


def _default_view(user: User) -> View:
    return complaints.default_view(user, _department_kind(user))


# The list


def list_text(
    items: list[Complaint], total: int, page: int, view: View, user: User, now: datetime
) -> str:
    title = _("⚠️ <b>Complaints · {view}</b> ({count})").format(
        view=kb.view_label(view, user), count=total
    )
    if not total:
        return title + "\n" + _("No open complaints here. ➕ New complaint logs one.")
    lines = [title, _("Overdue first, then by severity and age."), ""]
    for index, complaint in enumerate(items):
        number = page * complaints.PAGE_SIZE + index + 1
        parts = [
            f"{number}. {kb.marks(complaint, now)} #{complaint.id} "
            f"<b>{escape(shorten(complaint.client.name, LINE_NAME_MAX))}</b>"
        ]
        if complaint.category is not None:
            parts.append(escape(complaint.category.name))
        parts.append(kb.age_label(complaint, now))
        status = complaint_status_label(complaint.status)
        if complaint.assignee is not None:
            status += f", {escape(complaint.assignee.full_name)}"
        parts.append(status)
        lines.append(" · ".join(parts))
    return "\n".join(lines)


async def _list_view(
    session: AsyncSession, user: User, view: View, page: int, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    page = max(page, 0)
    items, total = await complaints.complaints_page(session, user, view, now, page)
    if not items and page > 0:  # the list got shorter since: its last page
        page = max((total - 1) // complaints.PAGE_SIZE, 0)
        items, total = await complaints.complaints_page(session, user, view, now, page)
    text = list_text(list(items), total, page, view, user, now)
    keyboard = kb.list_keyboard(items, now, user, view, views_for(user), page, total)
    return text, keyboard


async def complaints_screen(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    """The main menu's ⚠️ Complaints: the user's default view. Client data: protected."""
    await state.clear()
    text, keyboard = await _list_view(session, user, _default_view(user), 0, clock.now())
    await message.answer(text, reply_markup=keyboard, protect_content=True)


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.LIST))
async def list_page(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
) -> None:
    view = _view_of(callback_data.value, user)
    text, keyboard = await _list_view(session, user, view, callback_data.page, clock.now())
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


# The card


def card_text(complaint: Complaint, user: User, now: datetime, note: str | None = None) -> str:
    lines = [note, ""] if note else []
    lines.append(
        _("{mark} <b>Complaint #{number}</b> · {severity} · {status}").format(
            mark=kb.marks(complaint, now),
            number=complaint.id,
            severity=severity_label(complaint.severity),
            status=complaint_status_label(complaint.status),
        )
    )
    due = _when(complaint.sla_due_at, user)
    if complaint.status.is_active:
        if complaints.is_overdue(complaint, now):
            lines.append(_("⏰ <b>OVERDUE</b>: it was to be resolved by {when}").format(when=due))
        else:
            lines.append(_("To be resolved by {when}").format(when=due))
    client = complaint.client
    name = escape(client.name) + (f", {escape(client.phone)}" if client.phone else "")
    lines.append(_("Client: {client}").format(client=name))
    lines.append(_("Manager: {name}").format(name=escape(client.owner.full_name)))
    details = []
    if complaint.category is not None:
        details.append(_("Category: {name}").format(name=escape(complaint.category.name)))
    if complaint.product_line is not None:
        details.append(_("Product line: {name}").format(name=escape(complaint.product_line.name)))
    if details:
        lines.append(" · ".join(details))
    lines.append(
        _("Reported by {name} · {when}").format(
            name=escape(complaint.reporter.full_name), when=_when(complaint.created_at, user)
        )
    )
    assignee = complaint.assignee.full_name if complaint.assignee else None
    lines.append(
        _("Assignee: {name}").format(name=escape(assignee))
        if assignee
        else _("Assignee: nobody yet")
    )
    lines += ["", escape(shorten(complaint.description, DESCRIPTION_SHOWN_MAX))]
    if complaint.resolution and not complaint.status.is_active:
        resolution = escape(shorten(complaint.resolution, DESCRIPTION_SHOWN_MAX))
        lines += ["", _("<b>Resolution</b>: {text}").format(text=resolution)]
        if complaint.resolved_at is not None:
            lines.append(_("Resolved {when}").format(when=_when(complaint.resolved_at, user)))
    if complaint.attachments:
        lines.append(_("📎 Files: {count}").format(count=len(complaint.attachments)))
    return "\n".join(lines)


async def _card(
    session: AsyncSession,
    user: User,
    complaint: Complaint,
    settings: Settings,
    now: datetime,
    note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    acts = await complaints.allowed(session, user, complaint, settings, now)
    keyboard = kb.card_keyboard(
        complaint, acts, _default_view(user), has_files=bool(complaint.attachments)
    )
    return card_text(complaint, user, now, note), keyboard


async def send_card(
    message: Message,
    session: AsyncSession,
    user: User,
    complaint: Complaint,
    settings: Settings,
    now: datetime,
    note: str | None = None,
) -> None:
    """As a new message; client data goes out protected (no forwarding, no saving)."""
    text, keyboard = await _card(session, user, complaint, settings, now, note)
    await message.answer(text, reply_markup=keyboard, protect_content=True)


@dataclass(frozen=True)
class Press:
    """A button pressed under a card: what answering it with the card takes."""

    query: CallbackQuery
    session: AsyncSession
    user: User
    settings: Settings
    now: datetime

    async def edit_card(self, complaint: Complaint) -> None:
        if isinstance(self.query.message, Message):
            text, keyboard = await _card(
                self.session, self.user, complaint, self.settings, self.now
            )
            await self.query.message.edit_text(text, reply_markup=keyboard)

    async def show_changed(self, complaint_id: int) -> None:
        """A stale button: say so and show the complaint as it stands; nothing is changed."""
        await self.query.answer(_(ComplaintChanged.message), show_alert=True)
        await self.edit_card(await complaints.get_complaint(self.session, self.user, complaint_id))

    async def checked(self, callback_data: ComplaintCb, act: Act) -> Complaint | None:
        """The complaint when the button is current and the action still the user's to take;
        None when the button was stale (the card is shown again)."""
        complaint = await complaints.get_complaint(
            self.session, self.user, callback_data.complaint_id
        )
        if complaint.version != callback_data.version:
            await self.show_changed(complaint.id)
            return None
        acts = await complaints.allowed(self.session, self.user, complaint, self.settings, self.now)
        if act not in acts:
            raise complaints.NotAllowedNow()
        return complaint

    async def change(
        self,
        complaint_id: int,
        change: Awaitable[Complaint],
        done: Callable[[Complaint], str],
    ) -> None:
        try:
            complaint = await change
        except ComplaintChanged:
            await self.show_changed(complaint_id)
            return
        await self.query.answer(done(complaint))
        await self.edit_card(complaint)


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.OPEN))
async def open_card(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    """From the list or a picker the card replaces the message; from a notification it comes
    as a new message, so the notification stays readable."""
    complaint = await complaints.get_complaint(session, user, callback_data.complaint_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.value == kb.EDIT:
        await Press(query, session, user, settings, clock.now()).edit_card(complaint)
    else:
        await send_card(query.message, session, user, complaint, settings, clock.now())


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.TAKE))
async def take(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    press, cb = Press(query, session, user, settings, clock.now()), callback_data
    await press.change(
        cb.complaint_id,
        complaints.take(session, user, cb.complaint_id, cb.version, now=press.now),
        lambda _complaint: _("▶️ It's yours: in progress."),
    )


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.CLOSE))
async def close(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    press, cb = Press(query, session, user, settings, clock.now()), callback_data
    await press.change(
        cb.complaint_id,
        complaints.close(session, user, cb.complaint_id, cb.version, now=press.now),
        lambda _complaint: _("🔒 Closed."),
    )


def _assigned(complaint: Complaint) -> str:
    name = complaint.assignee.full_name if complaint.assignee else "—"
    return _("👤 Assigned to {name}.").format(name=name)


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.ASSIGN))
async def assign(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    """Without a value: the queue's people to pick from; with a user id: assigned."""
    press, cb = Press(query, session, user, settings, clock.now()), callback_data
    if cb.value:
        if not cb.value.isdigit():
            raise NotFound()
        assignee_id = int(cb.value)
        change = complaints.assign(
            session, user, cb.complaint_id, cb.version, assignee_id, now=press.now
        )
        await press.change(cb.complaint_id, change, _assigned)
        return
    complaint = await press.checked(cb, Act.ASSIGN)
    if complaint is None or not isinstance(query.message, Message):
        return
    people = await complaints.service_people(session, complaint.department_id or 0)
    await query.answer()
    await query.message.edit_text(
        _("Complaint #{number}: who will work on it?").format(number=complaint.id)
        if people
        else _("Nobody is in the service department yet."),
        reply_markup=kb.people_keyboard(complaint, people),
    )


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.SEVERITY))
async def severity(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    """Without a value: the severities to pick from; with one: set, and the SLA counted anew."""
    press, cb = Press(query, session, user, settings, clock.now()), callback_data
    if cb.value:
        chosen = complaints.severity_from(cb.value)
        change = complaints.set_severity(
            session, user, cb.complaint_id, cb.version, chosen, settings, now=press.now
        )
        await press.change(
            cb.complaint_id,
            change,
            lambda c: _("Severity: {severity}; to be resolved by {when}.").format(
                severity=severity_label(c.severity), when=_when(c.sla_due_at, user)
            ),
        )
        return
    complaint = await press.checked(cb, Act.SEVERITY)
    if complaint is None or not isinstance(query.message, Message):
        return
    await query.answer()
    await query.message.edit_text(
        _("Complaint #{number} is {severity} now. How severe is it?").format(
            number=complaint.id, severity=severity_label(complaint.severity)
        ),
        reply_markup=kb.severity_keyboard(complaint),
    )


# History and files


def change_line(change: ComplaintChange, names: Mapping[int, str], user: User) -> str:
    who = escape(change.actor.full_name) if change.actor else _("FieldCRM")
    kind = change.kind
    if kind == ChangeKind.OPENED.value:
        what = _("opened the complaint")
    elif kind == ChangeKind.ASSIGNED.value:
        name = names.get(int(change.value)) if change.value and change.value.isdigit() else None
        what = _("assigned it to {name}").format(name=escape(name or "—"))
    elif kind == ChangeKind.SEVERITY.value:
        label = severity_label(ComplaintSeverity(change.value)) if change.value else "—"
        what = _("severity: {severity}").format(severity=label)
    elif kind == ChangeKind.COMMENT.value:
        what = _("💬 commented")
    elif kind == ChangeKind.REASSIGN_ASKED.value:
        what = _("🔁 asked to reassign it")
    elif kind == ChangeKind.ESCALATED.value:
        what = _("⏰ escalated: past its due time")
    elif change.to_status is not None:
        what = _("status: {status}").format(status=complaint_status_label(change.to_status))
    else:
        what = escape(kind)
    line = f"<b>{_when(change.created_at, user)}</b> · {who}: {what}"
    if change.comment:
        line += "\n" + escape(shorten(change.comment, COMMENT_SHOWN_MAX))
    return line


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.HISTORY))
async def show_history(
    query: CallbackQuery, callback_data: ComplaintCb, session: AsyncSession, user: User
) -> None:
    found = await complaints.history(session, user, callback_data.complaint_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    title = _("🕘 <b>History of complaint #{number}</b>").format(number=found.complaint.id)
    kept: list[str] = []  # the newest entries that fit one message, shown oldest first
    size = len(title)
    for change in found.changes:  # newest first
        entry = change_line(change, found.names, user)
        size += len(entry) + 2
        if size > HISTORY_TEXT_MAX:
            break
        kept.append(entry)
    await query.message.edit_text(
        "\n\n".join([title, *reversed(kept)]),
        reply_markup=kb.back_to_card_keyboard(found.complaint.id),
    )


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.FILES))
async def send_files(
    query: CallbackQuery, callback_data: ComplaintCb, session: AsyncSession, user: User
) -> None:
    complaint = await complaints.get_complaint(session, user, callback_data.complaint_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    for attachment in complaint.attachments:
        send = {
            AttachmentKind.PHOTO: query.message.answer_photo,
            AttachmentKind.VOICE: query.message.answer_voice,
            AttachmentKind.DOCUMENT: query.message.answer_document,
        }[attachment.kind]
        await send(attachment.file_id, protect_content=True)
    if not complaint.attachments:
        await query.message.answer(_("No files yet."))


# Actions that ask for a text: a comment, a resolution, a reason


STEP_OF = {
    ComplaintAction.COMMENT: (Act.COMMENT, ComplaintStep.comment),
    ComplaintAction.RESOLVE: (Act.RESOLVE, ComplaintStep.resolution),
    ComplaintAction.ASK_REASSIGN: (Act.ASK_REASSIGN, ComplaintStep.reassign_reason),
    ComplaintAction.REJECT: (Act.REJECT, ComplaintStep.reject_reason),
    ComplaintAction.REOPEN: (Act.REOPEN, ComplaintStep.reopen_reason),
}


@handlers.callback_query(ComplaintCb.filter(F.action.in_(set(STEP_OF))))
async def ask_for_text(
    query: CallbackQuery,
    callback_data: ComplaintCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    act, target = STEP_OF[callback_data.action]
    press = Press(query, session, user, settings, clock.now())
    complaint = await press.checked(callback_data, act)
    if complaint is None:
        return
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"complaint_id": complaint.id, "version": complaint.version})
        await go(target, query.message, state, session, user)


async def _asked_about(state: FSMContext, session: AsyncSession, user: User) -> Complaint:
    complaint_id = (await state.get_data()).get("complaint_id")
    if not complaint_id:
        raise NotFound()
    return await complaints.get_complaint(session, user, int(complaint_id))


def _about(complaint: Complaint) -> str:
    return _("Complaint #{number} · {client}").format(
        number=complaint.id, client=escape(complaint.client.name)
    )


def _question(icon: str, question: str, *, optional: bool = False) -> Ask:
    """A ComplaintStep's question, headed by the complaint it is about."""

    async def ask(message: Message, state: FSMContext, session: AsyncSession, user: User):
        complaint = await _asked_about(state, session, user)
        await message.answer(
            f"{icon} {_about(complaint)}\n" + _(question),
            reply_markup=skip_keyboard(back=False) if optional else nav_keyboard(),
        )

    return ask


step(ComplaintStep.comment, expects_text=True)(
    _question("💬", N_("Your comment? It goes into the complaint's history."))
)
step(ComplaintStep.resolution, expects_text=True)(
    _question("✅", N_("What was done? The client's manager and the reporter will read it."))
)
step(ComplaintStep.reassign_reason, expects_text=True)(
    _question("🔁", N_("Why should someone else take it? You may skip this."), optional=True)
)
step(ComplaintStep.reject_reason, expects_text=True)(
    _question("⛔", N_("Why is it rejected? The client's manager will read it."))
)
step(ComplaintStep.reopen_reason, expects_text=True)(
    _question("↩️", N_("Why reopen it? What is the client still unhappy about?"))
)


def _typed_change(
    step_name: str | None,
    session: AsyncSession,
    user: User,
    settings: Settings,
    ids: tuple[int, int],
    text: str | None,
    now: datetime,
) -> tuple[Awaitable[Any], str]:
    """The change an answer to a ComplaintStep makes, and what the user is told after it."""
    complaint_id, version = ids
    if step_name == ComplaintStep.comment.state:
        change = complaints.add_comment(session, user, complaint_id, text or "", now=now)
        return change, _("💬 Comment added.")
    if step_name == ComplaintStep.resolution.state:
        change = complaints.resolve(session, user, complaint_id, version, text or "", now=now)
        return change, _("✅ Resolved. The client's manager and the reporter are told.")
    if step_name == ComplaintStep.reassign_reason.state:
        change = complaints.ask_reassign(session, user, complaint_id, version, text, now=now)
        return change, _("🔁 The head of service is asked to reassign it.")
    if step_name == ComplaintStep.reject_reason.state:
        change = complaints.reject(session, user, complaint_id, version, text or "", now=now)
        return change, _("⛔ Rejected. The client's manager is told why.")
    change = complaints.reopen(session, user, complaint_id, version, text or "", settings, now=now)
    return change, _("↩️ Reopened: it is back with the service department.")


async def _answer_step(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
    text: str | None,
) -> None:
    """Applies the answer and shows the card. Bad text raises InvalidInput: the same question
    again. A complaint changed meanwhile, or an action that no longer applies: said so, with
    the card as it stands."""
    data = await state.get_data()
    if not data.get("complaint_id"):  # data from an older version
        await state.clear()
        raise NotFound()
    ids = (int(data["complaint_id"]), int(data.get("version", 0)))
    change, note = _typed_change(
        await state.get_state(), session, user, settings, ids, text, clock.now()
    )
    try:
        await change
    except InvalidInput:
        raise
    except DomainError as error:
        note = _(error.message).format(**error.params)
    await state.clear()
    complaint = await complaints.get_complaint(session, user, ids[0])
    await send_card(message, session, user, complaint, settings, clock.now(), note)


@handlers.message(StateFilter(ComplaintStep), F.text)
async def step_answered(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    await _answer_step(message, state, session, user, settings, clock, message.text or "")


@handlers.callback_query(ComplaintStep.reassign_reason, FormCb.filter(F.action == FormAction.SKIP))
async def reassign_reason_skipped(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    await query.answer()
    if message := await leave_question(query):
        await _answer_step(message, state, session, user, settings, clock, None)


# A new complaint: client → category → severity → product line → description → review


@handlers.callback_query(ComplaintCb.filter(F.action == ComplaintAction.NEW))
async def new_complaint(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({})
        await go(ComplaintForm.client, query.message, state, session, user)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.COMPLAINT))
async def start_for_client(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    """A new complaint about the client whose card the button is on (access checked first)."""
    await start_flow_for_client(
        query, callback_data.client_id, ComplaintForm.category, state, session, user
    )


async def _client(state: FSMContext, session: AsyncSession, user: User) -> Client:
    """The client chosen so far, re-checked for access on every use."""
    client_id = (await state.get_data()).get("client_id")
    if not client_id:
        raise NotFound()
    return await clients.get_client(session, user, int(client_id))


async def _pass_by(
    this: State,
    forward: State,
    backward: State,
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    """A step with nothing to pick is passed by: on, on the way there; back, when Back came
    to it (the FSM data remembers it was passed)."""
    passed = list((await state.get_data()).get("passed", []))
    if this.state in passed:
        passed.remove(this.state)
        target = backward
    else:
        passed.append(this.state)
        target = forward
    await state.update_data(passed=passed)
    await go(target, message, state, session, user)


async def _asked_normally(this: State, state: FSMContext) -> None:
    passed = list((await state.get_data()).get("passed", []))
    if this.state in passed:
        passed.remove(this.state)
        await state.update_data(passed=passed)


@step(ComplaintForm.client, expects_text=True)
async def ask_client(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await ask_for_client(message, session, user, _("⚠️ Which client is complaining?"))


async def client_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User, _clock: Clock
) -> None:
    await go(ComplaintForm.category, message, state, session, user)


client_step(handlers, ComplaintForm.client, ask_client, client_chosen)


@step(ComplaintForm.category, expects_text=False, back=ComplaintForm.client)
async def ask_category(message: Message, state: FSMContext, session: AsyncSession, user: User):
    client = await _client(state, session, user)
    items = await complaints.categories(session, [_(n) for n in complaints.DEFAULT_CATEGORIES])
    if not items:
        await state.update_data(category_id=None)
        await _pass_by(
            ComplaintForm.category,
            ComplaintForm.severity,
            ComplaintForm.client,
            message,
            state,
            session,
            user,
        )
        return
    await _asked_normally(ComplaintForm.category, state)
    await message.answer(
        _("⚠️ <b>{name}</b>: what is the complaint about?").format(name=escape(client.name)),
        reply_markup=kb.items_keyboard(items),
    )


def _item_id(value: str) -> int:
    if not value.isdigit():
        raise InvalidInput()
    return int(value)


@handlers.callback_query(ComplaintForm.category, FormCb.filter(F.action == FormAction.CHOOSE))
async def category_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    item = await catalog.pickable_item(
        session, ReferenceKind.COMPLAINT_CATEGORY, _item_id(callback_data.value)
    )
    await query.answer()
    await state.update_data(category_id=item.id)
    if message := await leave_question(query):
        await go(ComplaintForm.severity, message, state, session, user)


@step(ComplaintForm.severity, expects_text=False, back=ComplaintForm.category)
async def ask_severity(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _("How severe is it? Critical ones are to be resolved first and fastest."),
        reply_markup=kb.severity_choices(),
    )


@handlers.callback_query(ComplaintForm.severity, FormCb.filter(F.action == FormAction.CHOOSE))
async def severity_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    chosen = complaints.severity_from(callback_data.value)
    await query.answer()
    await state.update_data(severity=chosen.value)
    if message := await leave_question(query):
        await go(ComplaintForm.product_line, message, state, session, user)


@step(ComplaintForm.product_line, expects_text=False, back=ComplaintForm.severity)
async def ask_product_line(message: Message, state: FSMContext, session: AsyncSession, user: User):
    items = await catalog.pickable_items(session, ReferenceKind.PRODUCT_LINE)
    if not items:
        await state.update_data(product_line_id=None)
        await _pass_by(
            ComplaintForm.product_line,
            ComplaintForm.description,
            ComplaintForm.severity,
            message,
            state,
            session,
            user,
        )
        return
    await _asked_normally(ComplaintForm.product_line, state)
    await message.answer(
        _("Which product line is it about?"), reply_markup=kb.items_keyboard(items, skip=True)
    )


@handlers.callback_query(
    ComplaintForm.product_line, FormCb.filter(F.action.in_({FormAction.CHOOSE, FormAction.SKIP}))
)
async def product_line_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    item_id = None
    if callback_data.action is FormAction.CHOOSE:
        item = await catalog.pickable_item(
            session, ReferenceKind.PRODUCT_LINE, _item_id(callback_data.value)
        )
        item_id = item.id
    await query.answer()
    await state.update_data(product_line_id=item_id)
    if message := await leave_question(query):
        await go(ComplaintForm.description, message, state, session, user)


@step(ComplaintForm.description, expects_text=True, back=ComplaintForm.product_line)
async def ask_description(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _("What is the client unhappy about? Describe it in a few lines.")
        + "\n"
        + _("A voice note works too; photos and documents you send are attached."),
        reply_markup=nav_keyboard(back=True),
    )


@handlers.message(ComplaintForm.description, F.text)
async def description_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(description=complaints.clean_description(message.text))
    await go(ComplaintForm.review, message, state, session, user)


@handlers.message(ComplaintForm.description, F.voice)
async def description_spoken(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    """A voice note is the description, kept as a file; a text typed before stays."""
    await attach(state, message)
    if not (await state.get_data()).get("description"):
        await state.update_data(description=_("🎤 Voice note"))
    await go(ComplaintForm.review, message, state, session, user)


@handlers.message(
    StateFilter(ComplaintForm.description, ComplaintForm.review), F.photo | F.document | F.voice
)
async def file_sent(message: Message, state: FSMContext, session: AsyncSession, user: User):
    """Attached; at the description step a caption is the description."""
    count = await attach(state, message)
    at_description = await state.get_state() == ComplaintForm.description.state
    if at_description and message.caption:
        await state.update_data(description=complaints.clean_description(message.caption))
        await go(ComplaintForm.review, message, state, session, user)
        return
    await message.answer(_("📎 Attached. Files in this complaint: {count}.").format(count=count))
    current = current_step(await state.get_state())
    if current is not None:
        await current.ask(message, state, session, user)


async def _name_of(session: AsyncSession, kind: ReferenceKind, item_id: Any) -> str | None:
    if not item_id:
        return None
    try:
        return (await catalog.pickable_item(session, kind, int(item_id))).name
    except NotFound:
        return None


async def draft_text(data: dict[str, Any], session: AsyncSession, user: User) -> str:
    client = await _client_of(data, session, user)
    severity = ComplaintSeverity(data["severity"])
    lines = [
        _("Client: {client}").format(client=escape(client.name)),
        _("Severity: {severity}").format(severity=kb.severity_label_with_mark(severity)),
    ]
    category = await _name_of(session, ReferenceKind.COMPLAINT_CATEGORY, data.get("category_id"))
    if category:
        lines.append(_("Category: {name}").format(name=escape(category)))
    line = await _name_of(session, ReferenceKind.PRODUCT_LINE, data.get("product_line_id"))
    if line:
        lines.append(_("Product line: {name}").format(name=escape(line)))
    description = escape(shorten(data.get("description", ""), DESCRIPTION_SHOWN_MAX))
    lines += ["", description]
    if data.get("files"):
        lines.append(_("📎 Files: {count}").format(count=len(data["files"])))
    return "\n".join(lines)


async def _client_of(data: dict[str, Any], session: AsyncSession, user: User) -> Client:
    return await clients.get_client(session, user, int(data["client_id"]))


def _missing_step(data: dict[str, Any]) -> State | None:
    """The first step whose answer is missing (data from an older version), or None."""
    if not data.get("client_id"):
        return ComplaintForm.client
    if not data.get("severity"):
        return ComplaintForm.severity
    if not data.get("description"):
        return ComplaintForm.description
    return None


@step(ComplaintForm.review, expects_text=False, back=ComplaintForm.description)
async def ask_review(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    if missing := _missing_step(data):
        await go(missing, message, state, session, user)
        return
    await message.answer(
        _("<b>Check and save the complaint</b>") + "\n" + await draft_text(data, session, user),
        reply_markup=kb.review_keyboard(),
        protect_content=True,
    )


@handlers.callback_query(ComplaintForm.review, FormCb.filter(F.action == FormAction.SAVE))
async def save(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    data = await state.get_data()
    if missing := _missing_step(data):
        await query.answer()
        if message := await leave_question(query):
            await go(missing, message, state, session, user)
        return
    draft = ComplaintDraft(
        client_id=int(data["client_id"]),
        severity=ComplaintSeverity(data["severity"]),
        description=data["description"],
        category_id=data.get("category_id"),
        product_line_id=data.get("product_line_id"),
        attachments=attachments(data),
    )
    complaint = await complaints.open_complaint(session, user, draft, settings, now=clock.now())
    await state.clear()
    await query.answer(_("Saved ✅"))
    if isinstance(query.message, Message):
        told = (
            _("The service department is told.")
            if complaint.department_id
            else _("There is no service department yet: the administrators are told.")
        )
        text = (
            _("✅ <b>Complaint #{number} is logged.</b>").format(number=complaint.id)
            + " "
            + told
            + "\n"
            + _("To be resolved by {when}.").format(when=_when(complaint.sla_due_at, user))
        )
        await query.message.edit_text(text, reply_markup=kb.saved_keyboard(complaint.id))
