"""✅ Tasks: the user's open tasks, and new ones: from the list, from a client's card, or typed
as a sentence anywhere outside a flow ("напомни завтра в 10 позвонить Иванову").

A task's card carries the reminder's own buttons; Done, Snooze and Reschedule are handled in
bot/handlers/reminders.py for both.

FSM data holds JSON values only, so a restart mid-flow continues: text, client_id, due (ISO,
UTC: a sentence had a date but nothing to remind about), find_client (a sentence: link the
client named in the text), quick ({key: Unix minutes}: the quick dates as shown).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.flows import go, step
from bot.handlers.client_card import start_flow_for_client
from bot.handlers.common import leave_question
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import ClientAction, ClientCb, FormAction, FormCb, TaskAction, TaskCb
from bot.keyboards.common import nav_keyboard
from bot.keyboards.contact_log import due_keyboard
from bot.keyboards.tasks import added_keyboard, task_card_keyboard, tasks_keyboard
from bot.services import clients, contact_log, parsing, tasks
from bot.services.errors import N_, InvalidInput
from bot.services.tasks import DueGroup
from bot.states import TaskForm
from bot.texts import shorten
from db.models import Client, Task, TaskStatus, User

handlers = Handlers("tasks")

LINE_TEXT_MAX = 120  # a task's text in the list; the card shows it whole


def _zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone)


def _when(moment: datetime, user: User) -> str:
    return parsing.format_when(moment, _zone(user), user.locale)


def client_text(client: Client) -> str:
    text = escape(client.name)
    if client.phone:
        text += f", {escape(client.phone)}"
    return _("Client: {client}").format(client=text)


# The list


def group_title(group: DueGroup) -> str:
    return {
        DueGroup.OVERDUE: _("⚠️ <b>Overdue</b>"),
        DueGroup.TODAY: _("📅 <b>Today</b>"),
        DueGroup.UPCOMING: _("🗓 <b>Upcoming</b>"),
    }[group]


def list_view(
    page_tasks: list[Task], total: int, page: int, user: User, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    """Soonest first, under Overdue / Today / Upcoming, times in the user's zone."""
    if not total:
        text = _(
            "✅ <b>Your tasks</b>\nNo open tasks. Tap ➕ New task, or just write to me: "
            "“remind me tomorrow 10am to call Petrov”."
        )
        return text, tasks_keyboard([], 0, 0)
    lines = [_("✅ <b>Your tasks</b> ({count})").format(count=total)]
    shown = []
    current = None
    for index, task in enumerate(page_tasks):
        number = page * tasks.PAGE_SIZE + index + 1
        group = tasks.due_group(task.due_at, now, _zone(user))
        if group is not current:
            lines += ["", group_title(group)]
            current = group
        overdue = group is DueGroup.OVERDUE
        line = f"{'⚠️ ' if overdue else ''}{number}. {_when(task.due_at, user)} — "
        line += escape(shorten(task.text, LINE_TEXT_MAX))
        if task.client is not None:
            line += f" · {escape(task.client.name)}"
        lines.append(line)
        shown.append((number, task, overdue))
    lines += ["", _("Tap a task to close, snooze or move it.")]
    return "\n".join(lines), tasks_keyboard(shown, page, total)


async def tasks_screen(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    await state.clear()
    page_tasks, total = await tasks.open_tasks(session, user)
    text, keyboard = list_view(list(page_tasks), total, 0, user, clock.now())
    await message.answer(text, reply_markup=keyboard, protect_content=True)


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.PAGE))
async def tasks_page(
    query: CallbackQuery, callback_data: TaskCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    page = max(callback_data.page, 0)
    page_tasks, total = await tasks.open_tasks(session, user, page)
    if not page_tasks and page > 0:  # the list got shorter since: its last page
        page = max((total - 1) // tasks.PAGE_SIZE, 0)
        page_tasks, total = await tasks.open_tasks(session, user, page)
    await query.answer()
    if isinstance(query.message, Message):
        text, keyboard = list_view(list(page_tasks), total, page, user, clock.now())
        await query.message.edit_text(text, reply_markup=keyboard)


def card_text(task: Task, user: User, now: datetime) -> str:
    lines = [f"⏰ <b>{escape(task.text)}</b>"]
    if task.client is not None:
        lines.append(client_text(task.client))
    when = _when(task.due_at, user)
    if task.due_at < now:
        lines.append(_("⚠️ Overdue: it was due {when}").format(when=when))
    else:
        lines.append(_("Due {when}").format(when=when))
    return "\n".join(lines)


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.OPEN))
async def open_task(
    query: CallbackQuery, callback_data: TaskCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    task = await tasks.get_task(session, user, callback_data.task_id)
    if task.status is not TaskStatus.OPEN:
        raise InvalidInput(N_("This task is already closed."))
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            card_text(task, user, clock.now()),
            reply_markup=task_card_keyboard(task, callback_data.page),
        )


# A new task: what, then when


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.NEW))
async def new_task(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({})
        await go(TaskForm.text, query.message, state, session, user)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.REMIND))
