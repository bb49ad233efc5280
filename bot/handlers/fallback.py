"""Last in line: anything no other handler took."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows import TEXT_MAX, current_step
from bot.handlers.common import show_menu
from bot.handlers.registry import Handlers
from db.models import User

handlers = Handlers("fallback")


@handlers.message(~StateFilter(None))
async def unexpected_in_flow(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    """A sticker where text was asked, text where a button was, a photo anywhere: say what is
    expected and ask the same question again; the data typed so far stays."""
    step = current_step(await state.get_state())
    if step is None:  # a state from an older version of the bot: start over cleanly
        await state.clear()
        await show_menu(message, user, _("Let's start over: choose a section."))
        return
    if step.expects_text and message.text and len(message.text) > TEXT_MAX:
        hint = _("That's too long: at most {limit} characters.").format(limit=TEXT_MAX)
    elif step.expects_text:
        hint = _("Please answer with a text message.")
    else:
        hint = _("Please choose one of the buttons below.")
    await message.answer(hint)
    await step.ask(message, state, session, user)


@handlers.message(F.text)
async def unknown_text(message: Message, user: User) -> None:
    await show_menu(message, user, _("I didn't get that. Choose a section below or see /help."))


@handlers.message()
async def unknown_message(message: Message, user: User) -> None:
    await show_menu(message, user, _("I can't use this here. Choose a section below."))


@handlers.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."), show_alert=False)
