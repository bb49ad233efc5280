"""The buttons under a reminder: Done, Snooze, Reschedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.flows import go, step
from bot.handlers.common import leave_question
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import TaskAction, TaskCb
from bot.keyboards.common import nav_keyboard
from bot.services import parsing, tasks
from bot.services.errors import InvalidInput
from bot.states import TaskForm
from db.models import User

handlers = Handlers("reminders")

MORNING = 9


def snooze_until(value: str, now: datetime, user: User) -> datetime:
    if value == "tm":  # tomorrow at 09:00 where the user is
        local = now.astimezone(ZoneInfo(user.timezone))
        morning = (local + timedelta(days=1)).replace(hour=MORNING, minute=0, second=0)
        return morning.replace(microsecond=0).astimezone(now.tzinfo)
    if not value.isdigit() or not 1 <= int(value) <= 24 * 60:
        raise InvalidInput()
    return now + timedelta(minutes=int(value))


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.DONE))
async def done(
    query: CallbackQuery, callback_data: TaskCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    task = await tasks.complete(session, user, callback_data.task_id, clock.now())
    await query.answer(_("Done ✅"))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("✅ Done: {text}").format(text=escape(task.text)), reply_markup=None
        )


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.SNOOZE))
async def snooze(
    query: CallbackQuery, callback_data: TaskCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    now = clock.now()
    task = await tasks.reschedule(
        session, user, callback_data.task_id, snooze_until(callback_data.value, now, user), now
    )
    when = parsing.format_when(task.due_at, ZoneInfo(user.timezone), user.locale)
    await query.answer(_("I'll remind you {when}.").format(when=when))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("⏰ {text}\nSnoozed until {when}.").format(text=escape(task.text), when=when),
            reply_markup=None,
        )


@handlers.callback_query(TaskCb.filter(F.action == TaskAction.RESCHEDULE))
async def reschedule(
    query: CallbackQuery,
    callback_data: TaskCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    task = await tasks.get_task(session, user, callback_data.task_id)
    await query.answer()
    await state.set_data({"task_id": task.id})
    if message := await leave_question(query):
        await go(TaskForm.reschedule, message, state, session, user)


@step(TaskForm.reschedule, expects_text=True)
async def ask_new_date(message: Message, state: FSMContext, session, user) -> None:
    await message.answer(
        _("When should I remind you? For example: 25.12 15:30, завтра 10:00, in 2 hours."),
        reply_markup=nav_keyboard(),
    )


@handlers.message(TaskForm.reschedule, F.text)
async def new_date_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    now = clock.now()
    due = parsing.parse_when(message.text or "", now, ZoneInfo(user.timezone))
    task = await tasks.reschedule(session, user, (await state.get_data())["task_id"], due, now)
    await state.clear()
    await message.answer(
        _("Rescheduled: {text} — {when}").format(
            text=escape(task.text),
            when=parsing.format_when(task.due_at, ZoneInfo(user.timezone), user.locale),
        )
    )