async def new_task_for_client(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await start_flow_for_client(query, callback_data.client_id, TaskForm.text, state, session, user)


async def _linked_client(state: FSMContext, session: AsyncSession, user: User) -> Client | None:
    """The client chosen for the task, re-checked for access on every use."""
    client_id = (await state.get_data()).get("client_id")
    return await clients.get_client(session, user, int(client_id)) if client_id else None


@step(TaskForm.text, expects_text=True)
async def ask_text(message: Message, state: FSMContext, session: AsyncSession, user: User):
    client = await _linked_client(state, session, user)
    question = _("What should I remind you about?")
    if client is not None:
        question = f"<b>{escape(client.name)}</b>\n{question}"
    await message.answer(question, reply_markup=nav_keyboard())


@handlers.message(TaskForm.text, F.text)
async def text_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    text = parsing.clean_text(message.text, limit=tasks.TEXT_MAX)
    await state.update_data(text=text)
    due = (await state.get_data()).get("due")
    now = clock.now()
    if due and contact_log.moment_from_iso(due) > now:  # a sentence gave the date already
        await _save(message, state, session, user, now, contact_log.moment_from_iso(due))
        return
    await _ask_due(message, state, session, user, now)


async def _ask_due(
    message: Message, state: FSMContext, session: AsyncSession, user: User, now: datetime
) -> None:
    """The quick dates are fixed when the question is first asked (the step's question has no
    clock): a button then means the day it was shown for, also after a restart."""
    quick = parsing.quick_dates(now, _zone(user))
    minutes = {key: int(moment.timestamp()) // 60 for key, moment in quick.items()}
    await state.update_data(quick=minutes, due=None)
    await go(TaskForm.due, message, state, session, user)


@step(TaskForm.due, expects_text=True, back=TaskForm.text)
async def ask_due(message: Message, state: FSMContext, session: AsyncSession, user: User):
    quick = {
        key: contact_log.moment_from_minutes(str(minutes))
        for key, minutes in (await state.get_data()).get("quick", {}).items()
    }
    await message.answer(
        _(
            "When? Tap a day, or type a date and time, for example: 25.12, 25.12 15:30, "
            "tomorrow 10am, in 3 days."
        ),
        reply_markup=due_keyboard(quick),
    )


@handlers.message(TaskForm.due, F.text)
async def due_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    now = clock.now()
    due = parsing.parse_when(message.text or "", now, _zone(user))
    await _save(message, state, session, user, now, due)


@handlers.callback_query(TaskForm.due, FormCb.filter(F.action == FormAction.CHOOSE))
async def due_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
) -> None:
    now = clock.now()
    due = contact_log.moment_from_minutes(callback_data.value)
    if due <= now:  # a day shown yesterday: the question again, with today's days
        await query.answer(_(parsing.WHEN_PAST), show_alert=True)
        if message := await leave_question(query):
            await _ask_due(message, state, session, user, now)
        return
    await query.answer()
    if message := await leave_question(query):
        await _save(message, state, session, user, now, due)


async def _save(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    now: datetime,
    due: datetime,
) -> None:
    data = await state.get_data()
    if not data.get("text"):  # data from an older version: ask for the text again
        await go(TaskForm.text, message, state, session, user)
        return
    client = await _linked_client(state, session, user)
    if client is None and data.get("find_client"):
        task, client = await tasks.add_requested(session, user, data["text"], due, now)
    else:
        task = await tasks.add_task(
            session, user, data["text"], due, now, client_id=client.id if client else None
        )
    await state.clear()
    lines = [f"⏰ {escape(task.text)}"]
    if client is not None:
        lines.append(client_text(client))
    lines.append(_("I'll remind you {when}.").format(when=_when(task.due_at, user)))
    await _answer_added(message, task, "\n".join(lines))


async def _answer_added(message: Message, task: Task, text: str) -> None:
    """Client data goes out protected: no forwarding, no saving."""
    await message.answer(
        text, reply_markup=added_keyboard(task), protect_content=task.client_id is not None
    )


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.CANCEL))
async def undo(query: CallbackQuery, callback_data: TaskCb, session: AsyncSession, user: User):
    task = await tasks.cancel(session, user, callback_data.task_id)
    await query.answer(_("Cancelled."))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("↩️ Cancelled: {text}").format(text=escape(task.text)), reply_markup=None
        )


# A request typed as a sentence, outside any flow


def request_examples() -> str:
    return _(
        "Write the date and what to do, for example:\n"
        "• напомни завтра в 10 позвонить Иванову\n"
        "• remind me on Friday 15:00 to send the offer"
    )


@handlers.message(StateFilter(None), F.text.regexp(tasks.REQUEST))
async def remind_request(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    now = clock.now()
    body = tasks.request_body(message.text or "")
    try:
        due, what = tasks.parse_request(body, now, _zone(user))
    except InvalidInput as error:
        await _request_without_date(message, state, session, user, now, body, error)
        return
    if not what:  # a date and nothing else: ask what to remind about
        await state.set_data({"find_client": True, "due": due.isoformat()})
        await go(TaskForm.text, message, state, session, user)
        return
    task, client = await tasks.add_requested(session, user, what, due, now)
    lines = [f"⏰ {escape(task.text)} — {_when(task.due_at, user)}"]
    if client is not None:
        lines.append(client_text(client))
    await _answer_added(message, task, "\n".join(lines))


async def _request_without_date(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    now: datetime,
    body: str,
    error: InvalidInput,
) -> None:
    """Only the trigger: the usual questions. No date: the hint, then the date alone.
    A date in the past: the hint, nothing kept."""
    if not body:
        await state.set_data({"find_client": True})
        await go(TaskForm.text, message, state, session, user)
    elif error.message == parsing.WHEN_PAST:
        await message.answer(_(error.message) + "\n" + request_examples())
    else:
        text = parsing.clean_text(tasks.request_text(body), limit=tasks.TEXT_MAX)
        await state.set_data({"find_client": True, "text": text})
        await message.answer(_("I couldn't find a date in that.") + "\n" + request_examples())
        await _ask_due(message, state, session, user, now)
