"""Personal settings: language, time zone, the morning agenda; heads' and admins' digest."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import digest
from bot.commands import set_user_commands
from bot.flows import go, step
from bot.handlers.common import show_menu
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import SettingsAction, SettingsCb
from bot.keyboards.settings import (
    agenda_keyboard,
    digest_keyboard,
    language_keyboard,
    settings_keyboard,
    timezone_keyboard,
    utc_offset,
)
from bot.services import users
from bot.services.errors import AccessDenied
from bot.states import SettingsForm
from db.models import Role, User

handlers = Handlers("settings")


def settings_text(user: User) -> str:
    language = "Русский" if user.locale == "ru" else "English"
    text = _("<b>Settings</b>\nLanguage: {language}\nTime zone: {zone} ({offset})").format(
        language=language, zone=escape(user.timezone), offset=utc_offset(user.timezone)
    )
    agenda = user.agenda_time or _("off")
    text += "\n" + _("Morning agenda: {time}").format(time=agenda)
    if user.role in (Role.HEAD, Role.ADMIN):
        text += "\n" + _("Daily digest: {time}").format(time=user.digest_time or _("off"))
    return text


@handlers.message(Command("settings"))
async def open_settings(message: Message, state: FSMContext, user: User) -> None:
    await state.clear()
    await message.answer(settings_text(user), reply_markup=settings_keyboard(user))


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.MENU))
async def back_to_settings(query: CallbackQuery, user: User) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(settings_text(user), reply_markup=settings_keyboard(user))


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.LANGUAGE))
async def choose_language(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Choose the language:"), reply_markup=language_keyboard())


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.SET_LANGUAGE))
async def set_language(
    query: CallbackQuery,
    callback_data: SettingsCb,
    bot: Bot,
    session: AsyncSession,
    user: User,
    i18n: I18n,
) -> None:
    await users.set_locale(session, user, callback_data.value)
    with i18n.use_locale(user.locale):
        await query.answer()
        await set_user_commands(bot, user)
        if isinstance(query.message, Message):
            await query.message.edit_text(settings_text(user), reply_markup=settings_keyboard(user))
            await show_menu(query.message, user, _("Done: I'll speak English now."))


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.AGENDA))
async def choose_agenda(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _(
                "Every morning I send you today's tasks, overdue ones and clients you haven't "
                "contacted for a while (nothing on days with nothing to say). When?"
            ),
            reply_markup=agenda_keyboard(),
        )


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.SET_AGENDA))
async def set_agenda(
    query: CallbackQuery, callback_data: SettingsCb, session: AsyncSession, user: User
) -> None:
    await users.set_agenda_time(session, user, callback_data.value)
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await query.message.edit_text(settings_text(user), reply_markup=settings_keyboard(user))


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.DIGEST))
async def choose_digest(query: CallbackQuery, user: User) -> None:
    if user.role not in (Role.HEAD, Role.ADMIN):
        raise AccessDenied()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _(
                "Every morning I send you yesterday's figures, what needs your attention and "
                "the month against the plan; on Mondays, last week against the week before. "
                "When?"
            ),
            reply_markup=digest_keyboard(),
        )


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.SET_DIGEST))
async def set_digest(
    query: CallbackQuery, callback_data: SettingsCb, session: AsyncSession, user: User
) -> None:
    await digest.set_digest_time(session, user, callback_data.value)
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await query.message.edit_text(settings_text(user), reply_markup=settings_keyboard(user))


@handlers.callback_query(SettingsCb.filter(F.action == SettingsAction.TIMEZONE))
async def choose_timezone(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await go(SettingsForm.timezone, query.message, state, session, user)


@step(SettingsForm.timezone, expects_text=True)
async def ask_timezone(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _(
            "Your time zone is {zone}. Pick a city below, or send a time zone name "
            "like <code>Asia/Almaty</code> or <code>Europe/Berlin</code>."
        ).format(zone=escape(user.timezone)),
        reply_markup=timezone_keyboard(),
    )


@handlers.callback_query(
    SettingsForm.timezone, SettingsCb.filter(F.action == SettingsAction.SET_TIMEZONE)
)
async def timezone_picked(
    query: CallbackQuery,
    callback_data: SettingsCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await users.set_timezone(session, user, callback_data.value)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(settings_text(user), reply_markup=settings_keyboard(user))


@handlers.message(SettingsForm.timezone, F.text)
async def timezone_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await users.set_timezone(session, user, message.text or "")
    await state.clear()
    await message.answer(settings_text(user), reply_markup=settings_keyboard(user))
