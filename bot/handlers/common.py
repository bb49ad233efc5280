"""Leaving or stepping back in any flow; help; showing the main menu."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows import current_step, go
from bot.handlers.registry import Handlers
from bot.keyboards import menu
from bot.keyboards.callbacks import FormAction, FormCb, Nav, NavAction
from bot.texts import help_text
from db.models import User

handlers = Handlers("common")


async def show_menu(message: Message, user: User, text: str) -> None:
    await message.answer(text, reply_markup=menu.main_menu(user))


async def leave_question(query: CallbackQuery) -> Message | None:
    """The question's message without its buttons (they are answered), or None if gone."""
    if not isinstance(query.message, Message):
        return None
    await query.message.edit_reply_markup(reply_markup=None)
    return query.message


def skip_step(handlers: Handlers, this: State, target: State, **cleared: None) -> None:
    """Registers the Skip button of the step `this`: the `cleared` answers are left empty (an
    earlier answer kept otherwise), then on to `target`."""

    @handlers.callback_query(this, FormCb.filter(F.action == FormAction.SKIP))
    async def skipped(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
    ) -> None:
        await query.answer()
        if cleared:
            await state.update_data(**cleared)
        if message := await leave_question(query):
            await go(target, message, state, session, user)


@handlers.message(Command("cancel"))
@handlers.message(F.text.lower().in_({"отмена", "cancel"}))
async def cancel_command(message: Message, state: FSMContext, user: User) -> None:
    had_flow = await state.get_state() is not None
    await state.clear()
    await show_menu(message, user, _("Cancelled.") if had_flow else _("Nothing to cancel."))


@handlers.callback_query(Nav.filter(F.action == NavAction.CANCEL))
async def cancel_button(query: CallbackQuery, state: FSMContext, user: User) -> None:
    await state.clear()
    await query.answer(_("Cancelled."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await show_menu(query.message, user, _("Cancelled."))


@handlers.callback_query(Nav.filter(F.action == NavAction.BACK))
async def back_button(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    step = current_step(await state.get_state())
    if step is None or step.back is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await go(step.back, query.message, state, session, user)


@handlers.message(Command("help"))
async def help_command(message: Message, user: User) -> None:
    await message.answer(help_text(user), reply_markup=menu.main_menu(user))
